#!/usr/bin/env bash
# A local cluster: the services, N `ledger serve` nodes and HAProxy in front of them.
# Usage: cluster.sh up [--nodes N] | down | status | kill-node I | start-node I | relay-leader
#   kill-node I: SIGKILL of node I (a crash); start-node I: starts it again and waits until it is ready;
#   relay-leader: prints the number of the node that leads the outbox relay.
#   LEDGER_CLUSTER_PORT   the balancer's port (default 8080); node i listens on that + i
#   LEDGER_CLUSTER_ARGS   extra arguments for every `ledger serve`
# The balancer uses deploy/haproxy.cfg with its `server` lines replaced by the local nodes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
STATE="$LOCAL/cluster"
PORT=${LEDGER_CLUSTER_PORT:-8080}
# Start-up bound: a debug build with every dependency to reach takes a few seconds.
READY_TIMEOUT_S=60

umask 077
log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ledger_bin() { printf '%s/ledger\n' "$(cd "$ROOT" && swift build --show-bin-path)"; }

# Whether the process in a pid file runs.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
    local pidfile=$1 pid
    running "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    # SIGTERM drains a node (in-flight requests answered, the writer's batch committed).
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

wait_ready() {
    local port=$1 log_file=$2
    for _ in $(seq 1 $((READY_TIMEOUT_S * 10))); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/ready" && return 0
        sleep 0.1
    done
    tail -n 20 "$log_file" >&2
    die "nothing answered /ready on port $port within ${READY_TIMEOUT_S}s"
}

spawn_node() {
    local i=$1 bin=$2 args
    args=$(cat "$STATE/args")
    # shellcheck disable=SC2086 # the saved arguments are a list
    LEDGER_HTTP_PORT=$((PORT + i)) setsid nohup "$bin" serve $args >>"$STATE/node$i.log" 2>&1 </dev/null &
    echo $! >"$STATE/node$i.pid"
}

up() {
    local nodes=$1
    [ "$nodes" -ge 1 ] 2>/dev/null || die "--nodes takes a number of at least 1"
    command -v haproxy >/dev/null || die "haproxy is not installed: run scripts/services.sh install"
    [ -z "$(ls "$STATE"/*.pid 2>/dev/null)" ] || die "a cluster is already up ($STATE): run '$0 down' first"
    "$ROOT/scripts/services.sh" up
    (cd "$ROOT" && swift build --product ledger >&2)
    # shellcheck disable=SC1091
    source "$LOCAL/env"
    local bin
    bin=$(ledger_bin)
    "$bin" migrate >&2
    mkdir -p "$STATE"
    # A node started again later (start-node) gets the same arguments.
    printf '%s\n' "${LEDGER_CLUSTER_ARGS:-}" >"$STATE/args"
    printf '%s\n' "$bin" >"$STATE/bin"
    rm -f "$STATE"/node*.log
    local servers=""
    for i in $(seq 1 "$nodes"); do
        spawn_node "$i" "$bin"
        servers+="    server node$i 127.0.0.1:$((PORT + i)) check"$'\n'
    done
    for i in $(seq 1 "$nodes"); do wait_ready $((PORT + i)) "$STATE/node$i.log"; done
    # The documented configuration, bound to the local port and pointed at the local nodes.
    {
        grep -v '^[[:space:]]*server node' "$ROOT/deploy/haproxy.cfg" | sed "s/^\([[:space:]]*bind\) :8080$/\1 127.0.0.1:$PORT/"
        printf '%s' "$servers"
    } >"$STATE/haproxy.cfg"
    haproxy -c -q -f "$STATE/haproxy.cfg" || die "the generated $STATE/haproxy.cfg is not valid"
    haproxy -D -f "$STATE/haproxy.cfg" -p "$STATE/haproxy.pid"
    wait_ready "$PORT" "$STATE/node1.log"
    log "$nodes nodes on 127.0.0.1:$((PORT + 1))-$((PORT + nodes)), HAProxy on 127.0.0.1:$PORT; logs in $STATE"
}

down() {
    stop_pid "$STATE/haproxy.pid"
    for pidfile in "$STATE"/node*.pid; do
        [ -e "$pidfile" ] && stop_pid "$pidfile"
    done
    log "stopped (the services stay up: scripts/services.sh down stops them)"
}

kill_node() {
    local pidfile="$STATE/node$1.pid"
    running "$pidfile" || die "node$1 is not running"
    kill -KILL "$(cat "$pidfile")"
    rm -f "$pidfile"
}

start_node() {
    local i=$1
    [ -f "$STATE/args" ] || die "no cluster is up"
    running "$STATE/node$i.pid" && die "node$i is already running"
    # shellcheck disable=SC1091
    source "$LOCAL/env"
    spawn_node "$i" "$(cat "$STATE/bin")"
    wait_ready $((PORT + i)) "$STATE/node$i.log"
}

# Waits up to 10 s for a leader: just after one died, the others take a moment to take over.
relay_leader() {
    for _ in $(seq 1 50); do
        for pidfile in "$STATE"/node*.pid; do
            [ -e "$pidfile" ] || continue
            local i
            i=$(basename "$pidfile" .pid)
            i=${i#node}
            if curl -fs -m 1 "http://127.0.0.1:$((PORT + i))/metrics" | grep -qx 'ledger_relay_leader 1.0'; then
                echo "$i"
                return 0
            fi
        done
        sleep 0.2
    done
    die "no node leads the relay"
}

status() {
    local any=0
    for pidfile in "$STATE"/haproxy.pid "$STATE"/node*.pid; do
        [ -e "$pidfile" ] || continue
        any=1
        local name
        name=$(basename "$pidfile" .pid)
        if running "$pidfile"; then echo "$name running (pid $(cat "$pidfile"))"; else echo "$name not running"; fi
    done
    [ "$any" -eq 1 ] || echo "no cluster is up"
}

case "${1:-}" in
up)
    nodes=3
    if [ "${2:-}" = "--nodes" ]; then nodes=${3:-}; fi
    up "$nodes"
    ;;
down) down ;;
status) status ;;
kill-node) kill_node "${2:?node number}" ;;
start-node) start_node "${2:?node number}" ;;
relay-leader) relay_leader ;;
*) die "usage: $0 up [--nodes N] | down | status | kill-node I | start-node I | relay-leader" ;;
esac
