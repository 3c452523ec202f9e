#!/usr/bin/env bash
# Builds the StackSet manager's Lambda package (stackset.yaml, docs/fleet.md): the
# manager's `bootstrap` and the probe's zip as `probe/bootstrap.zip`, in one zip. Prints
# its path. ARCH=x86_64 for x86 (default arm64).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
arch_flag=(--arm64)
[ "${ARCH:-arm64}" = x86_64 ] && arch_flag=()
cargo lambda build --release "${arch_flag[@]}" --bin egress-probe-lambda --output-format zip
(cd installer && cargo lambda build --release "${arch_flag[@]}" --bin egress-probe-manager)
work="$(mktemp -d "${TMPDIR:-/tmp}/egress-probe-manager.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/probe"
cp "$CARGO_TARGET_DIR/lambda/egress-probe-manager/bootstrap" "$work/bootstrap"
cp "$CARGO_TARGET_DIR/lambda/egress-probe-lambda/bootstrap.zip" "$work/probe/bootstrap.zip"
out="$CARGO_TARGET_DIR/lambda/egress-probe-manager/manager.zip"
rm -f "$out"
(cd "$work" && python3 -c 'import sys,zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name, mode in (("bootstrap", 0o755), ("probe/bootstrap.zip", 0o644)):
        info = zipfile.ZipInfo(name); info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, open(name, "rb").read())' "$out")
echo "$out"
