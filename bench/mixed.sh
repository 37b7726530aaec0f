#!/usr/bin/env bash
# Writes, product reads, reservation reads, confirms and cancels together.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-10}
start_stack
run_bench mixed --scenario mixed --connections 64 --duration "$DURATION" --users 50000 --stock 10000000 --limit 100
python3 - "$RESULTS/mixed.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"mixed: {int(d['requestsPerSecond'])} req/s, p50 {d['latencyMs']['p50']} ms, p99 {d['latencyMs']['p99']} ms")
for outcome, count in sorted(d['outcomes'].items(), key=lambda kv: -kv[1]):
    print(f"  {outcome:28} {count}")
print("  invariants:", d.get('invariants'))
PY
