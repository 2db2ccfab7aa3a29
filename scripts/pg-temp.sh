#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests: initdb + pg_ctl in DIR, on 127.0.0.1:PORT.
#
#   scripts/pg-temp.sh start DIR PORT   prints the admin URL for KIOSK_TEST_POSTGRES
#   scripts/pg-temp.sh stop DIR
#
# Uses Debian's binaries (package postgresql) from /usr/lib/postgresql/*/bin unless
# PG_BIN is set. initdb refuses to run as root, so as root the server runs as the
# user postgres (via runuser). Trust authentication, loopback only: tests only.
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1 dir=$2 port=${3:-}

if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
fi
[ -x "${PG_BIN:-}/pg_ctl" ] || {
  echo "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  start)
    [[ "$port" =~ ^[0-9]+$ ]] || usage
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -s "$dir/data/PG_VERSION" ]; then
      as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # Durability off: this server holds nothing worth keeping, and tests run faster.
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -s "$dir/data/postmaster.pid" ]; then
      as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
  *) usage ;;
esac
