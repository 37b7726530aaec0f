#!/usr/bin/env bash
# Overload: a flash sale driven open loop at its closed-loop maximum and at twice that. A server
# that sheds by waiting time (Limits.shedding*) answers the excess 503 overloaded at once and keeps
# its successes' p99 near the one at the maximum; every acknowledged reservation is in the ledger.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-10}
# Enough connections that the offered rate reaches the server instead of queueing in the generator.
OPEN_CONNECTIONS=${OPEN_CONNECTIONS:-2000}
start_stack
SALE=(--scenario flash-sale --users 100000 --stock 100000000 --limit 1000 --duration "$DURATION")
run_bench overload-max "${SALE[@]}" --connections 64
max=$(json_field "$RESULTS/overload-max.json" "int(successesPerSecond)")
run_bench overload-1x "${SALE[@]}" --connections "$OPEN_CONNECTIONS" --rate "$max"
run_bench overload-2x "${SALE[@]}" --connections "$OPEN_CONNECTIONS" --rate $((2 * max))
row() {
    json_field "$RESULTS/$1.json" "'%7d  %7d  %7d  %7.1f  %7.1f  %s' % (requests, outcomes.get('201', 0), outcomes.get('503 overloaded', 0), successLatencyMs['p99'], latencyMs['p99'], 'yes' if invariants and invariants['acknowledged'] == invariants['inLedger'] and invariants['auditDifferences'] == 0 else 'NO')"
}
cat <<TABLE
overload ($(nproc) cores, everything on one box, ${DURATION}s runs; closed-loop maximum ${max} reservations/s)
  run                  requests      201  503 shed  p99 201  p99 all  every 201 in the ledger
  open loop at max      $(row overload-1x)
  open loop at 2x max   $(row overload-2x)
TABLE
