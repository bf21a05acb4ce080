#!/usr/bin/env bash
# Runs the graphql-http conformance audit (audit.mjs) against a real `dxcp`
# server: a fresh SQLite database in a temp folder, a free loopback port,
# dev tokens. Fails on any audit error or warning. Used by .ci/run; run it
# locally the same way:
#
#   bash scripts/graphql-http-audit/run.sh [path/to/dxcp]
#
# The binary defaults to the debug build that `cargo test` leaves in
# $CARGO_TARGET_DIR (built here with the same dev profile if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib/dxcp-binary.sh
source "$root/scripts/lib/dxcp-binary.sh"

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
env DXCP_LISTEN="127.0.0.1:$port" \
  DXCP_DATABASE_URL="sqlite://$work/a.db?mode=rwc" \
  DXCP_AUTH=dev \
  DXCP_ENGINE=simulated \
  "$binary" serve >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "dxcp did not become ready on 127.0.0.1:$port; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

status=0
(cd "$here" && node audit.mjs "http://127.0.0.1:$port/graphql" dxcp-dev-admin) || status=$?
if [ "$status" -ne 0 ]; then
  echo "graphql-http audit failed (errors or warnings above); server log tail:" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$status"
