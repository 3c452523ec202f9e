# Sourced by the scripts (not run): one target directory and one list of the cargo builds
# the scripts make, so that every build shares one set of compiled dependencies (issue 15).
#
# CARGO_TARGET_DIR: when unset, `<repository>/target` (cargo's own default), exported as
# an absolute path so that cargo, cargo-lambda, `sam build` and the tests' own builds
# (tests/src/lab) all use the same directory. .ci/run sets /var/cache/egress-probe/target.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
case "$CARGO_TARGET_DIR" in
  /*) ;;
  *) CARGO_TARGET_DIR="$root/$CARGO_TARGET_DIR" ;;
esac
export CARGO_TARGET_DIR

# The builds, by the script that makes them. scripts/check-fresh.sh runs the first and
# then checks that none of the others compiles a dependency again. Keep them in step with
# the scripts (they use these arrays) and with the tests' own builds (tests/src/lab).
#
# The quick start's build (scripts/setup.sh): everything, tests and benchmarks included.
QUICKSTART_BUILD=(cargo build --workspace --all-targets)
# scripts/demo.sh: the lab binary and the probe.
DEMO_BUILD=(cargo build --workspace)
# scripts/test.sh: the test executables (scripts/run_suites.py builds and runs them).
TEST_BUILD=(cargo test --workspace --no-run)
# scripts/check-template.sh: the debug drift test.
TEMPLATE_TEST=(cargo test -p egress-probe --test template_policy)
# scripts/check-template.sh: the fleet roles' drift test (issue 14, stackset.yaml).
FLEET_TEMPLATE_TEST=(cargo test -p egress-probe-installer --test fleet_permissions)
# tests/src/lab/probe.rs and tests/src/lab/dataplane.rs (build_private_copy): the lab
# builds the probe and lab-services itself, one package at a time.
LAB_PROBE_BUILD=(cargo build -p egress-probe --bin egress-probe-lambda)
LAB_SERVICES_BUILD=(cargo build -p egress-probe-e2e --bin lab-services)
# tests/src/runtime_api.rs (workspace_binary): the moto-backed tests and the demo.
WORKSPACE_BINARIES_BUILD=(cargo build --workspace --bins --tests)
