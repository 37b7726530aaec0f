#!/usr/bin/env bash
# Local PostgreSQL, Redis and Kafka (librdkafka mock cluster) under .local/, on fixed
# loopback ports. Usage: services.sh install | up [--fresh] | down | restart-postgres [--immediate] [--down-seconds N] | freeze-postgres | thaw-postgres | prewarm-wal | status
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
PG_PORT=${LEDGER_PG_PORT:-54329}
REDIS_PORT=${LEDGER_REDIS_PORT:-63799}
KAFKA_TOPIC=${LEDGER_KAFKA_TOPIC:-ledger.events}
PACKAGES=(postgresql redis-server libpq-dev libhiredis-dev librdkafka-dev pkg-config kcat wrk haproxy curl)

# What is written under .local/ (passwords, the JWT secret, the env file) is the user's alone.
umask 077

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# schemathesis (PyPI) checks the live API against its OpenAPI document in the tests.
SCHEMATHESIS_VERSION=4.32.5
install_schemathesis() {
    local venv="$LOCAL/venv"
    [ -x "$venv/bin/schemathesis" ] && return 0
    log "installing schemathesis $SCHEMATHESIS_VERSION into .local/venv"
    mkdir -p "$LOCAL"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# PostgreSQL refuses to run as root: run it as the postgres user, whose data folder (and
# every folder above it) must be reachable by that user. When the checkout is not, the
# data lives under /tmp and .local/postgres links to it.
pg_run() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A password made once per checkout and kept across restarts (.local/NAME, mode 0600).
secret() {
    local file="$LOCAL/$1"
    mkdir -p "$LOCAL"
    [ -s "$file" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file"
    chmod 600 "$file"
    cat "$file"
}

# The cluster's superuser is reached only through its Unix socket as the OS user that runs
# PostgreSQL (peer authentication); the service's role logs in over TCP with a password and is
# no superuser: it may create databases (the tests make one each) and owns what it creates.
pg_superuser() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
pg_admin() {
    local home
    home=$(readlink -f "$LOCAL/postgres")
    pg_run psql -h "$home/run" -p "$PG_PORT" -U "$(pg_superuser)" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# Where the data lives when the checkout is out of the postgres user's reach (one per path).
pg_outside() { printf '/tmp/ledger-postgres-%s\n' "$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"; }

pg_home() {
    local home="$LOCAL/postgres"
    if [ -L "$home" ]; then readlink -f "$home"; return; fi
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then
        local outside
        outside=$(pg_outside)
        mkdir -p "$outside"
        rm -rf "$home"
        ln -s "$outside" "$home"
        readlink -f "$home"
        return
    fi
    mkdir -p "$home"
    printf '%s\n' "$home"
}

postgres_up() {
    local bin home
    bin=$(pg_bin)
    [ -n "$bin" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    home=$(pg_home)
    mkdir -p "$home/run"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$home"
    if [ ! -f "$home/data/PG_VERSION" ]; then
        log "initialising PostgreSQL in $home/data"
        pg_run "$bin/initdb" -D "$home/data" -U "$(pg_superuser)" --auth-local=peer --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 \
            || { cat "$home/initdb.log" >&2; die "initdb failed"; }
        touch "$home/data/ledger-password-auth"
        cat >>"$home/data/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$home/run'
# The parallel test suite opens ~260 at its peak (dozens of suites at once, each with its own
# database and a node's connections), and the service's role (no superuser) may not use the
# slots kept for superusers.
max_connections = 500
shared_buffers = 256MB
fsync = on
synchronous_commit = on
# Flash sales write a lot of WAL: fewer checkpoints and compressed full-page images halve it.
max_wal_size = 8GB
checkpoint_timeout = 15min
wal_compression = lz4
# A WAL segment the server has not used before is zero-filled (16 MB, fsynced) while commits
# wait: ~50 ms once a second at 10,000 reservations/s. Finished segments are recycled instead,
# and this keeps 4 GB of them between checkpoints.
min_wal_size = 4GB
CONF
    fi
    [ -f "$home/data/ledger-password-auth" ] \
        || die "the local PostgreSQL was made before password authentication: run 'scripts/services.sh up --fresh' (drops its data)"
    if pg_run "$bin/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
        log "PostgreSQL already running on $PG_PORT"
    else
        pg_run "$bin/pg_ctl" -D "$home/data" -l "$home/postgres.log" -w -t 60 start >/dev/null \
            || { tail -n 20 "$home/postgres.log" >&2; die "PostgreSQL did not start"; }
    fi
    for _ in $(seq 1 60); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 0.5
    done
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL is not accepting connections"
    local password
    password=$(secret postgres-password)
    # The role's password follows the file (a new checkout of the same data keeps working).
    if pg_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='ledger'" | grep -q 1; then
        pg_admin -qc "ALTER ROLE ledger WITH LOGIN NOSUPERUSER CREATEDB PASSWORD '$password'" >/dev/null
    else
        pg_admin -qc "CREATE ROLE ledger WITH LOGIN NOSUPERUSER CREATEDB PASSWORD '$password'" >/dev/null
    fi
    # Benchmarks checkpoint before a run; that needs this role, not a superuser.
    pg_admin -qc "GRANT pg_checkpoint TO ledger" >/dev/null
    if ! pg_admin -tAc "SELECT 1 FROM pg_database WHERE datname='ledger'" | grep -q 1; then
        pg_admin -qc "CREATE DATABASE ledger OWNER ledger" >/dev/null
    fi
}

postgres_down() {
    local bin home
    bin=$(pg_bin)
    [ -e "$LOCAL/postgres" ] || return 0
    home=$(readlink -f "$LOCAL/postgres")
    [ -f "$home/data/PG_VERSION" ] || return 0
    pg_run "$bin/pg_ctl" -D "$home/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# restart-postgres [--immediate] [--down-seconds N]: a fast shutdown (sessions ended cleanly)
# or an immediate one (no checkpoint: crash recovery at start, as after a crash), and an outage
# of N seconds between the stop and the start.
postgres_restart() {
    local mode="" down=0
    while [ $# -gt 0 ]; do
        case "$1" in
        --immediate) mode=--immediate ;;
        --down-seconds) down="$2"; shift ;;
        *) die "restart-postgres: unknown option $1" ;;
        esac
        shift
    done
    postgres_stop "$mode"
    sleep "$down"
    postgres_start
}

# freeze-postgres / thaw-postgres: SIGSTOP (SIGCONT) the postmaster and every backend, as a
# hung disk or a long stall does: connections stay open, nothing answers, new ones are not served.
postgres_signal() {
    local home pid
    home=$(readlink -f "$LOCAL/postgres")
    pid=$(head -1 "$home/data/postmaster.pid")
    # shellcheck disable=SC2046
    kill "-$1" "$pid" $(pgrep -P "$pid")
}

# stop-postgres [--immediate] / start-postgres: the two halves of restart-postgres, for a caller
# that decides itself how long the outage lasts (bench/chaos.sh).
postgres_stop() {
    local bin home mode=fast
    [ "${1:-}" = "--immediate" ] && mode=immediate
    bin=$(pg_bin)
    home=$(readlink -f "$LOCAL/postgres")
    pg_run "$bin/pg_ctl" -D "$home/data" -m "$mode" -w -t 60 stop >/dev/null
}

postgres_start() {
    local bin home
    bin=$(pg_bin)
    home=$(readlink -f "$LOCAL/postgres")
    pg_run "$bin/pg_ctl" -D "$home/data" -l "$home/postgres.log" -w -t 60 start >/dev/null
}

# Puts a fresh cluster in the state of one that has been running for a while: min_wal_size of
# finished WAL segments ready to be recycled, so a benchmark does not measure the one-off
# zero-filling of new segments (see min_wal_size above). Writes ~4 GB; benchmarks only.
prewarm_wal() {
    local segments
    segments=$(pg_admin -qAtc \
        "SELECT pg_size_bytes(current_setting('min_wal_size')) / pg_size_bytes(current_setting('wal_segment_size'))")
    {
        echo "CREATE TABLE prewarm_wal (i int);"
        for _ in $(seq 1 "$segments"); do echo "INSERT INTO prewarm_wal VALUES (1); SELECT pg_switch_wal();"; done
        echo "DROP TABLE prewarm_wal; CHECKPOINT;"
    } | pg_admin -qAt >/dev/null
}

# redis-cli takes the password from the environment, never from its command line (ps shows that).
redis_cli() { REDISCLI_AUTH=$(secret redis-password) redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

redis_up() {
    mkdir -p "$LOCAL/redis"
    if redis_cli ping 2>/dev/null | grep -q PONG; then
        log "Redis already running on $REDIS_PORT"
        return
    fi
    # The password goes in through a config file on standard input, not the process's arguments.
    printf 'requirepass %s\n' "$(secret redis-password)" | redis-server - --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
        --dir "$LOCAL/redis" --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log" \
        --save "" --appendonly no >/dev/null
    for _ in $(seq 1 50); do
        redis_cli ping 2>/dev/null | grep -q PONG && return
        sleep 0.1
    done
    die "Redis did not start (see $LOCAL/redis/redis.log)"
}

redis_down() {
    redis_cli shutdown nosave >/dev/null 2>&1 || true
    rm -f "$LOCAL/redis/redis.pid"
}

# Signals the process of a pid file: freezing (STOP), thawing (CONT) or killing (KILL) it.
signal_pidfile() {
    [ -f "$2" ] || die "no $2: is the service up?"
    kill "-$1" "$(cat "$2")"
}

ledger_binary() {
    local bin
    bin="$(cd "$ROOT" && swift build --show-bin-path)/ledger"
    if [ ! -x "$bin" ]; then
        log "building ledger (needed for the Kafka development broker)"
        (cd "$ROOT" && swift build --product ledger >&2)
    fi
    printf '%s\n' "$bin"
}

kafka_up() {
    mkdir -p "$LOCAL/kafka"
    local pidfile="$LOCAL/kafka/kafka-dev.pid" bootstrap="$LOCAL/kafka/bootstrap"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -s "$bootstrap" ]; then
        log "Kafka development broker already running at $(cat "$bootstrap")"
        return
    fi
    rm -f "$bootstrap"
    local bin
    bin=$(ledger_binary)
    setsid nohup "$bin" kafka-dev --brokers 3 --topic "$KAFKA_TOPIC" --bootstrap-file "$bootstrap" \
        >"$LOCAL/kafka/kafka-dev.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        [ -s "$bootstrap" ] && return
        kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 0.1
    done
    cat "$LOCAL/kafka/kafka-dev.log" >&2
    die "Kafka development broker did not start"
}

kafka_down() {
    local pidfile="$LOCAL/kafka/kafka-dev.pid"
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile" "$LOCAL/kafka/bootstrap"
}

write_env() {
    cat >"$LOCAL/env" <<ENV
export LEDGER_DATABASE_URL=postgresql://ledger:$(secret postgres-password)@127.0.0.1:$PG_PORT/ledger
export LEDGER_REDIS_URL=redis://:$(secret redis-password)@127.0.0.1:$REDIS_PORT/0
export LEDGER_KAFKA_BROKERS=$(cat "$LOCAL/kafka/bootstrap")
export LEDGER_KAFKA_TOPIC=$KAFKA_TOPIC
export LEDGER_SERVICES_SCRIPT=$ROOT/scripts/services.sh
export LEDGER_JWT_SECRET=$(secret jwt-secret)
export LEDGER_HTTP_PORT=${LEDGER_HTTP_PORT:-8080}
export LEDGER_SCHEMATHESIS=$LOCAL/venv/bin/schemathesis
ENV
    chmod 600 "$LOCAL/env"
}

case "${1:-}" in
install)
    install_packages
    install_schemathesis
    ;;
up)
    install_packages
    install_schemathesis
    mkdir -p "$LOCAL"
    if [ "${2:-}" = "--fresh" ]; then
        kafka_down; redis_down; postgres_down
        # A new checkout at an earlier one's path has no link yet, but would find that data.
        rm -rf "$(readlink -f "$LOCAL/postgres" 2>/dev/null || echo "$LOCAL/postgres")" "$LOCAL/postgres" "$(pg_outside)" \
            "$LOCAL/redis" "$LOCAL/kafka"
    fi
    postgres_up
    redis_up
    kafka_up
    write_env
    log "PostgreSQL 127.0.0.1:$PG_PORT, Redis 127.0.0.1:$REDIS_PORT, Kafka $(cat "$LOCAL/kafka/bootstrap"); source .local/env"
    ;;
down)
    kafka_down
    redis_down
    postgres_down
    rm -f "$LOCAL/env"
    ;;
restart-postgres)
    shift
    postgres_restart "$@"
    ;;
stop-postgres)
    postgres_stop "${2:-}"
    ;;
start-postgres)
    postgres_start
    ;;
freeze-postgres)
    postgres_signal STOP
    ;;
thaw-postgres)
    postgres_signal CONT
    ;;
# Faults for bench/chaos.sh: Redis keeps nothing on disk, so a killed one starts again empty.
freeze-redis) signal_pidfile STOP "$LOCAL/redis/redis.pid" ;;
thaw-redis) signal_pidfile CONT "$LOCAL/redis/redis.pid" ;;
kill-redis)
    signal_pidfile KILL "$LOCAL/redis/redis.pid"
    rm -f "$LOCAL/redis/redis.pid"
    ;;
start-redis) redis_up ;;
freeze-kafka) signal_pidfile STOP "$LOCAL/kafka/kafka-dev.pid" ;;
thaw-kafka) signal_pidfile CONT "$LOCAL/kafka/kafka-dev.pid" ;;
# Every mock broker down (`ledger kafka-dev` takes SIGUSR1) or up again (SIGUSR2).
kafka-brokers)
    case "${2:-}" in
    down) signal_pidfile USR1 "$LOCAL/kafka/kafka-dev.pid" ;;
    up) signal_pidfile USR2 "$LOCAL/kafka/kafka-dev.pid" ;;
    *) die "usage: $0 kafka-brokers down|up" ;;
    esac
    ;;
prewarm-wal)
    prewarm_wal
    ;;
status)
    [ -f "$LOCAL/env" ] && cat "$LOCAL/env"
    ;;
*)
    die "usage: $0 install | up [--fresh] | down | status | prewarm-wal
       | restart-postgres [--immediate] [--down-seconds N] | stop-postgres [--immediate] | start-postgres
       | freeze-postgres | thaw-postgres | freeze-redis | thaw-redis | kill-redis | start-redis
       | freeze-kafka | thaw-kafka | kafka-brokers down|up"
    ;;
esac
