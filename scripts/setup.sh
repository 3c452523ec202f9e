#!/usr/bin/env bash
# Sets up everything egress-probe needs on a fresh Debian machine (idempotent):
# system packages (iproute2, nftables, curl, dig), the Python environment with moto, awscli,
# cfn-lint, the AWS SAM CLI, cargo-lambda and zig (.venv), the aarch64 Rust target where it
# can be installed, and the build of the whole workspace (tests and benchmarks included:
# the one build that scripts/demo.sh, scripts/test.sh and the deployment checks reuse).
# CARGO_TARGET_DIR: unset means <repository>/target (scripts/common.sh).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

need_pkgs=()
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v nft >/dev/null || need_pkgs+=(nftables)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v dig >/dev/null || need_pkgs+=(dnsutils)
command -v python3 >/dev/null || need_pkgs+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  say "installing system packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_pkgs[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install the Rust toolchain with rustup (https://rustup.rs) and re-run" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  say "creating the Python environment .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import moto' 2>/dev/null || [ requirements-dev.txt -nt .venv/.installed ]; then
  say "installing Python tools into .venv (moto, cfn-lint, aws-sam-cli, awscli, cargo-lambda, ziglang)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  touch .venv/.installed
fi

if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu; then
  say "trying to add the aarch64 Rust target (for --arm64 builds)"
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
    || echo "   aarch64 target not available here: Lambda builds will be x86_64" >&2
fi

say "building the workspace into $CARGO_TARGET_DIR"
"${QUICKSTART_BUILD[@]}" --quiet
say "setup done"
