#!/usr/bin/env bash
# Checks the two deployment paths of egress-probe (issue 6), offline:
#   1. cfn-lint template.yaml                      (no errors)
#   2. sam validate --lint                          (SAM transform + cfn-lint rules)
#   3. sam build                                    (rust-cargolambda build method, real SAM CLI)
#   4. cargo lambda build --release [--arm64]       (+ zip), prints bootstrap/zip sizes
#  4b. scripts/package-manager.sh                   (the StackSet manager's zip, layout checked)
#   5. cargo test --test template_policy            (IAM actions == permissions.rs, env names,
#                                                    dashboard JSON, cargo-lambda metadata)
# and the fleet templates (issue 14): cfn-lint and sam validate --lint on stackset.yaml and
# fleet-central.yaml, and the fleet roles' drift test (installer/tests/fleet_permissions.rs).
# arm64 is built when the aarch64-unknown-linux-gnu standard library is installed (the
# script tries `rustup target add` once); otherwise x86_64, and it says so.
# Tools come from .venv/bin (pip install aws-sam-cli cfn-lint cargo-lambda ziglang).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$root"

venv_bin="$root/.venv/bin"
for tool in cfn-lint sam cargo-lambda; do
    if [[ ! -x "$venv_bin/$tool" ]]; then
        echo "check-template: $venv_bin/$tool missing (pip install aws-sam-cli cfn-lint cargo-lambda ziglang)" >&2
        exit 1
    fi
done
export PATH="$venv_bin:$PATH"
export SAM_CLI_TELEMETRY=0

step() { printf '\n== %s\n' "$*"; }

# --- architecture ---------------------------------------------------------------------
aarch64_installed() { rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; }
if ! aarch64_installed; then
    step "aarch64 std not installed: trying rustup target add aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu || true
fi
if aarch64_installed; then
    arch=arm64
    cargo_lambda_arch=(--arm64)
    echo "architecture: arm64 (aarch64-unknown-linux-gnu std installed)"
else
    arch=x86_64
    cargo_lambda_arch=()
    echo "architecture: x86_64 FALLBACK - the aarch64 standard library could not be installed here;"
    echo "              arm64 (the template default) is not build-checked on this machine"
fi

# --- 1. cfn-lint ----------------------------------------------------------------------
step "cfn-lint template.yaml"
cfn-lint template.yaml
echo "cfn-lint: no errors"

# --- 2. sam validate --lint -----------------------------------------------------------
step "sam validate --lint"
sam validate --lint --template-file template.yaml

# --- 2b. the fleet templates (issue 14) -----------------------------------------------
step "cfn-lint + sam validate --lint: stackset.yaml, fleet-central.yaml"
cfn-lint stackset.yaml fleet-central.yaml
sam validate --lint --template-file stackset.yaml
sam validate --lint --template-file fleet-central.yaml
step "fleet roles == the code's calls (installer/tests/fleet_permissions.rs)"
"${FLEET_TEMPLATE_TEST[@]}"

# --- 3. sam build ---------------------------------------------------------------------
step "sam build (Architecture=$arch)"
work="$(mktemp -d "${TMPDIR:-/tmp}/egress-probe-sam.XXXXXX")"
trap 'rm -rf "$work"' EXIT
sam build --beta-features --template-file template.yaml \
    --build-dir "$work/build" --cache-dir "$work/cache" \
    --parameter-overrides "Architecture=$arch"
sam_bootstrap="$work/build/ProbeFunction/bootstrap"
[[ -x "$sam_bootstrap" ]] || { echo "sam build produced no $sam_bootstrap" >&2; exit 1; }
file "$sam_bootstrap" 2>/dev/null || true

# --- 4. cargo lambda build ------------------------------------------------------------
step "cargo lambda build --release ${cargo_lambda_arch[*]} (binary, then zip)"
cd "$root/probe"
cargo lambda build --release "${cargo_lambda_arch[@]}" --bin egress-probe-lambda
bootstrap="$CARGO_TARGET_DIR/lambda/egress-probe-lambda/bootstrap"
[[ -x "$bootstrap" ]] || { echo "cargo lambda build produced no $bootstrap" >&2; exit 1; }
bootstrap_bytes=$(stat -c %s "$bootstrap")
# Built once: SAM's build (step 3) ran this very command in the same target directory, so
# this one only reuses it. Different bytes mean the two builds diverged (other flags,
# features or target directory) and the release build ran twice.
if ! cmp -s "$sam_bootstrap" "$bootstrap"; then
    echo "check-template: sam build and cargo lambda build produced different bootstraps:" >&2
    echo "  $sam_bootstrap" >&2
    echo "  $bootstrap" >&2
    exit 1
fi
echo "cargo lambda build reused SAM's release build (identical bootstrap)"
cargo lambda build --release "${cargo_lambda_arch[@]}" --bin egress-probe-lambda --output-format zip
zip="$CARGO_TARGET_DIR/lambda/egress-probe-lambda/bootstrap.zip"
[[ -f "$zip" ]] || { echo "cargo lambda build produced no $zip" >&2; exit 1; }
zip_bytes=$(stat -c %s "$zip")
cd "$root"

# --- 4b. the StackSet manager's package (issue 14) ---------------------------------------
# The probe zip above is reused (same command, same target directory); the manager binary
# is built once, packaged with it and the package's layout checked (bootstrap 0755 ELF for
# the architecture, probe/bootstrap.zip).
step "scripts/package-manager.sh (ARCH=$arch): build, package, check the layout"
manager_zip="$(ARCH="$arch" scripts/package-manager.sh)"
manager_zip_bytes=$(stat -c %s "$manager_zip")

# --- 5. drift tests -------------------------------------------------------------------
step "${TEMPLATE_TEST[*]}"
"${TEMPLATE_TEST[@]}"

step "summary"
printf 'architecture         %s\n' "$arch"
printf 'bootstrap (stripped) %s bytes (%s KiB)  %s\n' "$bootstrap_bytes" "$((bootstrap_bytes / 1024))" "$bootstrap"
printf 'bootstrap.zip        %s bytes (%s KiB)  %s\n' "$zip_bytes" "$((zip_bytes / 1024))" "$zip"
printf 'sam build bootstrap  %s bytes\n' "$(stat -c %s "$sam_bootstrap")"
printf 'manager.zip          %s bytes (%s KiB)  %s\n' "$manager_zip_bytes" "$((manager_zip_bytes / 1024))" "$manager_zip"
echo "check-template: OK"
