#!/usr/bin/env bash
# The main job: the VPC lab builds a VPC (moto + network namespaces) whose application
# function spans two subnets in two AZs, one of them broken through the EC2 API;
# `egress-probe install` places the probes, `egress-probe run` invokes the real probe
# binaries and prints the per-AZ matrix and the diagnosis; everything is cleaned up.
# Then the same for centralised egress: a workload VPC behind a transit gateway with an
# egress VPC (Network Firewall endpoints, NAT gateways), one AZ without an attachment subnet.
# Needs root, iproute2 and nftables (scripts/setup.sh installs them).
# Reuses scripts/setup.sh's build (scripts/check-fresh.sh checks that it compiles nothing
# again).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
"${DEMO_BUILD[@]}" --quiet
bin="$CARGO_TARGET_DIR/debug/egress-probe-lab"
for case in demo demo-tgw; do
  set +e
  "$bin" "$case"
  rc=$?
  set -e
  case "$rc" in
    1) echo "$case: egress-probe run exited 1: it found the broken subnet, as intended" >&2 ;;
    0) echo "$case: egress-probe run found no failure, but one subnet is broken on purpose" >&2; exit 1 ;;
    *) exit "$rc" ;;
  esac
done
