#!/usr/bin/env bash
# Fails when a build the scripts make compiles a dependency that the quick start's build
# (scripts/setup.sh) already compiled: the same crate built twice with two feature sets,
# which once doubled the quick start (issue 15). Run by scripts/test.sh.
#
# First runs the quick start's build (a no-op right after scripts/setup.sh), then every
# other build in scripts/common.sh with `--message-format json`, and lists each artifact
# that cargo reports as `"fresh": false` for a package outside this workspace.
# Workspace crates may be rebuilt (a test build compiles them as tests); dependencies not.
#
#   scripts/check-fresh.sh                      # the builds in scripts/common.sh
#   scripts/check-fresh.sh -- cargo build …     # and this build too
#
# Exit codes: 0 every build reused the dependencies; 1 a build recompiled one (named);
# 2 a build failed, bad arguments, or python3 is missing.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

extra=()
if [ "$#" -gt 0 ]; then
  if [ "$1" != "--" ] || [ "$#" -lt 2 ]; then
    echo "usage: scripts/check-fresh.sh [-- cargo build …]" >&2
    exit 2
  fi
  shift
  extra=("$@")
fi

command -v python3 >/dev/null || { echo "check-fresh: python3 is needed" >&2; exit 2; }

# Reads cargo's JSON messages; prints "<package> <target kinds>" for each artifact of a
# package that is not a workspace member and was not fresh; the first line is the count
# of artifacts seen.
stale_dependencies() {
  python3 -c '
import json, sys
members = set(sys.argv[1:])
seen, stale = 0, []
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-artifact":
        continue
    seen += 1
    if msg["package_id"] in members or msg.get("fresh", True):
        continue
    name = msg["target"]["name"]
    pkg = msg["package_id"]
    # "registry+https://…#name@1.2.3" (cargo ≥ 1.77) or "name 1.2.3 (source)".
    label = pkg.rsplit("#", 1)[-1] if "#" in pkg else " ".join(pkg.split()[:2])
    kinds = "+".join(msg["target"]["kind"])
    stale.append(f"{label} ({name}, {kinds})")
print(seen)
for s in stale:
    print(s)
' "${members[@]}"
}

mapfile -t members < <(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print("\n".join(p["id"] for p in json.load(sys.stdin)["packages"]))')

echo "check-fresh: the quick start's build: ${QUICKSTART_BUILD[*]}" >&2
"${QUICKSTART_BUILD[@]}" --quiet

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
failed=0
check() {
  local what="$1"
  shift
  local out seen stale
  if ! out="$("$@" --message-format json 2>"$errors" | stale_dependencies)"; then
    echo "check-fresh: FAILED to run: $*" >&2
    cat "$errors" >&2
    exit 2
  fi
  seen="$(head -n1 <<<"$out")"
  stale="$(tail -n +2 <<<"$out")"
  if [ -n "$stale" ]; then
    echo "check-fresh: FAIL  $what: \`$*\` compiled $(wc -l <<<"$stale") dependencies again:" >&2
    sed 's/^/    /' <<<"$stale" >&2
    failed=1
  else
    echo "check-fresh: ok    $what: \`$*\` ($seen artifacts, no dependency rebuilt)" >&2
  fi
}

check "scripts/demo.sh" "${DEMO_BUILD[@]}"
check "scripts/test.sh" "${TEST_BUILD[@]}"
check "scripts/check-template.sh" "${TEMPLATE_TEST[@]}" --no-run
check "scripts/check-template.sh (fleet)" "${FLEET_TEMPLATE_TEST[@]}" --no-run
check "the lab's probe build" "${LAB_PROBE_BUILD[@]}"
check "the lab's lab-services build" "${LAB_SERVICES_BUILD[@]}"
check "the tests' workspace binaries" "${WORKSPACE_BINARIES_BUILD[@]}"
if [ "${#extra[@]}" -gt 0 ]; then
  check "the build given" "${extra[@]}"
fi

if [ "$failed" != 0 ]; then
  cat >&2 <<'EOF'
check-fresh: a build resolved other features for these dependencies than the quick
start's build, so they are compiled twice. Add the missing features to
workspace-hack/Cargo.toml (see its comment; `cargo tree -e features -i <package>`
shows who asks for which).
EOF
  exit 1
fi
echo "check-fresh: every build reuses the quick start's dependencies" >&2
