#!/usr/bin/env bash
# Durable reservations (201 only after commit) against the database-only baseline, and the p99
# of successful reservations at half the maximum rate (open loop).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-10}
start_stack
http=$(baseline_http "$DURATION")
pg=$(baseline_pgbench "$DURATION")
settle
io_watch_start pgbench-half
pg_p99=$(baseline_pgbench_p99 $((pg / 2)) "$DURATION")
io_watch_stop
pg_stall=$(io_stall_total)
run_bench flash-closed --scenario flash-sale --connections 256 --duration "$DURATION" --users 100000 --stock 10000000 --limit 100
max=$(json_field "$RESULTS/flash-closed.json" "int(successesPerSecond)")
half=$((max / 2))
run_bench flash-open --scenario flash-sale --rate "$half" --connections 256 --duration "$DURATION" --users 100000 --stock 10000000 --limit 100
p99=$(json_field "$RESULTS/flash-open.json" "latencyMs['p99']")
# Peak and current resident memory: the peak is what the box must have through the sale.
rss=$(awk '/^VmRSS/ {print int($2/1024)}' "/proc/$SERVER_PID/status")
peak=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$SERVER_PID/status")
cat <<TABLE
flash-sale ($(nproc) cores, everything on one box, ${DURATION}s runs)
  HTTP ceiling, wrk GET /health           ${http} req/s
  database-only seckill, pgbench 32 cl.   ${pg} orders/s
  durable reservations, closed loop       ${max}/s = $(python3 -c "print(round($max/$pg, 1))")x the pgbench baseline (goal 10x)
  successful p99 at ${half}/s (open loop) ${p99} ms (goal 15 ms)
    per second, p99 ms / I/O stall ms     $(io_stall_per_second flash-open)
  database-only p99 at $((pg / 2))/s (pgbench -R) ${pg_p99} ms (I/O stall ${pg_stall} ms)
  server resident memory, peak / after   ${peak} / ${rss} MB (goal 300 MB)
  invariants: $(json_field "$RESULTS/flash-closed.json" "invariants['inLedger']") of $(json_field "$RESULTS/flash-closed.json" "invariants['acknowledged']") acknowledged in the ledger, audit differences $(json_field "$RESULTS/flash-closed.json" "invariants['auditDifferences']")
TABLE
