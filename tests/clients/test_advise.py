"""``weft advise --json`` against an agent under confluent-kafka traffic.

A producer sends one record per request (linger 0, acks 0), another writes mostly one
key, a group commits but falls behind while production goes on, and a
well-behaved producer batches and compresses. The advisor must recommend
linger for the first producer's client id, key or partitioner changes for the
skewed topic, more consumers for the group, and none of these for the
well-behaved producer and topic."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Consumer, Producer

from clientutil import create_topic, unique_topic, wait_for
from cliutil import run_json


def produce_until(stop: threading.Event, bootstrap: str, topic: str, client_id: str, every: float,
                  per_tick: int, key, **conf):
    conf = {"bootstrap.servers": bootstrap, "client.id": client_id, "enable.idempotence": True, **conf}
    p = Producer(conf)
    i = 0
    while not stop.is_set():
        for _ in range(per_tick):
            p.produce(topic, key=key(i), value=('{"n":%d,"payload":"%s"}' % (i, "x" * 64)).encode())
            i += 1
        p.poll(0)
        time.sleep(every)
    p.flush(30)


def consume_slowly(stop: threading.Event, bootstrap: str, topic: str, group: str, commits: list):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    n = 0
    while not stop.is_set():
        m = c.poll(0.1)
        if m is None or m.error():
            continue
        n += 1
        time.sleep(0.05)
        if n % 10 == 0:
            c.commit(message=m, asynchronous=False)
            commits.append(n)
    c.close()


def test_advise_recommends_from_observed_traffic(agent, weft_bin):
    b = agent.bootstrap
    tiny, skewed, calm, lagged = (unique_topic(p) for p in ("tiny", "skewed", "calm", "lagged"))
    for t, n in ((tiny, 1), (skewed, 4), (calm, 4), (lagged, 2)):
        create_topic(b, t, n)
    group = unique_topic("slow-group")
    stop = threading.Event()
    commits: list = []
    threads = [
        # acks=0: every record leaves alone however slow the agent answers (no in-flight limit to queue behind).
        threading.Thread(target=produce_until, args=(stop, b, tiny, "py-tiny", 0.004, 1, lambda i: b"k%d" % (i % 100)),
                         kwargs={"linger.ms": 0, "acks": 0, "enable.idempotence": False}),
        threading.Thread(target=produce_until,
                         args=(stop, b, skewed, "py-skewed", 0.02, 20,
                               lambda i: b"k%d" % i if i % 5 == 0 else b"hot"), kwargs={"linger.ms": 5}),
        threading.Thread(target=produce_until,
                         args=(stop, b, calm, "py-calm", 0.02, 20, lambda i: b"user-%d" % (i % 1000)),
                         kwargs={"linger.ms": 50, "compression.type": "lz4"}),
        threading.Thread(target=produce_until, args=(stop, b, lagged, "py-lagged", 0.05, 4, lambda i: b"k%d" % i),
                         kwargs={"linger.ms": 20}),
        threading.Thread(target=consume_slowly, args=(stop, b, lagged, group, commits)),
    ]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(commits) >= 2, 60, desc="the slow group commits")
        report = run_json(weft_bin, b, "advise", "--sample-secs", "4", "--admin-url", f"http://{agent.admin}",
                          timeout=120)
    finally:
        stop.set()
        for t in threads:
            t.join(60)

    assert report["version"] == 1
    recs = report["recommendations"]
    found = {(r["id"], r["target"]) for r in recs}
    for r in recs:
        assert r["evidence"] and r["effect"] and r["suggested"], r
    assert ("tiny-batches", "client py-tiny") in found, recs
    assert ("partition-skew", f"topic {skewed}") in found, recs
    assert ("hot-key", f"topic {skewed}") in found, recs
    assert ("lag-growing", f"group {group} on {lagged}") in found, recs
    quiet = {"tiny-batches", "partition-skew", "hot-key", "lag-growing", "idle-partitions", "idempotence-off"}
    for r in recs:
        if r["target"] in (f"topic {calm}", "client py-calm"):
            assert r["id"] not in quiet, r
    clients = {c["client_id"]: c for c in report["observations"]["clients"]}
    tiny_client = clients["py-tiny"]
    # Under load librdkafka may put a few queued records in one request; still far below 5 per batch.
    assert tiny_client["records"] < 5 * tiny_client["batches"], (tiny_client, recs)
    assert clients["py-calm"]["records"] >= 5 * clients["py-calm"]["batches"], clients["py-calm"]
