#!/usr/bin/env bash
# The server's memory while clients add what they can: 300,000 distinct unknown product ids,
# then 300,000 distinct users spending their write budgets. Every table a client can grow is
# bounded (Limits), so the resident size must level off instead of growing with the ids.
# Trusted-header mode (loopback only) lets wrk be a new user per request without minting tokens.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CHUNK_SECONDS=${CHUNK_SECONDS:-5}
TARGET=${TARGET:-300000}
SERVER_ARGS="--auth-mode trusted-header" start_stack

rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$SERVER_PID/status"; }
peak() { awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$SERVER_PID/status"; }

# One wrk script per phase: each thread counts from its own offset, so no id repeats; $2 is the
# Lua expression of the request for the count `counter`.
wrk_script() {
    cat >"$RESULTS/$1" <<LUA
local threads, counter = 0, 0
function setup(thread) thread:set("offset", threads * 100000000); threads = threads + 1 end
function init(args) counter = offset + tonumber(args[1]) end
request = function()
  counter = counter + 1
  return $2
end
LUA
}
wrk_script memory-products.lua 'wrk.format("GET", "/v1/products/" .. (1000000000 + counter), {["X-User-Id"] = "1"})'
wrk_script memory-users.lua \
    'wrk.format("POST", "/v1/reservations/0190a000-0000-7000-8000-000000000000/cancel", {["X-User-Id"] = tostring(1000000 + counter)})'

# Runs a phase in chunks until TARGET requests; prints "requests rss peak" after each chunk.
phase() {
    local script=$1 sent=0 chunk=0 count
    while [ "$sent" -lt "$TARGET" ]; do
        count=$(wrk -t2 -c64 -d"${CHUNK_SECONDS}s" -s "$RESULTS/$script" "http://127.0.0.1:$LEDGER_HTTP_PORT" -- $((chunk * 10000000)) \
            | awk '/requests in/ {print $1}')
        sent=$((sent + count))
        chunk=$((chunk + 1))
        echo "$sent $(rss) $(peak)"
    done
}

start_rss=$(rss)
log "unknown product ids"
products=$(phase memory-products.lua)
log "distinct users"
users=$(phase memory-users.lua)
cat <<TABLE
memory under distinct ids ($(nproc) cores, one box; RSS of ledger serve in MB after each ${CHUNK_SECONDS}s chunk of wrk -c64)
  after start                               RSS ${start_rss}
$(echo "$products" | awk '{printf "  unknown product ids, %7d requests    RSS %4d  peak %4d\n", $1, $2, $3}')
$(echo "$users" | awk '{printf "  distinct users,      %7d requests    RSS %4d  peak %4d\n", $1, $2, $3}')
TABLE
