#!/usr/bin/env bash
# DXCP load benchmark (issue "Speed at scale"; README "Performance").
#
# For each database (SQLite, PostgreSQL): seed one database per history
# size with `dxcp seed-history`, start the release `dxcp serve` on each
# (one port per size) and time `/readyz`, then drive every case with wrk
# at each concurrency (warm-up, then a fixed measured run), alternating
# between the sizes case by case so that a ratio between sizes is taken
# minutes, not a quarter of an hour, apart on a shared machine. Records
# requests/s, p50 and p99; each server's peak RSS (VmHWM) is read at the
# end of the run.
# Prints one table per database and writes it, with the raw wrk output, to
# bench/results/<date>-<db>.md. Loads only 127.0.0.1.
#
# Knobs (environment):
#   BENCH_DATABASES   "sqlite postgres"       which databases
#   BENCH_SIZES       "10000 1000000"         history sizes (records)
#   BENCH_CONCURRENCY "1 16 64"               wrk connections
#   BENCH_CASES       all cases, see CASES below
#   BENCH_DURATION    10                      measured seconds per run
#   BENCH_WARMUP      2                       warm-up seconds per run
#   BENCH_PG_URL      postgres://postgres@127.0.0.1:5432
#   BENCH_PORT        18480                   first port (one per size)
#   BENCH_CALLERS     64                      callers per role (tokens)
#   BENCH_SEED        1                       seed-history --seed
#   BENCH_CACHE       $HOME/.cache/dxcp-bench  seeded SQLite copies
#   BENCH_SIMULATED_MS 20                     DXCP_SIMULATED_DURATION_MS
#   BENCH_RESULTS     bench/results           where the .md files go
#   BENCH_BIN         (build)                 a prebuilt dxcp to measure instead
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
DATABASES=${BENCH_DATABASES:-"sqlite postgres"}
SIZES=${BENCH_SIZES:-"10000 1000000"}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"}
ALL_CASES="typename history history_owner history_by_service deployment running_state audit validate deploy"
# Hostile documents (issue "Hostile input"): each must be refused with
# INVALID_REQUEST; their rate next to typename's is the cost of refusing.
# Not in the default set: BENCH_CASES="typename $REFUSAL_CASES".
REFUSAL_CASES="refuse_nested refuse_fragments refuse_spread_chain refuse_most_tokens"
CASES=${BENCH_CASES:-$ALL_CASES}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18480}
CALLERS=${BENCH_CALLERS:-64}
SEED=${BENCH_SEED:-1}
CACHE=${BENCH_CACHE:-$HOME/.cache/dxcp-bench}
SIMULATED_MS=${BENCH_SIMULATED_MS:-20}
RESULTS=${BENCH_RESULTS:-$BENCH/results}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/dxcp-target}
BIN=${BENCH_BIN:-$CARGO_TARGET_DIR/release/dxcp}
declare -A SERVER_PIDS=() URLS=() DB_URLS=() READY=() DEPLOYMENT_IDS=() CASE_ARGS=()
DATE=$(date -u +%Y-%m-%d)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || die "wrk is missing; install it (apt-get install wrk) or run as root"
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || die "curl is required"

if [ -z "${BENCH_BIN:-}" ]; then
  log "cargo build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build --release --quiet)
fi
[ -x "$BIN" ] || die "no dxcp binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dxcp-bench.XXXXXX")
PG_DBS=""
cleanup() {
  stop_servers
  drop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- callers
# CALLERS callers per role, so the per-caller rate limit (at most 100000
# requests a minute each) never caps a measurement: observers read
# history, admins read the audit log, owners (members of every group)
# validate and deploy.
TOKENS=""
MEMBERS='"owner"'
for i in $(seq 1 "$CALLERS"); do
  TOKENS="$TOKENS,bench-observer-$i=observer-$i:OBSERVER,bench-admin-$i=admin-$i:PLATFORM_ADMIN"
  TOKENS="$TOKENS,bench-owner-$i=owner-$i:DELIVERY_OWNER"
  MEMBERS="$MEMBERS, \"owner-$i\""
done
TOKENS=${TOKENS#,}

# The demo catalogue with guardrails that never refuse a benchmark deploy.
CATALOG="$WORK/catalog.toml"
sed -e "s/^members = .*/members = [$MEMBERS]/" \
    -e 's/^guardrails = .*/guardrails = { max_concurrent_deployments = 1000000, daily_deploy_quota = 100000000, daily_rollback_quota = 100000000 }/' \
    "$ROOT/config/demo-catalog.toml" >"$CATALOG"

# Settings are first-start values: the seeding run writes them.
export DXCP_READ_RPM=100000 DXCP_MUTATE_RPM=100000 DXCP_CATALOG="$CATALOG"
export DXCP_DEV_TOKENS="$TOKENS" DXCP_SIMULATED_DURATION_MS="$SIMULATED_MS"
export PGOPTIONS="-c client_min_messages=warning"
export DXCP_ENGINE=simulated DXCP_AUTH=dev
unset DXCP_DATABASE_URL DXCP_KILL_SWITCH OTEL_EXPORTER_OTLP_ENDPOINT

# What a seeded history depends on: cached copies are keyed by it. Newer
# migrations are applied to the cached copy before it is used.
seed_key() {
  cat "$ROOT/src/seed.rs" "$CATALOG" | sha256sum | cut -c1-12
}

# --------------------------------------------------------------- server
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  SERVER_PIDS=()
}

# start_server SIZE LOG -> serves DB_URLS[SIZE] at URLS[SIZE]; sets
# SERVER_PIDS[SIZE] and READY[SIZE] (ms from spawn to /readyz 200)
start_server() {
  local size=$1 started ended pid
  started=$(date +%s%N)
  DXCP_LISTEN="${URLS[$size]#http://}" DXCP_DATABASE_URL="${DB_URLS[$size]}" "$BIN" serve >"$2" 2>&1 &
  pid=$!
  SERVER_PIDS[$size]=$pid
  for _ in $(seq 1 3000); do
    if curl -fs -o /dev/null "${URLS[$size]}/readyz"; then
      ended=$(date +%s%N)
      READY[$size]=$(((ended - started) / 1000000))
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$2" >&2; die "dxcp serve exited"; }
    sleep 0.01
  done
  die "dxcp serve was not ready within 30 s"
}

# gql URL TOKEN BODY -> the response body (fails on a non-200)
gql() {
  curl -fsS -H 'Content-Type: application/json' -H 'Accept: application/json' \
    -H "Authorization: Bearer $2" --data "$3" "$1/graphql"
}

# --------------------------------------------------------------- seeding
# prepare_sqlite SIZE -> sets DB_URLS[SIZE] to a fresh working copy of a cached seed
prepare_sqlite() {
  local size=$1 cached
  mkdir -p "$CACHE"
  cached="$CACHE/sqlite-$size-seed$SEED-$(seed_key).db"
  if [ ! -f "$cached" ]; then
    log "seeding SQLite with $size records (cached as $cached)"
    rm -f "$cached.tmp" "$cached.tmp-wal" "$cached.tmp-shm"
    DXCP_DATABASE_URL="sqlite://$cached.tmp?mode=rwc" "$BIN" seed-history --records "$size" --seed "$SEED" \
      >"$WORK/seed.log" 2>&1 || { tail -20 "$WORK/seed.log" >&2; die "seeding failed"; }
    # Fold the WAL into the file when the sqlite3 shell is at hand;
    # otherwise the WAL is copied along with it.
    if command -v sqlite3 >/dev/null; then sqlite3 "$cached.tmp" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; fi
    if [ -s "$cached.tmp-wal" ]; then mv "$cached.tmp-wal" "$cached-wal"; else rm -f "$cached.tmp-wal"; fi
    rm -f "$cached.tmp-shm"
    mv "$cached.tmp" "$cached"
  fi
  # Bring the cached copy to this binary's schema (a no-op when current).
  DXCP_DATABASE_URL="sqlite://$cached?mode=rw" "$BIN" migrate >"$WORK/migrate.log" 2>&1 ||
    { tail -20 "$WORK/migrate.log" >&2; die "dxcp migrate failed on $cached"; }
  if command -v sqlite3 >/dev/null; then sqlite3 "$cached" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; fi
  if [ ! -s "$cached-wal" ]; then rm -f "$cached-wal"; fi
  rm -f "$cached-shm"
  rm -f "$WORK/dxcp-$size.db"*
  cp "$cached" "$WORK/dxcp-$size.db"
  if [ -f "$cached-wal" ]; then cp "$cached-wal" "$WORK/dxcp-$size.db-wal"; fi
  DB_URLS[$size]="sqlite://$WORK/dxcp-$size.db?mode=rwc"
}

# prepare_postgres SIZE -> sets DB_URLS[SIZE] to a freshly seeded database
prepare_postgres() {
  local size=$1 name="dxcp_bench_$1"
  psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
  PG_DBS="$PG_DBS $name"
  DB_URLS[$size]="$PG_URL/$name"
  log "seeding PostgreSQL $name with $size records"
  DXCP_DATABASE_URL="${DB_URLS[$size]}" "$BIN" seed-history --records "$size" --seed "$SEED" >"$WORK/seed.log" 2>&1 ||
    { tail -20 "$WORK/seed.log" >&2; die "seeding failed"; }
  # What autovacuum does to a loaded table soon after: statistics for the planner.
  psql -q "${DB_URLS[$size]}" -c "VACUUM ANALYZE" >/dev/null
}

drop_postgres() {
  local name
  for name in $PG_DBS; do
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1 || true
  done
  PG_DBS=""
}

# ------------------------------------------------------------- the cases
# case_setup CASE SIZE -> sets CASE_ARGS[SIZE] (the wrk script and its
# arguments) after one checked request, so a measurement never counts
# error answers.
case_setup() {
  local name=$1 size=$2 url=${URLS[$2]} file body token answer
  case $name in
    deploy)
      CASE_ARGS[$size]="$BENCH/deploy.lua bench$(date +%s%N) bench-owner $CALLERS 1.2.0"
      answer=$(gql "$url" bench-owner-1 '{"query":"mutation { deploy(intent: {service: \"ledger\", environment: \"sandbox\", version: \"1.2.0\", changeSummary: \"benchmark check\"}, idempotencyKey: \"check-'"$(date +%s%N)"'\") { id state } }"}') ||
        die "case $name: the check request failed"
      ;;
    *)
      file="$BENCH/requests/$name.json"
      token=bench-observer
      case $name in audit) token=bench-admin ;; validate | history_owner) token=bench-owner ;; esac
      if [ "$name" = deployment ]; then
        sed "s/@DEPLOYMENT_ID@/${DEPLOYMENT_IDS[$size]}/" "$file" >"$WORK/deployment-$size.json"
        file="$WORK/deployment-$size.json"
      fi
      body=$(cat "$file")
      CASE_ARGS[$size]="$BENCH/post.lua $file $token $CALLERS"
      answer=$(gql "$url" "$token-1" "$body") || die "case $name: the check request failed"
      ;;
  esac
  case $name:$answer in
    refuse_*:*'"INVALID_REQUEST"'*) ;;
    refuse_*) die "case $name must be refused with INVALID_REQUEST: $answer" ;;
    *:*'"errors"'*) die "case $name answers with errors: $answer" ;;
  esac
}

# run_case DB SIZE CASE CONC -> appends a TSV row and the raw output
run_case() {
  local db=$1 size=$2 name=$3 conc=$4 threads=2 out line script
  local -a args
  read -r -a args <<<"${CASE_ARGS[$size]}"
  script=${args[0]}
  args=("${args[@]:1}")
  [ "$conc" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$conc" -d"${WARMUP}s" --timeout 10s -s "$script" "${URLS[$size]}/graphql" -- "${args[@]}" >/dev/null
  out=$(wrk -t"$threads" -c"$conc" -d"${DURATION}s" --timeout 10s --latency -s "$script" "${URLS[$size]}/graphql" -- "${args[@]}")
  {
    printf '\n#### %s, %s records, %s, c=%s\n\n```\n' "$db" "$size" "$name" "$conc"
    printf '%s\n' "$out"
    printf '```\n'
  } >>"$RAW"
  line=$(printf '%s\n' "$out" | grep '^BENCH ' | tail -1)
  [ -n "$line" ] || die "no result from wrk for $name c=$conc"
  local rps p50 p99 non2xx sock gqlerr
  rps=$(field rps "$line"); p50=$(field p50_us "$line"); p99=$(field p99_us "$line")
  non2xx=$(field non2xx "$line"); sock=$(field socket_errors "$line"); gqlerr=$(field gql_errors "$line")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$name" "$conc" "$rps" "$p50" "$p99" \
    "$((non2xx + sock + gqlerr))" "$db" >>"$TSV"
  log "$(printf '%-8s %8s %-18s c=%-3s %9s req/s  p50 %6.2f ms  p99 %6.2f ms  errors %s' "$db" "$size" "$name" "$conc" \
    "$rps" "$(ms "$p50")" "$(ms "$p99")" "$((non2xx + sock + gqlerr))")"
}

field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

# -------------------------------------------------------------- report
# render DB -> the markdown table for one database from the TSV rows
render() {
  awk -F'\t' -v sizes="$SIZES" -v db="$1" '
    function fmt_rps(v) { return v == "" ? "-" : sprintf("%.0f", v) }
    function fmt_ms(v) { return v == "" ? "-" : sprintf("%.2f", v / 1000) }
    function label(n) { return n >= 1000000 ? (n / 1000000) "M" : (n >= 1000 ? (n / 1000) "k" : n) }
    FILENAME == ARGV[1] {
      if ($8 != db) next
      key = $2 SUBSEP $3
      if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      rps[$1, key] = $4; p50[$1, key] = $5; p99[$1, key] = $6; err[$1, key] = $7
      next
    }
    FILENAME == ARGV[2] {
      if ($1 != db) next
      ready[$2] = $3; rss[$2] = $4
      next
    }
    END {
      count = split(sizes, size, " ")
      header = "| case | c |"; rule = "|---|--:|"
      for (i = 1; i <= count; i++) {
        s = label(size[i])
        header = header " " s " req/s | " s " p50 ms | " s " p99 ms |"
        rule = rule "--:|--:|--:|"
      }
      if (count > 1) { header = header " " label(size[count]) "/" label(size[1]) " |"; rule = rule "--:|" }
      print header; print rule
      for (k = 1; k <= n; k++) {
        key = order[k]; split(key, part, SUBSEP)
        row = "| " part[1] " | " part[2] " |"
        for (i = 1; i <= count; i++) {
          e = err[size[i], key]
          row = row " " fmt_rps(rps[size[i], key]) (e > 0 ? " (" e " err)" : "") " | " \
            fmt_ms(p50[size[i], key]) " | " fmt_ms(p99[size[i], key]) " |"
        }
        if (count > 1) {
          a = rps[size[1], key]; b = rps[size[count], key]
          row = row " " ((a > 0 && b != "") ? sprintf("%.2f", b / a) : "-") " |"
        }
        print row
      }
    }' "$TSV" "$SERVERS"
}

# targets DB -> the issue's targets at the largest size, from this run
targets() {
  awk -F'\t' -v db="$1" -v sizes="$SIZES" '
    FILENAME == ARGV[1] { if ($8 == db) { rps[$1, $2, $3] = $4; p99[$1, $2, $3] = $6; ran[$1, $2, $3] = 1; conc[$3] = 1 } ; next }
    FILENAME == ARGV[2] { if ($1 == db) { ready[$2] = $3; rss[$2] = $4 } ; next }
    function share(name, t) { return ((big, name, 16) in ran) && t > 0 ? sprintf("%.0f%%", 100 * rps[big, name, 16] / t) : "-" }
    function label(n) { return n >= 1000000 ? (n / 1000000) "M" : (n >= 1000 ? (n / 1000) "k" : n) }
    END {
      count = split(sizes, size, " "); big = size[count]; small = size[1]
      t = ((big, "typename", 16) in ran) ? rps[big, "typename", 16] : 0
      if (t > 0) {
        printf "- %s records, c=16, share of the `{ __typename }` rate: history %s (target 30%%), runningState %s (50%%), deploy %s (5%%)\n", \
          label(big), share("history", t), share("running_state", t), share("deploy", t)
      }
      if (count > 1) {
        line = ""
        split("history deployment running_state audit", names, " ")
        for (j = 1; j <= 4; j++) {
          for (cc = 1; cc <= 1024; cc++) {
            if (!(cc in conc) || !((small, names[j], cc) in ran) || !((big, names[j], cc) in ran)) continue
            a = rps[small, names[j], cc]; b = rps[big, names[j], cc]
            line = line (a > 0 ? sprintf(" %s c=%d %.2f;", names[j], cc, b / a) : sprintf(" %s c=%d -;", names[j], cc))
          }
        }
        printf "- rate at %s / rate at %s (target >= 0.8):%s\n", label(big), label(small), line
      }
      line = ""
      split("typename history history_owner history_by_service deployment running_state audit validate", reads, " ")
      for (j = 1; j <= 8; j++) {
        if (!((big, reads[j], 64) in ran)) continue
        if (rps[big, reads[j], 64] == 0) line = line " " reads[j] " (no answers);"
        else if (p99[big, reads[j], 64] >= 20000) line = line sprintf(" %s %.1f ms;", reads[j], p99[big, reads[j], 64] / 1000)
      }
      printf "- reads with p99 >= 20 ms at c=64, %s records (target: none):%s\n", label(big), line == "" ? " none" : line
      printf "- `dxcp serve` ready after %s ms on the existing %s-record database (target < 1000 ms)\n", ready[big], label(big)
      for (i = 1; i <= count; i++) printf "- server peak RSS (VmHWM) at %s records: %.1f MB (target < 150 MB)\n", label(size[i]), rss[size[i]] / 1024
    }' "$TSV" "$SERVERS"
}

# ----------------------------------------------------------------- run
mkdir -p "$RESULTS"
TSV="$WORK/results.tsv"
SERVERS="$WORK/servers.tsv"
: >"$TSV"
: >"$SERVERS"
HOST_INFO="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(cd "$ROOT" && git status --porcelain 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)

for db in $DATABASES; do
  RAW="$WORK/raw-$db.md"
  : >"$RAW"
  port=$PORT
  for size in $SIZES; do
    case $db in
      sqlite) prepare_sqlite "$size" ;;
      postgres) prepare_postgres "$size" ;;
      *) die "unknown database $db" ;;
    esac
    # An existing, migrated database: what `dxcp serve` is timed on.
    DXCP_DATABASE_URL="${DB_URLS[$size]}" "$BIN" migrate >"$WORK/migrate.log" 2>&1 || die "dxcp migrate failed"
    URLS[$size]="http://127.0.0.1:$port"
    port=$((port + 1))
  done
  for size in $SIZES; do
    log "$db, $size records: starting dxcp serve on ${URLS[$size]}"
    start_server "$size" "$WORK/server-$db-$size.log"
    log "ready after ${READY[$size]} ms"
    # A terminal record with a failure and a timeline.
    DEPLOYMENT_IDS[$size]=$(gql "${URLS[$size]}" bench-observer-1 \
      '{"query":"{ deployments(first: 1, filter: {state: FAILED}) { nodes { id } } }"}' |
      sed -n 's/.*"id":"\([^"]*\)".*/\1/p') || die "cannot read a deployment id"
    [ -n "${DEPLOYMENT_IDS[$size]}" ] || die "no FAILED deployment in the seeded history"
  done
  for name in $CASES; do
    for size in $SIZES; do case_setup "$name" "$size"; done
    for conc in $CONCURRENCY; do
      for size in $SIZES; do run_case "$db" "$size" "$name" "$conc"; done
    done
  done
  for size in $SIZES; do
    HWM=$(awk '/VmHWM/ { print $2 }' "/proc/${SERVER_PIDS[$size]}/status")
    printf '%s\t%s\t%s\t%s\n' "$db" "$size" "${READY[$size]}" "$HWM" >>"$SERVERS"
  done
  stop_servers
  drop_postgres

  OUT="$RESULTS/$DATE-$db.md"
  {
    printf '# DXCP benchmark: %s, %s\n\n' "$db" "$DATE"
    printf 'Commit %s%s on %s. wrk, %s s measured after %s s warm-up per row, ' "$REV" "$DIRTY" "$HOST_INFO" "$DURATION" "$WARMUP"
    printf '%s callers per role, simulated engine (%s ms runs). Command: `bench/run.sh`' "$CALLERS" "$SIMULATED_MS"
    printf ' with BENCH_DATABASES="%s" BENCH_SIZES="%s".\n\n' "$db" "$SIZES"
    render "$db"
    printf '\nTargets (issue "Speed at scale"), from this run:\n\n'
    targets "$db"
    printf '\n## Raw wrk output\n'
    cat "$RAW"
  } >"$OUT"
  printf '\n%s (%s)\n\n' "$db" "$OUT"
  render "$db"
  printf '\n'
  targets "$db"
done
