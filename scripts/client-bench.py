#!/usr/bin/env python3
"""Produce then consume through confluent-kafka against any Kafka-compatible server (issue 21's comparison).

The same client and load for every server: 1 KiB values that lz4 shrinks to about half (random bytes then
repeated ones), acks=all, lz4, a fixed topic of P partitions made here, N records. Produce: one producer,
records/s and MB/s of values from the first send to the last delivery report. Consume: one consumer assigned
every partition from the beginning (no group), until all N records are read. MB = 10^6 bytes of values.

    python3 scripts/client-bench.py --bootstrap 127.0.0.1:9092 --records 1000000 --partitions 12
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def make_values(count, size, seed=7):
    """Distinct values: the first half random, the second half one repeated byte (lz4 ratio near 0.51)."""
    rnd = random_bytes(count * (size // 2), seed)
    half = size - size // 2
    return [rnd[i * (size // 2) : (i + 1) * (size // 2)] + bytes([i % 251]) * half for i in range(count)]


def random_bytes(n, seed):
    import random

    r = random.Random(seed)
    return r.randbytes(n)


def create_topic(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for f in fs.values():
        try:
            f.result(30)
        except Exception as e:  # noqa: BLE001 - an existing topic is fine, anything else is fatal
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise
    deadline = time.time() + 30
    while time.time() < deadline:
        md = admin.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        time.sleep(0.2)
    sys.exit(f"topic {topic} did not appear with {partitions} partitions")


def produce(bootstrap, topic, records, size, extra):
    values = make_values(min(records, 4096), size)
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
    }
    conf.update(extra)
    p = Producer(conf)
    state = {"ok": 0, "err": 0}

    def on_delivery(err, _msg):
        if err is None:
            state["ok"] += 1
        else:
            state["err"] += 1

    start = time.perf_counter()
    for i in range(records):
        v = values[i % len(values)]
        while True:
            try:
                p.produce(topic, v, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.005)
        if i % 1000 == 0:
            p.poll(0)
    p.flush(300)
    secs = time.perf_counter() - start
    if state["ok"] != records:
        sys.exit(f"produce: {state['ok']} of {records} delivered, {state['err']} errors")
    return secs


def consume(bootstrap, topic, partitions, records, extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "client-bench-unused",
        "enable.auto.commit": False,
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 10_485_760,
    }
    conf.update(extra)
    c = Consumer(conf)
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = 0
    nbytes = 0
    start = None
    deadline = time.time() + 600
    while got < records and time.time() < deadline:
        msgs = c.consume(10_000, 1.0)
        for m in msgs:
            if m.error() is not None:
                continue
            if start is None:
                start = time.perf_counter()
            got += 1
            nbytes += len(m.value())
    secs = time.perf_counter() - (start or time.perf_counter())
    c.close()
    if got < records:
        sys.exit(f"consume: {got} of {records} records read")
    return secs, nbytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--topic", default=f"client-bench-{os.getpid()}")
    ap.add_argument("--mode", choices=["both", "produce", "consume"], default="both")
    ap.add_argument("-X", action="append", default=[], help="extra client setting key=value")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    extra = dict(kv.split("=", 1) for kv in a.X)
    out = {"records": a.records, "size": a.size, "partitions": a.partitions, "topic": a.topic}
    if a.mode in ("both", "produce"):
        create_topic(a.bootstrap, a.topic, a.partitions)
        secs = produce(a.bootstrap, a.topic, a.records, a.size, extra)
        out["produce_secs"] = round(secs, 3)
        out["produce_mb_s"] = round(a.records * a.size / secs / 1e6, 1)
        out["produce_rec_s"] = round(a.records / secs)
    if a.mode in ("both", "consume"):
        secs, nbytes = consume(a.bootstrap, a.topic, a.partitions, a.records, extra)
        out["consume_secs"] = round(secs, 3)
        out["consume_mb_s"] = round(nbytes / secs / 1e6, 1)
        out["consume_rec_s"] = round(a.records / secs)
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:16} {v}")


if __name__ == "__main__":
    main()
