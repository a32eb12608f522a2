"""ListOffsets: earliest / latest, by timestamp, and max-timestamp."""

from __future__ import annotations

import pytest
from confluent_kafka import OFFSET_END, TopicPartition
from confluent_kafka.admin import OffsetSpec
from kafka import TopicPartition as KTP
from kafka.admin import OffsetSpec as KOffsetSpec

from clientutil import (
    Rec,
    admin_client,
    consumer,
    create_topic,
    kp_admin,
    kp_consumer,
    now_ms,
    produce_confluent,
    unique_topic,
)

TIMEOUT = 30


@pytest.fixture
def ts_topic(agent_module):
    """Partition 0: 5 records with timestamps base+1000 .. base+5000 (offsets
    0..4), produced as two separate batches (3 + 2). Partition 1: empty.

    ``base`` is recent so retention can never remove the records mid-test."""
    b = agent_module.bootstrap
    topic = unique_topic("offs-ts")
    create_topic(b, topic, partitions=2)
    base = (now_ms() // 1000) * 1000 - 3_600_000
    recs = [Rec(0, f"k{i}".encode(), f"v{i}".encode(), timestamp=base + 1000 * i)
            for i in range(1, 6)]
    r1 = produce_confluent(b, topic, recs[:3], acks="all", **{"linger.ms": 50})
    r2 = produce_confluent(b, topic, recs[3:], acks="all", **{"linger.ms": 50})
    assert [(e, o) for e, _p, o in r1 + r2] == [(None, i) for i in range(5)]
    return b, topic, base


def test_watermarks_confluent(ts_topic):
    b, topic, _base = ts_topic
    c = consumer(b)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT, cached=False) == (0, 5)
        assert c.get_watermark_offsets(TopicPartition(topic, 1), timeout=TIMEOUT, cached=False) == (0, 0)
    finally:
        c.close()


def test_offsets_for_times_confluent(ts_topic):
    b, topic, base = ts_topic
    cases = {
        base: 0,             # before everything -> first record
        base + 1000: 0,      # exact match
        base + 1500: 1,      # -> first record with ts >= 1500, i.e. ts 2000
        base + 3000: 2,
        base + 3001: 3,      # crosses the batch boundary
        base + 5000: 4,
        base + 5001: OFFSET_END,  # after the last record -> -1
    }
    c = consumer(b)
    try:
        for ts, want in cases.items():
            [tp] = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=TIMEOUT)
            assert tp.error is None, tp.error
            assert tp.offset == want, f"lookup ts=base+{ts - base}: offset {tp.offset} != {want}"
        [empty] = c.offsets_for_times([TopicPartition(topic, 1, base)], timeout=TIMEOUT)
        assert empty.offset == OFFSET_END
    finally:
        c.close()


def test_list_offsets_admin_confluent(ts_topic):
    b, topic, base = ts_topic
    a = admin_client(b)
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)

    def one(tp, spec):
        fs = a.list_offsets({tp: spec}, request_timeout=TIMEOUT)
        [f] = fs.values()
        return f.result(timeout=TIMEOUT)

    assert one(tp0, OffsetSpec.earliest()).offset == 0
    assert one(tp0, OffsetSpec.latest()).offset == 5
    assert one(tp1, OffsetSpec.earliest()).offset == 0
    assert one(tp1, OffsetSpec.latest()).offset == 0
    r = one(tp0, OffsetSpec.for_timestamp(base + 1500))
    assert (r.offset, r.timestamp) == (1, base + 2000)
    assert one(tp0, OffsetSpec.for_timestamp(base + 9999)).offset == -1
    r = one(tp0, OffsetSpec.max_timestamp())
    assert (r.offset, r.timestamp) == (4, base + 5000)


def test_max_timestamp_with_out_of_order_timestamps(agent_module):
    """max_timestamp returns the record with the highest timestamp, not the last."""
    b = agent_module.bootstrap
    topic = unique_topic("offs-maxts")
    create_topic(b, topic, partitions=1)
    base = (now_ms() // 1000) * 1000 - 3_600_000
    tss = [3000, 5000, 1000, 2000, 4000]
    recs = [Rec(0, None, f"v{t}".encode(), timestamp=base + t) for t in tss]
    produce_confluent(b, topic, recs[:2], acks="all")
    produce_confluent(b, topic, recs[2:], acks="all")
    tp = TopicPartition(topic, 0)
    a = admin_client(b)  # must outlive its future
    [f] = a.list_offsets({tp: OffsetSpec.max_timestamp()}, request_timeout=TIMEOUT).values()
    r = f.result(timeout=TIMEOUT)
    assert (r.offset, r.timestamp) == (1, base + 5000)

    # timestamp lookup is "first offset whose timestamp >= t", in offset order
    c = consumer(b)
    try:
        [x] = c.offsets_for_times([TopicPartition(topic, 0, base + 3500)], timeout=TIMEOUT)
        assert x.offset == 1
        [x] = c.offsets_for_times([TopicPartition(topic, 0, base + 1500)], timeout=TIMEOUT)
        assert x.offset == 0
    finally:
        c.close()


def test_offsets_kafka_python_consumer(ts_topic):
    b, topic, base = ts_topic
    tp0, tp1 = KTP(topic, 0), KTP(topic, 1)
    c = kp_consumer(b)
    try:
        assert c.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}
        assert c.end_offsets([tp0, tp1]) == {tp0: 5, tp1: 0}
        got = c.offsets_for_times({tp0: base + 1500})
        assert got[tp0] is not None
        assert (got[tp0].offset, got[tp0].timestamp) == (1, base + 2000)
        assert c.offsets_for_times({tp0: base + 1000})[tp0].offset == 0
        assert c.offsets_for_times({tp0: base + 5001})[tp0] is None
        assert c.offsets_for_times({tp1: base})[tp1] is None
    finally:
        c.close(autocommit=False)


def test_offsets_kafka_python_admin(ts_topic):
    b, topic, base = ts_topic
    tp0 = KTP(topic, 0)
    admin = kp_admin(b)
    try:
        got = admin.list_partition_offsets({tp0: KOffsetSpec.EARLIEST})
        assert got[tp0].offset == 0
        got = admin.list_partition_offsets({tp0: KOffsetSpec.LATEST})
        assert got[tp0].offset == 5
        got = admin.list_partition_offsets({tp0: KOffsetSpec.MAX_TIMESTAMP})
        assert (got[tp0].offset, got[tp0].timestamp) == (4, base + 5000)
    finally:
        admin.close()

