#!/usr/bin/env bash
# The sold-out path (the losing 99 %) against the HTTP ceiling of the same server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-10}
start_stack
run_bench sold-out --scenario sold-out --connections 64 --duration "$DURATION" --users 100000
rate=$(json_field "$RESULTS/sold-out.json" "int(requestsPerSecond)")
# The same path driven by wrk: the server's share without the Swift load generator's CPU.
SOLD_OUT_PRODUCT=$(json_field "$RESULTS/sold-out.json" "productId")
token=$("$LEDGER" token --user 7)
cat >"$RESULTS/sold-out.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"productId":$SOLD_OUT_PRODUCT,"quantity":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
# The ceiling and the sold-out path alternate, three runs each: on a shared VM the speed drifts
# by a fifth within minutes, and one ceiling run against one later sold-out run measures the
# drift as much as the path.
ceilings=() answers=()
for _ in 1 2 3; do
    ceilings+=("$(baseline_http "$DURATION")")
    answers+=("$(wrk -t2 -c64 -d"${DURATION}s" -s "$RESULTS/sold-out.lua" "http://127.0.0.1:$LEDGER_HTTP_PORT/v1/seckill" | awk '/Requests\/sec/ {print int($2)}')")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
http=$(median "${ceilings[@]}")
wrk_rate=$(median "${answers[@]}")
cat <<TABLE
sold-out ($(nproc) cores, everything on one box, ${DURATION}s runs, wrk figures: median of 3 alternating runs)
  HTTP ceiling, wrk GET /health           ${http} req/s (${ceilings[*]})
  sold-out answers (409), wrk             ${wrk_rate} req/s (${answers[*]}) = $(python3 -c "print(round(100*$wrk_rate/$http))")% of the ceiling (goal 90%)
  sold-out answers (409), ledger bench    ${rate} req/s (the Swift load generator shares the 2 cores)
  latency p50 / p99                       $(json_field "$RESULTS/sold-out.json" "latencyMs['p50']") / $(json_field "$RESULTS/sold-out.json" "latencyMs['p99']") ms
TABLE
