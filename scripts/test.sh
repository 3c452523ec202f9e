#!/usr/bin/env bash
# The test command: formatting, lints, the check that no build compiles a dependency twice,
# every test (unit, moto-backed, the VPC lab), and the deployment checks (cfn-lint,
# sam validate --lint, sam build, cargo lambda build, the template drift test).
# Prints each step's time at the end (and each test suite's time with EGRESS_PROBE_NEXTEST=1). Exit code: 0 all passed; otherwise the failing step's.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH"

times=()
step() {
  local name="$1"
  shift
  echo "== $name" >&2
  local start=$SECONDS
  "$@"
  times+=("$(printf '%6d s  %s' $((SECONDS - start)) "$name")")
}

# The tests: `cargo test --workspace`, one suite after another. With EGRESS_PROBE_NEXTEST=1
# (and cargo-nextest installed) the suites run side by side, as many tests at a time as
# there are cores, with every test's and each suite's time (.config/nextest.toml). Not the
# default yet: under nextest the lab tests s01 and s10 ran past 8 minutes instead of
# finishing (each test in its own process; cause not found yet).
run_tests() {
  if [ "${EGRESS_PROBE_NEXTEST:-0}" = 1 ] && cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run documentation tests: cargo test does, first.
    cargo test --workspace --doc
    cargo nextest run --workspace
    suite_times "$CARGO_TARGET_DIR/nextest/default/junit.xml"
  else
    cargo test --workspace
  fi
}

# Each suite's time from nextest's JUnit report (one <testsuite> per test binary): wall time
# from its first test's start to its last test's end, and the sum of its tests' times.
suite_times() {
  [ -f "$1" ] || return 0
  echo "== test suites, slowest first (wall time first test start -> last test end; sum of test times)" >&2
  python3 - "$1" >&2 <<'PY' || true
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
rows = []
for suite in ET.parse(sys.argv[1]).getroot().iter("testsuite"):
    cases = list(suite.iter("testcase"))
    total = sum(float(c.get("time", 0)) for c in cases)
    spans = []
    for c in cases:
        ts = c.get("timestamp")
        if ts:
            start = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            spans.append((start, start + float(c.get("time", 0))))
    wall = max(e for _, e in spans) - min(s for s, _ in spans) if spans else total
    rows.append((wall, total, len(cases), suite.get("name")))
for wall, total, n, name in sorted(rows, reverse=True):
    print(f"{wall:8.1f} s wall {total:8.1f} s tests {n:4d}  {name}")
PY
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings" cargo clippy --workspace --all-targets -- -D warnings
step "check-fresh: no dependency compiled twice" scripts/check-fresh.sh
step "tests" run_tests
step "deployment checks" scripts/check-template.sh

echo "== step times (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
printf '%s\n' "${times[@]}" >&2
