#!/usr/bin/env bash
# Fleet benchmark (issue 14): `run` over 10 accounts x 3 Regions x 20 subnets (600 probes)
# against moto behind the fault front adding 50 ms per API call, serial vs concurrent,
# alternated in the same run. Prints each round, medians and ratio.
#   BENCH_ROUNDS=3 BENCH_ACCOUNTS=10 BENCH_SUBNETS=20 BENCH_LATENCY_MS=50 scripts/bench-fleet.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
exec cargo bench --profile dev -p egress-probe-e2e --bench fleet_run -- --bench
