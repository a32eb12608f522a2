"""Retention by time and size, DeleteRecords, log compaction, object
compaction and LogAppendTime, seen through real clients (confluent-kafka /
librdkafka, kafka-python) against an agent whose maintenance runs every
200 ms."""

from __future__ import annotations

import glob
import os
import pytest
from confluent_kafka import TopicPartition

from clientutil import (
    Rec,
    admin_client,
    consume_confluent,
    consume_kafka_python,
    create_topic,
    now_ms,
    produce_confluent,
    unique_topic,
    wait_for,
    watermarks,
)

FAST = ("--maintenance-interval-ms", "200", "--merge-min-age-ms", "0", "--gc-grace-ms", "0")


@pytest.fixture
def fast_agent(agent_factory):
    return agent_factory(*FAST)


def produce_batches(b, topic, batches, **conf):
    """Each inner list is flushed on its own, so it lands in its own segment object."""
    for recs in batches:
        for err, _, _ in produce_confluent(b, topic, recs, **conf):
            assert err is None, err


def segment_files(agent, kind):
    return glob.glob(os.path.join(agent.data_dir, "objects", "v1", kind, "*.seg"))


def test_time_retention_moves_earliest_and_hides_old_records(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("rtime")
    create_topic(b, t, config={"retention.ms": "3000"})
    old = now_ms() - 60_000
    produce_batches(b, t, [[Rec(partition=0, key=b"old", value=b"%d" % i, timestamp=old) for i in range(5)]])
    produce_batches(b, t, [[Rec(partition=0, key=b"new", value=b"%d" % i) for i in range(3)]])
    wait_for(lambda: watermarks(b, t, 0)[0] == 5, 20, desc="log start past the expired records")
    assert watermarks(b, t, 0) == (5, 8)
    got = consume_confluent(b, t, [0], min_count=3)
    assert [(r.offset, r.key) for r in got] == [(5, b"new"), (6, b"new"), (7, b"new")]
    # kafka-python's earliest follows too
    assert [r.offset for r in consume_kafka_python(b, t, [0])] == [5, 6, 7]
    # after retention.ms everything goes, and the log start reaches the end
    wait_for(lambda: watermarks(b, t, 0) == (8, 8), 20, desc="all records expired")


def test_size_retention_keeps_the_newest_bytes(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("rsize")
    create_topic(b, t, config={"retention.bytes": "3000"})
    # ten batches of ~1 KiB each
    produce_batches(b, t, [[Rec(partition=0, key=b"k", value=bytes([65 + i]) * 1000)] for i in range(10)])
    # Each batch is ~1070 bytes: keeping at least 3000 bytes keeps the newest three.
    wait_for(lambda: watermarks(b, t, 0) == (7, 10), 20, desc="size retention")
    low, high = watermarks(b, t, 0)
    got = consume_confluent(b, t, [0], min_count=high - low)
    assert [r.offset for r in got] == list(range(low, 10))
    assert got[-1].value == b"J" * 1000


def test_delete_records_moves_the_log_start_on_demand(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("rdelete")
    create_topic(b, t, partitions=2)
    produce_batches(b, t, [[Rec(partition=p, key=b"k", value=b"v%d" % i) for i in range(10)] for p in (0, 1)])
    a = admin_client(b)
    fs = a.delete_records([TopicPartition(t, 0, 4), TopicPartition(t, 1, -1)], request_timeout=30)
    lows = {tp.partition: f.result(30).low_watermark for tp, f in fs.items()}
    assert lows == {0: 4, 1: 10}
    assert watermarks(b, t, 0) == (4, 10)
    assert watermarks(b, t, 1) == (10, 10)
    assert [r.offset for r in consume_confluent(b, t, [0], min_count=6)] == list(range(4, 10))
    # Offsets below the log start are out of range; past the end too.
    fs = a.delete_records([TopicPartition(t, 0, 11)], request_timeout=30)
    with pytest.raises(Exception, match="OFFSET_OUT_OF_RANGE|out of range"):
        list(fs.values())[0].result(30)
    fs = a.delete_records([TopicPartition(t, 0, 2)], request_timeout=30)
    assert list(fs.values())[0].result(30).low_watermark == 4, "the log start never moves back"


def test_compacted_topic_keeps_the_latest_value_per_key(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("compact")
    create_topic(b, t, config={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
                                "delete.retention.ms": "600000"})
    latest = {}
    batches = []
    offset = 0
    for round_ in range(4):
        recs = []
        for k in range(5):
            key = b"key-%d" % k
            value = None if (round_ == 2 and k == 3) else b"v%d-%d" % (round_, k)
            recs.append(Rec(partition=0, key=key, value=value))
            latest[key] = (offset, value)
            offset += 1
        batches.append(recs)
    produce_batches(b, t, batches)
    # A last batch (never cleaned, like Kafka's active segment) with a fresh key.
    produce_batches(b, t, [[Rec(partition=0, key=b"tail", value=b"t")]])

    def compacted():
        return consume_confluent(b, t, [0], min_count=1)

    # Rounds 0..3 are cleanable; the tail batch is not. Key 3's round-3 value supersedes its tombstone.
    want = sorted((o, k, v) for k, (o, v) in latest.items()) + [(20, b"tail", b"t")]
    wait_for(lambda: [(r.offset, r.key, r.value) for r in compacted()] == want, 30,
             desc="compaction to the latest value per key")
    assert watermarks(b, t, 0) == (0, 21), "compaction never moves the log start or end"
    # kafka-python reads the same gapped log
    assert [(r.offset, r.key, r.value) for r in consume_kafka_python(b, t, [0])] == want


def test_tombstones_go_after_delete_retention(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("tomb")
    create_topic(b, t, config={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
                                "delete.retention.ms": "1500"})
    produce_batches(b, t, [[Rec(partition=0, key=b"a", value=b"1"), Rec(partition=0, key=b"b", value=b"1")],
                           [Rec(partition=0, key=b"a", value=None)],
                           [Rec(partition=0, key=b"c", value=b"tail")]])
    wait_for(lambda: [(r.offset, r.key) for r in consume_confluent(b, t, [0], min_count=1)] == [(1, b"b"), (3, b"c")],
             30, desc="the tombstone for 'a' disappears after delete.retention.ms")


def test_object_compaction_keeps_every_record_readable(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("merge")
    create_topic(b, t, partitions=2)
    batches = [[Rec(partition=p, key=b"k%d" % i, value=b"v%d-%d" % (p, i), headers=[("h", b"%d" % i)])]
               for i in range(15) for p in (0, 1)]
    # Merging waits until the flush segments are 3 s old, so the full read below sees them unmerged.
    fast_agent.stop()
    fast_agent.extra_args = ("--maintenance-interval-ms", "200", "--merge-min-age-ms", "3000", "--gc-grace-ms", "0")
    fast_agent.start()
    b = fast_agent.bootstrap
    produce_batches(b, t, batches)
    full = consume_confluent(b, t, [0, 1], min_count=30)
    assert len(full) == 30
    assert len(segment_files(fast_agent, "segments")) >= 15
    wait_for(lambda: len(segment_files(fast_agent, "merged")) >= 2 and
             len(segment_files(fast_agent, "segments")) <= 2, 30,
             desc="flush segments merged into per-partition objects and deleted")
    after = consume_confluent(b, t, [0, 1], min_count=30)
    key = lambda r: (r.partition, r.offset)  # noqa: E731
    assert sorted(after, key=key) == sorted(full, key=key)


def test_log_append_time_replaces_producer_timestamps(fast_agent):
    b = fast_agent.bootstrap
    t = unique_topic("lat")
    create_topic(b, t, config={"message.timestamp.type": "LogAppendTime"})
    before = now_ms()
    produce_batches(b, t, [[Rec(partition=0, key=b"k", value=b"v", timestamp=1_000_000)]])
    after = now_ms()
    c = consume_confluent(b, t, [0], min_count=1)[0]
    assert c.tstype == "append"
    assert before - 1000 <= c.timestamp <= after + 1000, (before, c.timestamp, after)
    # The offset for a time follows the append time, not the producer's.
    from clientutil import consumer
    cons = consumer(b)
    try:
        found = cons.offsets_for_times([TopicPartition(t, 0, before - 1000)], timeout=15)
        assert found[0].offset == 0
    finally:
        cons.close()
