#!/usr/bin/env bash
# A three-agent Weft cluster on this machine: PostgreSQL (Debian's binaries) as the metastore, s3s-fs as the
# S3-compatible bucket, and three `weft agent` processes sharing both. Everything listens on 127.0.0.1 and
# lives under one state directory.
#
#   deploy/local/cluster.sh up   [DIR]   start PostgreSQL, s3s-fs and agents on 9092, 9093, 9094
#   deploy/local/cluster.sh down [DIR]   stop them (the data stays in DIR)
#
# DIR defaults to ./weft-cluster. WEFT_BIN names the weft binary (default: target/release/weft, built by
# `cargo build --release -p weft`). scripts/setup-test-deps.sh installs PostgreSQL and s3s-fs.
set -euo pipefail

cmd="${1:-}"
dir="${2:-weft-cluster}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
weft="${WEFT_BIN:-$root/target/release/weft}"
pg_port="${WEFT_PG_PORT:-55432}"
s3_port="${WEFT_S3_PORT:-9000}"
key=weft-local
secret=weft-local-secret

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

up() {
  [ -x "$weft" ] || { echo "no weft binary at $weft: cargo build --release -p weft, or set WEFT_BIN" >&2; exit 1; }
  command -v initdb >/dev/null || { echo "initdb not found: scripts/setup-test-deps.sh installs PostgreSQL" >&2; exit 1; }
  local s3s; s3s="$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")"
  [ -x "$s3s" ] || { echo "s3s-fs not found: scripts/setup-test-deps.sh installs it" >&2; exit 1; }

  mkdir -p "$dir/pg" "$dir/s3/weft"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pg"
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    as_pg initdb -A trust -U weft -E UTF8 -D "$dir/pg/data" >"$dir/pg/initdb.log"
  fi
  as_pg pg_ctl -w -D "$dir/pg/data" -l "$dir/pg/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg" start >/dev/null
  psql "postgres://weft@127.0.0.1:$pg_port/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = 'weft'" \
    | grep -q 1 || psql "postgres://weft@127.0.0.1:$pg_port/postgres" -qc "CREATE DATABASE weft"

  nohup "$s3s" --host 127.0.0.1 --port "$s3_port" --access-key "$key" --secret-key "$secret" "$dir/s3" \
    >"$dir/s3.log" 2>&1 &
  echo $! >"$dir/s3.pid"

  export WEFT_METASTORE="postgres://weft@127.0.0.1:$pg_port/weft"
  export WEFT_OBJECT_STORE="s3://weft/cluster?endpoint=http://127.0.0.1:$s3_port&region=us-east-1"
  export AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret"
  for i in 0 1 2; do
    mkdir -p "$dir/agent-$i"
    WEFT_LISTEN="127.0.0.1:$((9092 + i))" WEFT_ADMIN_LISTEN="127.0.0.1:$((9644 + i))" \
      WEFT_DATA_DIR="$dir/agent-$i" WEFT_ZONE="zone-$((i % 2))" \
      nohup "$weft" agent >"$dir/agent-$i.log" 2>&1 &
    echo $! >"$dir/agent-$i.pid"
  done
  for i in 0 1 2; do
    for _ in $(seq 1 100); do
      grep -q "agent ready" "$dir/agent-$i.log" && break
      sleep 0.2
    done
    grep -q "agent ready" "$dir/agent-$i.log" || { echo "agent $i did not start; see $dir/agent-$i.log" >&2; exit 1; }
  done
  # Agents re-read the registry every heartbeat (2 s): wait until each lists all three.
  for i in 0 1 2; do
    for _ in $(seq 1 50); do
      curl -sf "127.0.0.1:$((9644 + i))/metrics" | grep -q '^weft_cluster_brokers 3' && break
      sleep 0.2
    done
  done
  echo "bootstrap: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094  (metrics on 127.0.0.1:9644-9646)"
}

down() {
  # Agents first (they deregister and hand their coordinators over), then the stores they use.
  for f in "$dir"/agent-*.pid "$dir/s3.pid"; do
    [ -f "$f" ] || continue
    local pid; pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
  if [ -f "$dir/pg/data/PG_VERSION" ]; then
    as_pg pg_ctl -w -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down [DIR]" >&2; exit 2 ;;
esac
