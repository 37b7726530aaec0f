#!/usr/bin/env bash
# Shared steps of the bench scripts: the stack (services, release build, migrate, a served
# instance), the two baselines, and the ratio table. Source it; do not run it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RESULTS="$ROOT/.local/bench"
mkdir -p "$RESULTS"
SERVER_PID=""
IO_WATCH_PID=""

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
    # SERVER_WRAPPER runs the server under another program, SERVER_BINARY instead of the build
    # (bench/callgrind.sh: valgrind, a copy without debug information).
    # SERVER_ARGS: more options for `ledger serve` (bench/memory.sh: trusted headers).
    # shellcheck disable=SC2086
    ${SERVER_WRAPPER:-} "${SERVER_BINARY:-$LEDGER}" serve ${SERVER_ARGS:-} >"$RESULTS/server.log" 2>&1 &
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
    io_watch_stop
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
}

# The HTTP ceiling: wrk against GET /health of the same server (requests/s).
baseline_http() {
    wrk -t2 -c64 -d"${1:-10}s" "http://127.0.0.1:$LEDGER_HTTP_PORT/health" | awk '/Requests\/sec/ {print int($2)}'
}

PGBENCH_DB=pgbench_seckill
pgbench_url() { echo "${LEDGER_DATABASE_URL%/*}/$PGBENCH_DB"; }

# The classic database-only seckill: one transaction per order, a guarded UPDATE and an insert,
# 32 clients (pgbench transactions/s).
baseline_pgbench() {
    psql "$LEDGER_DATABASE_URL" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$PGBENCH_DB'" | grep -q 1 \
        || psql "$LEDGER_DATABASE_URL" -qc "CREATE DATABASE $PGBENCH_DB" >/dev/null
    local url
    url=$(pgbench_url)
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

# The same database-only seckill held at a fixed rate (after baseline_pgbench): the p99 of its
# orders in ms, measured from each one's scheduled start like our open loop.
baseline_pgbench_p99() {
    local rate=$1 duration=${2:-10}
    rm -f "$RESULTS"/pgbench-log.*
    (cd "$RESULTS" && pgbench -n -c 32 -j 2 -R "$rate" -T "$duration" --log --log-prefix=pgbench-log \
        -f seckill.pgbench "$(pgbench_url)" >/dev/null 2>&1)
    # Log lines: client, transaction, time µs, script, epoch s, µs, schedule lag µs.
    cat "$RESULTS"/pgbench-log.* | python3 -c '
import sys
latencies = sorted(int(f[2]) + int(f[6]) for f in (line.split() for line in sys.stdin))
print(round(latencies[int(0.99 * (len(latencies) - 1))] / 1000, 1))'
}

# The box's I/O stall while a run goes on (run_bench watches each run): Linux's pressure stall
# information for I/O ("some": time in which at least one task waited on I/O, in µs), sampled
# every 100 ms into a file so the run's seconds can be read beside it (io_stall_per_second). The
# fsync of every commit waits there.
io_watch_start() {
    IO_WATCH_FILE="$RESULTS/io-$1.tsv"
    : >"$IO_WATCH_FILE"
    # A kernel without pressure stall information leaves the file empty; the reports say n/a.
    [ -r /proc/pressure/io ] || return 0
    python3 -c '
import sys, time
out = open(sys.argv[1], "w")
while True:
    some = next(line for line in open("/proc/pressure/io") if line.startswith("some"))
    print(int(time.time() * 1000), some.split("total=")[1].strip(), sep="\t", file=out, flush=True)
    time.sleep(0.1)' "$IO_WATCH_FILE" &
    IO_WATCH_PID=$!
}

io_watch_stop() {
    [ -n "$IO_WATCH_PID" ] || return 0
    kill "$IO_WATCH_PID" 2>/dev/null
    wait "$IO_WATCH_PID" 2>/dev/null || true
    IO_WATCH_PID=""
}

# The I/O stall (ms) of the whole watch.
io_stall_total() { awk 'NR == 1 {first = $2} {last = $2} END {print NR ? int((last - first) / 1000) : "n/a"}' "$IO_WATCH_FILE"; }

# "p99 ms/I/O stall ms" for each second of a run_bench run's timeline, then the run's total stall.
io_stall_per_second() {
    python3 -c '
import json, sys
run = json.load(open(sys.argv[1]))
samples = [tuple(map(int, line.split())) for line in open(sys.argv[2])]
if not samples:
    print("n/a (no /proc/pressure/io)")
    sys.exit()
def stall_until(ms):  # cumulative stall (µs) at the last sample before ms
    before = [total for at, total in samples if at <= ms]
    return before[-1] if before else samples[0][1]
start = run["startedAtUnixMs"]
cells, total = [], 0
for second in run["timeline"]:
    at = start + 1000 * second["second"]
    stall = (stall_until(at + 1000) - stall_until(at)) // 1000
    total += stall
    cells.append("%.0f/%d" % (second["p99Ms"], stall))
print(" ".join(cells), "(total %d ms)" % total)' "$RESULTS/$1.json" "$RESULTS/io-$1.tsv"
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
    io_watch_start "$name"
    "$LEDGER" bench --json --html "$RESULTS/$name.html" "$@" >"$RESULTS/$name.json"
    io_watch_stop
    log "report: $RESULTS/$name.json, $RESULTS/$name.html"
}

json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$1" "$2"; }
