#!/usr/bin/env bash
# The share-group figures of BENCHMARKS.md ("Share groups"): one fresh agent (embedded default) per row,
# `weft bench --mode share` with 1, 2 and 4 consumers on 1 and 4 partitions, a row releasing 10% of first
# deliveries, then the same load read by librdkafka without a group and by a kcat consumer group.
# After each row the agent's metastore write and ShareFetch counters are kept beside the bench's output.
#
# usage: scripts/share-bench.sh WEFT_BIN OUTDIR RECORDS     (e.g. target/release/weft /tmp/share-bench 100000)
set -euo pipefail
W=$1; OUT=$2; N=$3
mkdir -p "$OUT"; : > "$OUT/counts.txt"
P=19392; MP=19644; M=http://127.0.0.1:$MP/metrics; DATA=$(mktemp -d)
pid=
start_agent() {
  rm -rf "$DATA/d"
  "$W" agent --data-dir "$DATA/d" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$MP \
    --schema-registry-listen off > "$OUT/agent.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:$MP/readyz > /dev/null && return; sleep 0.2; done
  echo "agent did not become ready" >&2; exit 1
}
stop_agent() { kill "$pid"; wait "$pid" || true; }
trap 'kill $pid 2>/dev/null || true; rm -rf "$DATA"' EXIT
counter() { grep -F "$1" "$2" | awk '{print $2}' | head -1; }
run() { # label partitions consumers [bench args...]
  local label=$1 parts=$2 cons=$3; shift 3
  start_agent
  "$W" bench --bootstrap-servers 127.0.0.1:$P --mode share --records "$N" --topic t --partitions "$parts" \
    --share-consumers "$cons" "$@" > "$OUT/$label.txt" 2>&1
  curl -s $M > "$OUT/$label.metrics"
  echo "$label: writes=$(counter 'transaction_duration_seconds_count{op="write_share_state"}' "$OUT/$label.metrics")" \
    "write_s=$(counter 'transaction_duration_seconds_sum{op="write_share_state"}' "$OUT/$label.metrics")" \
    "fetches=$(counter 'request_duration_seconds_count{api="ShareFetch"}' "$OUT/$label.metrics")" >> "$OUT/counts.txt"
  stop_agent
}
for parts in 1 4; do for cons in 1 2 4; do run "p${parts}c${cons}" "$parts" "$cons"; done; done
run p4c2-release10 4 2 --share-release-percent 10
start_agent
"$W" bench --bootstrap-servers 127.0.0.1:$P --mode produce --topic t --partitions 4 --records "$N" > "$OUT/plain.produce.txt" 2>&1
"$W" bench --bootstrap-servers 127.0.0.1:$P --mode consume --topic t > "$OUT/plain.consume.txt" 2>&1
/usr/bin/time -f "%e s" -o "$OUT/kcat.time" kcat -b 127.0.0.1:$P -G kgroup -o beginning -e -q -f '' t > /dev/null 2> "$OUT/kcat.err"
stop_agent
cat "$OUT/counts.txt"
