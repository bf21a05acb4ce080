#!/usr/bin/env bash
# Schema-driven fuzzer (issue 11): schemathesis in GraphQL mode against a
# real `dxcp serve`, once per role (admin, owner, observer, ci), each on a
# fresh SQLite database, for FUZZ_SECONDS (default 60) per role. Fails on
# any 5xx, a dead or panicking server, a GraphQL error without
# extensions.code or with code INTERNAL, or an admin-only field value in a
# non-admin response. Prints `fuzz: N passed, M failed`. Used by .ci/run;
# run it locally the same way:
#
#   FUZZ_SECONDS=60 bash scripts/fuzz/run.sh [path/to/dxcp]
#
# Other knobs: FUZZ_ROLES=admin,owner (subset), FUZZ_SEED (default 11),
# FUZZ_WORK (folder for the request log and failures; default a temp dir,
# kept after the run). The binary defaults to the debug build `cargo test`
# leaves in $CARGO_TARGET_DIR (built here with the same profile if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib/dxcp-binary.sh
source "$root/scripts/lib/dxcp-binary.sh"

# The virtualenv is reused across runs; it is (re)installed when the pinned
# requirements change.
venv="${DXCP_FUZZ_VENV:-$HOME/.cache/dxcp-fuzz-venv}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

work="${FUZZ_WORK:-$(mktemp -d -t dxcp-fuzz-XXXXXX)}"
mkdir -p "$work"
export FUZZ_WORK="$work" PYTHONDONTWRITEBYTECODE=1
# fuzz.py stops its servers itself; this catches the rest (an interrupted run).
cleanup() {
  if [ -f "$work/server.pid" ]; then
    kill "$(cat "$work/server.pid")" 2>/dev/null || true
  fi
}
trap cleanup EXIT

"$venv/bin/python" "$here/fuzz.py" "$binary"
