#!/usr/bin/env bash
# The test command: formatting, lints, the check that no build compiles a dependency twice,
# every test (unit, moto-backed, the VPC lab), and the deployment checks (cfn-lint,
# sam validate --lint, sam build, cargo lambda build, the template drift test).
# Prints each step's and each test suite's time. Exit code: 0 all passed; otherwise the
# failing step's.
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

# The tests: every suite `cargo test --workspace` builds, several side by side (as many as
# the machine has cores), slowest first, each suite's time printed (scripts/run_suites.py).
# EGRESS_PROBE_SEQUENTIAL=1 runs plain `cargo test --workspace` instead (one suite after
# another), e.g. to rule out an interaction between suites.
run_tests() {
  if [ "${EGRESS_PROBE_SEQUENTIAL:-0}" = 1 ]; then
    cargo test --workspace
  else
    python3 scripts/run_suites.py
  fi
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings" cargo clippy --workspace --all-targets -- -D warnings
step "check-fresh: no dependency compiled twice" scripts/check-fresh.sh
step "tests" run_tests
step "deployment checks" scripts/check-template.sh

echo "== step times (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
printf '%s\n' "${times[@]}" >&2
