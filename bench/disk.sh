#!/usr/bin/env bash
# The disk alone, with nothing else running: write + fdatasync at a fixed rate into a file on the
# disk PostgreSQL's WAL lives on, as a commit does. Its p99 and its stalls are the floor under the
# latency of any reservation acknowledged only after its commit on this box.
#   bench/disk.sh [syncs per second, 400] [seconds, 30] [bytes per write, 8192]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RATE=${1:-400} SECONDS_=${2:-30} BYTES=${3:-8192}
python3 - "$ROOT/.local/disk-probe.dat" "$RATE" "$SECONDS_" "$BYTES" <<'PY'
import os, sys, time
path, rate, seconds, size = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
span = 64 << 20
fd = os.open(path, os.O_RDWR | os.O_CREAT)
try:
    # Preallocated and synced first, like a recycled WAL segment: each sync flushes data only.
    os.posix_fallocate(fd, 0, span); os.fsync(fd)
    data, latencies, stalls, start, offset = os.urandom(size), [], [], time.time(), 0
    while time.time() - start < seconds:
        due = start + len(latencies) / rate
        if due > time.time(): time.sleep(due - time.time())
        began = time.time(); os.pwrite(fd, data, offset); os.fdatasync(fd); took = time.time() - began
        latencies.append(took); offset = (offset + size) % (span - size)
        if took > 0.02: stalls.append("%.1fs: %.0f ms" % (began - start, took * 1000))
finally:
    os.close(fd); os.unlink(path)
latencies.sort()
at = lambda q: latencies[int(q * (len(latencies) - 1))] * 1000
print("disk: %d syncs of %d bytes at %g/s: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.1f ms"
      % (len(latencies), size, rate, at(.5), at(.99), at(.999), at(1)))
print("syncs over 20 ms: %d%s" % (len(stalls), (" (" + ", ".join(stalls) + ")") if stalls else ""))
PY
