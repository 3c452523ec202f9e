#!/usr/bin/env bash
# Probe HTTPS-check overhead vs curl, same request, same run, interleaved (loopback only).
#
#   scripts/bench-https.sh            # 101 pairs
#   BENCH_N=200 scripts/bench-https.sh
#
# Built with the bench profile (release settings) except: no LTO, and the AWS SDK crates at
# opt-level 0 -- they are not on the measured path and an optimised build of aws-sdk-ec2
# takes a long time on small machines. Everything the check runs (tokio, rustls, ring,
# hyper, hickory, egress-probe) is optimised as in the release build.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
command -v curl >/dev/null || { echo "curl is needed for this benchmark" >&2; exit 2; }
exec cargo bench -p egress-probe --bench https_overhead \
  --config 'profile.bench.lto=false' \
  --config 'profile.bench.codegen-units=16' \
  --config 'profile.bench.package.aws-sdk-ec2.opt-level=0' \
  --config 'profile.bench.package.aws-sdk-lambda.opt-level=0' \
  --config 'profile.bench.package.aws-sdk-sts.opt-level=0' \
  --config 'profile.bench.package.aws-config.opt-level=0' \
  "$@"
