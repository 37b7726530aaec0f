#!/usr/bin/env bash
# The server's instructions per reservation, counted by callgrind: deterministic where wall-clock
# figures on a shared VM move by a quarter between runs, so small changes can be compared. The
# server runs under valgrind, instrumented only while a closed-loop flash sale runs (~40x slower
# than without it, so the writer's batches hold 16-38 commands instead of ~110: compare runs by
# function, or at like batch sizes, since the writer's share per reservation grows as they shrink).
# Prints the instructions per request by thread group and the functions that cost the most.
#   bench/callgrind.sh [seconds, 15]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${1:-15}
command -v valgrind >/dev/null || { log "installing valgrind"; apt-get install -y -qq valgrind >/dev/null; }
SHIM="$ROOT/.local/sigsuspend-copy.so"
cc -O2 -shared -fPIC -o "$SHIM" bench/valgrind/sigsuspend-copy.c -ldl
OUT="$RESULTS/callgrind"
rm -rf "$OUT" && mkdir -p "$OUT"
# Function names come from the symbol table; valgrind 3.19 cannot read Swift 6's DWARF 5.
swift build -c release --product ledger >/dev/null
SERVER_BINARY="$OUT/ledger"
cp "$(swift build -c release --show-bin-path)/ledger" "$SERVER_BINARY" && strip --strip-debug "$SERVER_BINARY"
SERVER_WRAPPER="env LD_PRELOAD=$SHIM valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file=$OUT/server.%p"
start_stack
# A warm-up outside the count: the first product load, prepared statements, the scripts' SHAs.
"$LEDGER" bench --scenario flash-sale --rate 30 --connections 32 --duration 3 --users 100000 --stock 10000000 --limit 100 --no-verify >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
callgrind_control -z "$SERVER_PID" >/dev/null
"$LEDGER" bench --json --scenario flash-sale --connections 256 --duration "$DURATION" --users 100000 --stock 10000000 --limit 100 --no-verify >"$OUT/bench.json"
callgrind_control -d "$SERVER_PID" >/dev/null
callgrind_control -i off "$SERVER_PID" >/dev/null
python3 - "$OUT" <<'PY'
import collections, glob, json, re, subprocess, sys
out = sys.argv[1]
run = json.load(open(out + "/bench.json"))
requests = run["requests"]
groups = [("HTTP event loops (NIO)", "SelectableEventLoopC3run"), ("Swift concurrency pool", "swift_job_run"),
          ("writer", "A6WriterC19gatheredTransaction"), ("Redis gate", "RedisConnectionC8evaluate_10completion"),
          ("Kafka consumer", "KafkaConsumerC4poll"), ("librdkafka", "rd_kafka")]
by_group, by_function, total = collections.Counter(), collections.Counter(), 0
for path in glob.glob(out + "/server.*.1-*"):
    report = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path], capture_output=True, text=True).stdout
    rows = [(int(m.group(1).replace(",", "")), m.group(2)) for m in re.finditer(r"^\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*)$", report, re.M)]
    thread = next((v for v, name in rows if "PROGRAM TOTALS" in name), 0)
    total += thread
    names = " ".join(name for _, name in rows[:40])
    by_group[next((group for group, mark in groups if mark in names), "other")] += thread
    report = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True).stdout
    for m in re.finditer(r"^\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*)$", report, re.M):
        if "PROGRAM TOTALS" not in m.group(2):
            by_function[re.sub(r"^\S*?:", "", m.group(2).split(" [")[0], count=1)] += int(m.group(1).replace(",", ""))
print(f"callgrind: {requests} reservations ({run['serverStages']['commandsPerBatch']:.0f} commands a writer batch), "
      f"{total // requests:,} server instructions each (user space)")
for group, count in by_group.most_common():
    print(f"  {group:28s} {count // requests:>9,} ({100 * count / total:.0f} %)")
print("most instructions, by function (self, per reservation):")
for name, count in by_function.most_common(25):
    print(f"  {count // requests:>7,}  {name[:120]}")
print(f"files: {out}/server.*")
PY
