#!/bin/bash
# Counts the agent's instructions (callgrind) while `weft bench` produces RECORDS records, with the
# security layers off (open) or on (secured: the acl authorizer with 102 ACLs and a default client quota).
# Instruction counts do not depend on the machine's load, so this runs beside builds.
# BENCH_ARGS adds bench options (e.g. --producer-config batch.num.messages=1 for one record per batch).
# usage: scripts/callgrind-produce.sh LABEL open|secured RECORDS; results in /tmp/cg-LABEL/cg.out
set -e
W=${WEFT_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/weft-target}/release/weft}
L=$1; MODE=$2; N=$3; D=/tmp/cg-$L; PORT=19392
rm -rf $D; mkdir -p $D
ARGS="--data-dir $D/data --admin-listen off --peer-listen off --listen 127.0.0.1:$PORT"
if [ $MODE = secured ]; then
  $W agent $ARGS --authorizer acl --super-users User:ANONYMOUS > $D/setup.log 2>&1 &
  P=$!; sleep 3
  B="-b 127.0.0.1:$PORT"
  $W acl add $B --topic '*' --cluster --allow-principal 'User:*' --operation all >/dev/null
  for i in $(seq 1 100); do $W acl add $B --topic app$i- --resource-pattern-type prefixed --allow-principal User:svc$i --operation write >/dev/null; done
  $W quota set $B --client-defaults --add-config producer_byte_rate=1000000000000 >/dev/null
  kill -INT $P; wait $P || true
  SEC="--authorizer acl"
fi
valgrind --tool=callgrind --callgrind-out-file=$D/cg.out $W agent $ARGS $SEC > $D/agent.log 2>&1 &
P=$!
for i in $(seq 1 120); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 1; done
$W bench --bootstrap-servers 127.0.0.1:$PORT --mode produce --records $N --timeout-secs 600 $BENCH_ARGS > $D/bench.log 2>&1
kill -INT $P; wait $P || true
callgrind_annotate $D/cg.out 2>/dev/null | head -5 > $D/summary.txt
