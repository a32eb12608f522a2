"""Where consumption starts: earliest, latest, and an explicit offset."""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition
from kafka import TopicPartition as KTP

from clientutil import (
    Rec,
    consume_confluent,
    consume_kafka_python,
    consume_kcat,
    consumer,
    create_topic,
    drain_confluent,
    kp_consumer,
    produce_confluent,
    unique_topic,
    wait_for,
)


def _seed(b, topic, n, partition=0, prefix="old"):
    recs = [Rec(partition, f"{prefix}-k{i}".encode(), f"{prefix}-v{i}".encode()) for i in range(n)]
    res = produce_confluent(b, topic, recs, acks="all")
    assert all(e is None for e, _p, _o in res), res
    return res


def _kv(recs):
    return [(r.offset, r.key, r.value) for r in recs]


def test_consume_from_earliest(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("pos-earliest")
    create_topic(b, topic, partitions=1)
    _seed(b, topic, 10)
    want = [(i, f"old-k{i}".encode(), f"old-v{i}".encode()) for i in range(10)]
    assert _kv(consume_confluent(b, topic, [0], start=OFFSET_BEGINNING, min_count=10)) == want
    assert _kv(consume_kafka_python(b, topic, [0], start="earliest")) == want
    assert _kv(consume_kcat(b, topic, 0, offset="beginning")) == want


def test_consume_from_given_offset(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("pos-offset")
    create_topic(b, topic, partitions=1)
    _seed(b, topic, 10)
    want = [(i, f"old-k{i}".encode(), f"old-v{i}".encode()) for i in range(4, 10)]
    assert _kv(consume_confluent(b, topic, [0], start=4, min_count=6)) == want
    assert _kv(consume_kafka_python(b, topic, [0], start=4)) == want
    assert _kv(consume_kcat(b, topic, 0, offset="4")) == want
    # the last record exactly, and relative-from-end with kcat
    assert _kv(consume_confluent(b, topic, [0], start=9, min_count=1)) == want[-1:]
    assert _kv(consume_kcat(b, topic, 0, offset="-2")) == want[-2:]


def test_consume_from_latest_confluent(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("pos-latest-cfl")
    create_topic(b, topic, partitions=1)
    _seed(b, topic, 5)
    c = consumer(b)
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_END)])
        # EOF means the consumer resolved "latest" and is positioned at the end.
        assert drain_confluent(c, topic, [0]) == []
        _seed(b, topic, 3, prefix="new")
        got = drain_confluent(c, topic, [0], min_count=3)
    finally:
        c.close()
    assert _kv(got) == [(5 + i, f"new-k{i}".encode(), f"new-v{i}".encode()) for i in range(3)]


def test_consume_from_latest_kafka_python(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("pos-latest-kp")
    create_topic(b, topic, partitions=1)
    _seed(b, topic, 5)
    c = kp_consumer(b)
    tp = KTP(topic, 0)
    try:
        c.assign([tp])
        c.seek_to_end(tp)
        assert c.position(tp) == 5  # resolves "latest" now
        _seed(b, topic, 3, prefix="new")
        got = []

        def poll():
            for _tp, batch in c.poll(timeout_ms=300).items():
                got.extend(batch)
            return len(got) >= 3
        wait_for(poll, 30, interval=0, desc="3 new records")
    finally:
        c.close(autocommit=False)
    assert [(r.offset, r.key, r.value) for r in got] == [
        (5 + i, f"new-k{i}".encode(), f"new-v{i}".encode()) for i in range(3)]


def test_consume_from_latest_kcat_on_idle_partition_gets_nothing(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("pos-latest-kcat")
    create_topic(b, topic, partitions=1)
    _seed(b, topic, 5)
    assert consume_kcat(b, topic, 0, offset="end") == []


def test_assign_past_end_resets_per_auto_offset_reset(agent_module):
    """An out-of-range start offset falls back to auto.offset.reset."""
    b = agent_module.bootstrap
    topic = unique_topic("pos-oor")
    create_topic(b, topic, partitions=1)
    _seed(b, topic, 4)
    got = consume_confluent(b, topic, [0], start=1000, min_count=4,
                            **{"auto.offset.reset": "earliest"})
    assert [r.offset for r in got] == [0, 1, 2, 3]
