#!/usr/bin/env bash
# A 1,000,000-request flash sale (stock 100,000, 200,000 users, limit 2); passes only when the
# invariant check does: every 201 in the ledger, nothing oversold, the audit clean.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_stack
run_bench million --scenario flash-sale --requests 1000000 --duration 1800 --connections 128 --users 200000 --stock 100000 --limit 2
python3 - "$RESULTS/million.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"million: {d['requests']} requests in {d['seconds']:.0f} s ({int(d['requestsPerSecond'])}/s), p99 {d['latencyMs']['p99']} ms")
for outcome, count in sorted(d['outcomes'].items(), key=lambda kv: -kv[1]):
    print(f"  {outcome:28} {count}")
print("  invariants:", d.get('invariants'))
PY
