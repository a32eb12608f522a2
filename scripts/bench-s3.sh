#!/usr/bin/env bash
# S3-mode benchmark: three agents, then one, on s3s-fs and PostgreSQL (fsync on) with the S3 Standard latency
# model (deploy/local/cluster.sh), measured with weft bench. Usage: scripts/bench-s3.sh [STATE_DIR]
set -u
D="${1:-/tmp/weft-s3bench}"; rm -rf "$D"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEFT="${WEFT_BIN:-$ROOT/target/release/weft}"
export WEFT_BIN="$WEFT" WEFT_OBJECT_STORE_MODEL="${WEFT_OBJECT_STORE_MODEL:-s3-standard}"
"$ROOT/deploy/local/cluster.sh" up $D
B=127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
echo "=== 3 agents"
"$WEFT" bench --bootstrap-servers $B --records 300000 --partitions 12 --linger-ms 100 --e2e-duration-secs 15 --rate 2000 --metrics-url http://127.0.0.1:9644/metrics 2>&1 | grep -v "^%"
for i in 1 2; do kill $(cat $D/agent-$i.pid); done; sleep 3
echo "=== 1 agent"
"$WEFT" bench --bootstrap-servers 127.0.0.1:9092 --topic bench-one --records 300000 --partitions 12 --linger-ms 100 --e2e-duration-secs 15 --rate 2000 --metrics-url http://127.0.0.1:9644/metrics 2>&1 | grep -v "^%"
curl -s 127.0.0.1:9644/metrics | grep -E "^weft_metastore_transaction_duration_seconds.*op=\"commit_segment\"" | head -12
"$ROOT/deploy/local/cluster.sh" down $D
