#!/usr/bin/env bash
# Installer benchmark: install into 100 subnets against moto, one subnet at a time vs
# bounded concurrency, alternated in the same run. Prints each round, medians and ratio.
#   BENCH_ROUNDS=5 BENCH_SUBNETS=100 BENCH_CONCURRENCY=16 scripts/bench-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/egress-probe/target}"
# The dev profile: the time is spent in moto, and the dependencies are already built.
exec cargo bench --profile dev -p egress-probe-e2e --bench install_100 -- --bench
