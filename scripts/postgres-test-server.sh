#!/usr/bin/env bash
# Starts or stops one private PostgreSQL server for a whole test run.
#   scripts/postgres-test-server.sh start <dir>   initdb into <dir> (first time), start it on 127.0.0.1 at a
#                                                 free port (unix socket in <dir>), print its admin url
#   scripts/postgres-test-server.sh stop <dir>    stop it
# Use the printed url as WEFT_TEST_POSTGRES_URL: each test then creates (and drops) its own database on it.
# Trust authentication, listening on 127.0.0.1 only, durability off (fsync): for tests, never for data.
# Run as root, the server runs as the postgres user (PostgreSQL refuses root).
set -euo pipefail

usage() { echo "usage: $0 start|stop <dir>" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd="$1"
dir="$2"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"

as_server() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

case "$cmd" in
  start)
    command -v initdb >/dev/null 2>&1 || { echo "initdb not found: run scripts/setup-test-deps.sh" >&2; exit 1; }
    if [ "$(id -u)" = 0 ]; then
      chown postgres: "$dir"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      as_server initdb -A trust -U postgres --no-sync -E UTF8 -D "$data" >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if as_server pg_ctl -D "$data" status >/dev/null 2>&1; then
      port="$(cat "$dir/port")"
    else
      port="$(free_port)"
      as_server pg_ctl -w -t 60 -D "$data" -l "$dir/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
      echo "$port" >"$dir/port"
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$data/PG_VERSION" ] && as_server pg_ctl -D "$data" status >/dev/null 2>&1; then
      as_server pg_ctl -w -m fast -D "$data" stop >/dev/null
    fi
    ;;
  *) usage ;;
esac
