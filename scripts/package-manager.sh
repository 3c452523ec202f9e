#!/usr/bin/env bash
# Builds the StackSet manager's Lambda package (stackset.yaml, docs/fleet.md): the
# manager's `bootstrap` and the probe's zip as `probe/bootstrap.zip`, in one zip, then
# checks the package as Lambda will read it (below). Prints its path. ARCH=x86_64 for x86
# (default arm64). The probe's release build is the one scripts/check-template.sh (sam
# build, cargo lambda build) already made in the same target directory: cargo reuses it.
#
#   scripts/package-manager.sh                 # build, package, check
#   scripts/package-manager.sh --check ZIP     # check a package only
#
# The check: exactly two entries, `bootstrap` (a regular file, mode 755, an ELF executable
# for the architecture) and `probe/bootstrap.zip` (a zip whose one `bootstrap` is an ELF for
# the same architecture; the manager reads it from $LAMBDA_TASK_ROOT/probe/bootstrap.zip,
# installer/src/manager.rs). Exit 1 when the package is wrong, naming what.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
arch="${ARCH:-arm64}"

check() {
  python3 - "$1" "$arch" <<'PY'
import io, stat, sys, zipfile
path, arch = sys.argv[1], sys.argv[2]
machine = {"arm64": 0xB7, "x86_64": 0x3E}[arch]

def elf(data, what):
    if data[:4] != b"\x7fELF":
        sys.exit(f"package-manager: {what} is not an ELF executable")
    if int.from_bytes(data[18:20], "little") != machine:
        sys.exit(f"package-manager: {what} is not built for {arch}")

with zipfile.ZipFile(path) as z:
    names = sorted(z.namelist())
    if names != ["bootstrap", "probe/bootstrap.zip"]:
        sys.exit(f"package-manager: {path} holds {names}, want bootstrap and probe/bootstrap.zip")
    info = z.getinfo("bootstrap")
    mode = info.external_attr >> 16
    if not stat.S_ISREG(mode) or stat.S_IMODE(mode) != 0o755:
        sys.exit(f"package-manager: bootstrap has mode {oct(mode)}, want a regular file 0755")
    elf(z.read("bootstrap"), "bootstrap")
    with zipfile.ZipFile(io.BytesIO(z.read("probe/bootstrap.zip"))) as probe:
        if probe.namelist() != ["bootstrap"]:
            sys.exit(f"package-manager: probe/bootstrap.zip holds {probe.namelist()}, want bootstrap")
        elf(probe.read("bootstrap"), "probe/bootstrap.zip's bootstrap")
    print(f"package-manager: {path}: bootstrap {info.file_size} bytes, "
          f"probe/bootstrap.zip {z.getinfo('probe/bootstrap.zip').file_size} bytes, {arch}",
          file=sys.stderr)
PY
}

if [ "${1:-}" = --check ]; then
  [ "$#" -eq 2 ] || { echo "usage: scripts/package-manager.sh [--check ZIP]" >&2; exit 2; }
  check "$2"
  exit
fi

arch_flag=(--arm64)
[ "$arch" = x86_64 ] && arch_flag=()
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
check "$out"
echo "$out"
