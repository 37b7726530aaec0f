#!/usr/bin/env bash
# Shared steps of the bench scripts: the stack (services, release build, migrate, a served
# instance), the two baselines, and the ratio table. Source it; do not run it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RESULTS="$ROOT/.local/bench"
mkdir -p "$RESULTS"
SERVER_PID=""

log() { printf 'bench: %s\n' "$*" >&2; }

start_stack() {
    # A fresh stack: the invariant check audits the whole ledger against Redis.
    scripts/services.sh up --fresh >/dev/null
    # A server that has run a while recycles WAL segments; a fresh one zero-fills each new one
    # while commits wait, which is not what a sale on a live system meets.
    scripts/services.sh prewarm-wal
    # shellcheck disable=SC1091
    source .local/env
    swift build -c release --product ledger >/dev/null
    LEDGER=$(swift build -c release --show-bin-path)/ledger
    "$LEDGER" migrate >/dev/null 2>&1
    "$LEDGER" serve >"$RESULTS/server.log" 2>&1 &
    SERVER_PID=$!
    trap stop_stack EXIT
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$LEDGER_HTTP_PORT/ready" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "the server did not become ready; see $RESULTS/server.log"
    exit 1
}

stop_stack() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
}

# The HTTP ceiling: wrk against GET /health of the same server (requests/s).
baseline_http() {
    wrk -t2 -c64 -d"${1:-10}s" "http://127.0.0.1:$LEDGER_HTTP_PORT/health" | awk '/Requests\/sec/ {print int($2)}'
}

# The classic database-only seckill: one transaction per order, a guarded UPDATE and an insert,
# 32 clients (pgbench transactions/s).
baseline_pgbench() {
    local db=pgbench_seckill
    psql "$LEDGER_DATABASE_URL" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
        || psql "$LEDGER_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
    local url="${LEDGER_DATABASE_URL%/*}/$db"
    psql "$url" -q >/dev/null <<'SQL'
DROP TABLE IF EXISTS seckill_orders, seckill_stock;
CREATE TABLE seckill_stock (id int PRIMARY KEY, stock bigint NOT NULL);
CREATE TABLE seckill_orders (id bigserial PRIMARY KEY, product_id int NOT NULL, user_id int NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO seckill_stock VALUES (1, 100000000);
SQL
    cat >"$RESULTS/seckill.pgbench" <<'SQL'
\set uid random(1, 1000000)
BEGIN;
UPDATE seckill_stock SET stock = stock - 1 WHERE id = 1 AND stock > 0;
INSERT INTO seckill_orders (product_id, user_id) VALUES (1, :uid);
END;
SQL
    pgbench -n -c 32 -j 2 -T "${1:-10}" -f "$RESULTS/seckill.pgbench" "$url" 2>/dev/null | awk '/^tps/ {print int($3)}'
}

# Each measurement starts on a quiet box: what the one before left behind is done now instead of
# during the next run — autovacuum of the rows it inserted (seen stalling commits for 50-70 ms a
# few seconds into the next run) and dirty pages (pgbench's orders, our WAL).
settle() {
    local db
    for db in $(psql "$LEDGER_DATABASE_URL" -qAtc "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"); do
        psql "${LEDGER_DATABASE_URL%/*}/$db" -qc "VACUUM (ANALYZE)" >/dev/null
    done
    psql "$LEDGER_DATABASE_URL" -qc CHECKPOINT >/dev/null
    sync
    sleep 3
}

# ledger bench with the given arguments; prints its JSON summary's field for the caller.
run_bench() {
    local name=$1; shift
    settle
    "$LEDGER" bench --json --html "$RESULTS/$name.html" "$@" >"$RESULTS/$name.json"
    log "report: $RESULTS/$name.json, $RESULTS/$name.html"
}

json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$1" "$2"; }
