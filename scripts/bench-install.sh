#!/usr/bin/env bash
# Installer benchmark: install into 100 subnets against moto, one subnet at a time vs
# bounded concurrency, alternated in the same run. Prints each round, medians and ratio.
#   BENCH_ROUNDS=5 BENCH_SUBNETS=100 BENCH_CONCURRENCY=16 scripts/bench-install.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
# The dev profile: the time is spent in moto, and the dependencies are already built.
exec cargo bench --profile dev -p egress-probe-e2e --bench install_100 -- --bench
