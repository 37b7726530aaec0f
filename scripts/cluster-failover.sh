#!/usr/bin/env bash
# A flash sale through HAProxy on a two-node cluster (scripts/cluster.sh) while the node that
# leads the relay is killed with SIGKILL; then `ledger bench`'s invariant check (every 201 in the
# ledger, no oversell, Redis audit clean) and `ledger audit --kafka` (the topic complete).
# Exits non-zero when any of them fails. `make test` runs it after the Swift suites.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export LEDGER_CLUSTER_PORT=${LEDGER_CLUSTER_PORT:-18080}
STATE="$ROOT/.local/cluster"
log() { printf 'cluster-failover: %s\n' "$*" >&2; }

trap 'scripts/cluster.sh down' EXIT
scripts/cluster.sh up --nodes 2
# shellcheck disable=SC1091
source .local/env
BIN="$(swift build --show-bin-path)/ledger"

leader=""
for _ in $(seq 1 100); do
    for i in 1 2; do
        if curl -fs "http://127.0.0.1:$((LEDGER_CLUSTER_PORT + i))/metrics" | grep -qx 'ledger_relay_leader 1.0'; then leader=$i; fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { log "no node leads the relay"; exit 1; }
standby=$((3 - leader))

"$BIN" bench --url "http://127.0.0.1:$LEDGER_CLUSTER_PORT" --duration 8 --connections 32 --stock 5000 --limit 2 &
bench=$!
sleep 3
log "killing node$leader (relay leader) with SIGKILL"
kill -KILL "$(cat "$STATE/node$leader.pid")"
killed_at=$(date +%s%N)
took_over=""
for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$((LEDGER_CLUSTER_PORT + standby))/metrics" | grep -qx 'ledger_relay_leader 1.0'; then
        took_over=$((($(date +%s%N) - killed_at) / 1000000))
        break
    fi
    sleep 0.05
done
[ -n "$took_over" ] || { log "node$standby did not take the relay over within 5 s"; exit 1; }
log "node$standby leads the relay ${took_over} ms after the kill"
wait "$bench" || { log "ledger bench found a broken invariant"; exit 1; }
"$BIN" audit --kafka --projection-wait-ms 30000 || { log "the audit found differences"; exit 1; }
log "passed"
