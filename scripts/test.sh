#!/usr/bin/env bash
# Runs the test suite with a throwaway PostgreSQL server beside the default SQLite, so
# every store test that can run on both does. Installs PostgreSQL (and sipp) with apt if
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# sipp (Debian package sip-tester) is the real SIP peer of tests/sip
if ! command -v sipp >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q sip-tester
fi

PGDIR=$(mktemp -d /tmp/frontdesk-pg.XXXXXX)
PORT=${FRONTDESK_TEST_PG_PORT:-55432}
as_pg=()
if [ "$(id -u)" -eq 0 ]; then  # initdb refuses to run as root
  chown postgres "$PGDIR"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
"${as_pg[@]}" "$pg_bin/initdb" -D "$PGDIR/data" -U postgres -A trust >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-k $PGDIR -p $PORT -c listen_addresses='' -c fsync=off" start >/dev/null
"${as_pg[@]}" "$pg_bin/createdb" -h "$PGDIR" -p "$PORT" -U postgres frontdesk_test

export FRONTDESK_TEST_REQUIRE_SIPP=1  # installed above: its tests must not skip
export FRONTDESK_TEST_REQUIRE_LLAMA=1  # scripts/setup.sh built .venv-llm: no skipping
export FRONTDESK_TEST_POSTGRES_URL="postgresql+psycopg://postgres@/frontdesk_test?host=$PGDIR&port=$PORT"
.venv/bin/pytest "$@"
