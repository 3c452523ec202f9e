#!/usr/bin/env bash
# The test command: formatting, lints, every test (unit, moto-backed, the VPC lab), and the
# deployment checks (cfn-lint, sam validate --lint, sam build, cargo lambda build).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test --workspace" >&2
cargo test --workspace
if [ -x scripts/check-template.sh ]; then
  echo "== deployment checks" >&2
  scripts/check-template.sh
fi
