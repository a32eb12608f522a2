"""A partition's record set is appended all or nothing. Kafka's broker refuses a Produce request (v3+) whose record
set for a partition holds more than one batch (ProduceRequest.validateRecords: INVALID_RECORD, nothing stored),
whatever the batches hold. No client sends such a request, so these cases use raw requests (Produce v9 with two
idempotent batches, correct CRCs); what is stored is then read back with confluent-kafka. (The metastore's own
all-or-none rule for multi-batch sets is pinned by the conformance suite.)"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition

from clientutil import create_topic, unique_topic
from rawkafka import RawConn, idempotent_batch, init_producer_id, produce_record_set

INVALID_RECORD = 87


def _watermarks(bootstrap: str, topic: str):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def _read_all(bootstrap: str, topic: str, expected: int):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.time() + 30
    try:
        while time.time() < deadline and len(got) < expected:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append((m.offset(), m.value()))
        # Nothing beyond what was expected shows up.
        extra = c.poll(1.0)
        assert extra is None or extra.error(), f"unexpected record at offset {extra.offset()}"
    finally:
        c.close()
    return got


def test_a_refused_batch_refuses_the_whole_record_set_in_either_order(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("atomic")
    create_topic(b, topic)
    now = int(time.time() * 1000)
    with RawConn(b) as conn:
        pid = init_producer_id(conn)
        assert pid["error_code"] == 0, pid
        batch = lambda values, seq: idempotent_batch(values, pid["producer_id"], pid["producer_epoch"], seq, now)

        # The second batch skips sequences 1..4; reversed, the valid batch comes second. Neither set is stored.
        for records in (batch([b"a"], 0) + batch([b"b"], 5), batch([b"b"], 5) + batch([b"a"], 0)):
            r = produce_record_set(conn, topic, 0, records)
            assert (r["error_code"], r["base_offset"]) == (INVALID_RECORD, -1), r
            assert "exactly one record batch per partition" in r["error_message"], r
            assert _watermarks(b, topic) == (0, 0)

        # Nothing advanced the producer: its correct retry starts at sequence 0 and is stored at offset 0.
        r = produce_record_set(conn, topic, 0, batch([b"a", b"b"], 0))
        assert (r["error_code"], r["base_offset"]) == (0, 0), r
    assert _watermarks(b, topic) == (0, 2)
    assert _read_all(b, topic, 2) == [(0, b"a"), (1, b"b")]


def test_a_valid_two_batch_record_set_is_refused_whole(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("atomic-two")
    create_topic(b, topic)
    now = int(time.time() * 1000)
    with RawConn(b) as conn:
        pid = init_producer_id(conn)
        batch = lambda values, seq: idempotent_batch(values, pid["producer_id"], pid["producer_epoch"], seq, now)
        r = produce_record_set(conn, topic, 0, batch([b"x"], 0))
        assert (r["error_code"], r["base_offset"]) == (0, 0), r
        r = produce_record_set(conn, topic, 0, batch([b"y", b"z"], 1) + batch([b"w"], 3))
        assert (r["error_code"], r["base_offset"]) == (INVALID_RECORD, -1), r
        # The producer's state did not move: the next batch still follows sequence 0.
        r = produce_record_set(conn, topic, 0, batch([b"y", b"z", b"w"], 1))
        assert (r["error_code"], r["base_offset"]) == (0, 1), r
    assert _read_all(b, topic, 4) == [(0, b"x"), (1, b"y"), (2, b"z"), (3, b"w")]
