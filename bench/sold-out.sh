#!/usr/bin/env bash
# The sold-out path (the losing 99 %) against the HTTP ceiling of the same server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-10}
start_stack
http=$(baseline_http "$DURATION")
run_bench sold-out --scenario sold-out --connections 64 --duration "$DURATION" --users 100000
rate=$(json_field "$RESULTS/sold-out.json" "int(requestsPerSecond)")
cat <<TABLE
sold-out ($(nproc) cores, everything on one box, ${DURATION}s runs)
  HTTP ceiling, wrk GET /health           ${http} req/s
  sold-out answers (409), ledger bench    ${rate} req/s = $(python3 -c "print(round(100*$rate/$http))")% of the ceiling (goal 90%)
  latency p50 / p99                       $(json_field "$RESULTS/sold-out.json" "latencyMs['p50']") / $(json_field "$RESULTS/sold-out.json" "latencyMs['p99']") ms
TABLE
