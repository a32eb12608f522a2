#!/bin/bash
# Counts the agent's instructions (callgrind) while `weft bench` produces RECORDS records, with the
# security layers off (open) or on (secured: the acl authorizer with 102 ACLs and a default client quota), or
# with broker-side schema validation of the bench topic's values (schema-ids: ids only; schema-deep: each payload
# decoded too; schema-off: framed values on a topic without validation, the baseline). RECORD_SIZE (default
# 1024) must match --record-size in BENCH_ARGS; the schema is an Avro fixed of RECORD_SIZE - 5 bytes.
# Instruction counts do not depend on the machine's load, so this runs beside builds.
# BENCH_ARGS adds bench options (e.g. --producer-config batch.num.messages=1 for one record per batch).
# usage: scripts/callgrind-produce.sh LABEL open|secured|schema-off|schema-ids|schema-deep RECORDS; results in /tmp/cg-LABEL/cg.out
set -e
W=${WEFT_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/weft-target}/release/weft}
L=$1; MODE=$2; N=$3; D=/tmp/cg-$L; PORT=19392
rm -rf $D; mkdir -p $D
ARGS="--data-dir $D/data --admin-listen off --peer-listen off --listen 127.0.0.1:$PORT"
if [ $MODE = secured ]; then
  $W agent $ARGS --schema-registry-listen off --authorizer acl --super-users User:ANONYMOUS > $D/setup.log 2>&1 &
  P=$!; sleep 3
  B="-b 127.0.0.1:$PORT"
  $W acl add $B --topic '*' --cluster --allow-principal 'User:*' --operation all >/dev/null
  for i in $(seq 1 100); do $W acl add $B --topic app$i- --resource-pattern-type prefixed --allow-principal User:svc$i --operation write >/dev/null; done
  $W quota set $B --client-defaults --add-config producer_byte_rate=1000000000000 >/dev/null
  kill -INT $P; wait $P || true
  SEC="--authorizer acl"
fi
case $MODE in schema-*)
  R=$((PORT + 1)); SIZE=${RECORD_SIZE:-1024}
  $W agent $ARGS --schema-registry-listen 127.0.0.1:$R > $D/setup.log 2>&1 &
  P=$!
  for i in $(seq 1 60); do (echo > /dev/tcp/127.0.0.1/$R) 2>/dev/null && break; sleep 1; done
  case $MODE in
    schema-off) C="" ;;
    schema-ids) C="-c confluent.value.schema.validation=true" ;;
    schema-deep) C="-c confluent.value.schema.validation=true -c weft.schema.validation.deep=true" ;;
  esac
  $W topic create weft-bench -p 8 $C -b 127.0.0.1:$PORT >/dev/null
  echo "{\"type\":\"fixed\",\"name\":\"F\",\"size\":$((SIZE - 5))}" > $D/fixed.avsc
  ID=$($W schema --registry http://127.0.0.1:$R register --subject weft-bench-value --file $D/fixed.avsc)
  BENCH_ARGS="$BENCH_ARGS --schema-id $ID"
  kill -INT $P; wait $P || true ;;
esac
valgrind --tool=callgrind --callgrind-out-file=$D/cg.out $W agent $ARGS --schema-registry-listen off $SEC > $D/agent.log 2>&1 &
P=$!
for i in $(seq 1 120); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 1; done
$W bench --bootstrap-servers 127.0.0.1:$PORT --mode produce --records $N --timeout-secs 600 $BENCH_ARGS > $D/bench.log 2>&1
kill -INT $P; wait $P || true
callgrind_annotate $D/cg.out 2>/dev/null | head -5 > $D/summary.txt
