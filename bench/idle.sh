#!/usr/bin/env bash
# Idle sockets against the default connection limits (Limits.httpMaxConnections 10,000, idle
# timeout 30 s): as many as the cap, then half as many again. /health must answer within a
# second throughout, the server's descriptors stay under the cap, and the idle timeout closes
# what the cap left open.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
AT_CAP=${AT_CAP:-10000}
PAST_CAP=${PAST_CAP:-15000}
IDLE_TIMEOUT_S=${IDLE_TIMEOUT_S:-30}
start_stack
CLIENT_PID=""
trap 'stop_idle; stop_stack' EXIT

descriptors() { find "/proc/$SERVER_PID/fd" -mindepth 1 | wc -l; }
# Median of five /health round trips on new connections, in ms.
health_ms() {
    for _ in 1 2 3 4 5; do
        curl -s -o /dev/null --max-time 60 -w '%{time_total}\n' "http://127.0.0.1:$LEDGER_HTTP_PORT/health"
    done | sort -n | awk 'NR == 3 {printf "%.1f", $1 * 1000}'
}

# Opens $1 sockets that never send; writes "opened closed-by-the-server" to $RESULTS/idle.txt
# twice a second until stopped.
start_idle() {
    rm -f "$RESULTS/idle.txt"
    python3 -c '
import os, resource, socket, sys, time
count, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))
sockets = []
for _ in range(count):
    sockets.append(socket.create_connection(("127.0.0.1", port), timeout=120))
    sockets[-1].setblocking(False)
def closed(s):
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
while True:
    with open(out + ".new", "w") as f:
        print(len(sockets), sum(map(closed, sockets)), file=f)
    os.replace(out + ".new", out)
    time.sleep(0.5)' "$1" "$LEDGER_HTTP_PORT" "$RESULTS/idle.txt" &
    CLIENT_PID=$!
    until [ -s "$RESULTS/idle.txt" ]; do sleep 0.2; done
}
stop_idle() {
    [ -n "$CLIENT_PID" ] || return 0
    kill "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null || true
    CLIENT_PID=""
}
closed() { sleep 1; awk '{print $2}' "$RESULTS/idle.txt"; }

baseline=$(descriptors)
row() { printf '  %-34s %6d  %9d  %9s\n' "$1" "$(( $(descriptors) - baseline ))" "$(closed)" "$(health_ms)"; }
report=""
for count in "$AT_CAP" "$PAST_CAP"; do
    start_idle "$count"
    report+="$(row "$count idle, all open")"$'\n'
    sleep $((IDLE_TIMEOUT_S + 5))
    report+="$(row "  after the idle timeout")"$'\n'
    stop_idle
    sleep 1
done
cat <<TABLE
idle connections ($(nproc) cores, one box; server cap and idle timeout at their defaults)
  sockets                            server fds  closed by  /health
                                     over start  the server  median ms
$report
TABLE
