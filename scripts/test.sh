#!/usr/bin/env bash
# `make test`: fresh services, build, the whole suite, services down; exits with the tests' status.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERVICES="$ROOT/scripts/services.sh"

trap '"$SERVICES" down' EXIT
"$SERVICES" down
swift build --build-tests || exit 1
"$SERVICES" up --fresh || exit 1
# shellcheck disable=SC1091
source .local/env

status=0
# Suites that restart the shared PostgreSQL run alone, after everything else.
swift test --skip-build --disable-xctest --skip ServerRestartTests || status=$?
swift test --skip-build --disable-xctest --filter ServerRestartTests || status=$?
exit $status
