#!/usr/bin/env bash
# A chaos sale: a local cluster of N nodes behind HAProxy (scripts/cluster.sh), a flash sale on it
# while nodes, the relay leader, Redis, PostgreSQL and the Kafka brokers fail on a schedule drawn
# from --seed, then the checker (`ledger chaos`). The cluster is stopped afterwards; the services
# stay up. Exit status: `ledger chaos`'s (2 when the checker found a violation).
#
#   bench/chaos.sh [--nodes N] [ledger chaos options: --seed S --duration SECONDS --faults K,K …]
#
# The short run `make test` does: bench/chaos.sh --nodes 2 --seed 1 --duration 60
# The long run of the README:      for s in 1 2 3; do bench/chaos.sh --nodes 3 --seed $s --duration 600; done
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export LEDGER_CLUSTER_PORT=${LEDGER_CLUSTER_PORT:-18080}

nodes=2
if [ "${1:-}" = "--nodes" ]; then
    nodes=${2:?--nodes takes a number}
    shift 2
fi

trap 'scripts/cluster.sh down' EXIT
scripts/cluster.sh up --nodes "$nodes"
# shellcheck disable=SC1091
source .local/env
"$(swift build --show-bin-path)/ledger" chaos --nodes "$nodes" "$@"
