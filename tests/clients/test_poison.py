"""Record-level validation on the produce path (Kafka's LogValidator, KIP-467).

Poison pills carry a correct CRC but malformed records; they must be refused
with CORRUPT_MESSAGE or INVALID_RECORD and leave nothing behind, so consumers
read past them. A batch whose header lies about its max timestamp is stored
with the true one. Per-record refusals reach real clients as record errors.
"""

from __future__ import annotations

import time

import pytest
import zstandard
from confluent_kafka import KafkaError, TopicPartition

import rawkafka
from clientutil import (Rec, consume_confluent, consume_kafka_python, consumer, create_topic,
                        produce_confluent, produce_kafka_python, unique_topic, wait_for, watermarks)
from rawkafka import (CODEC_GZIP, CODEC_LZ4, CODEC_NONE, CODEC_SNAPPY, CODEC_ZSTD, RawConn,
                      framed_record, produce_batch, raw_batch, record_body, varint)

CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_TIMESTAMP = 32
INVALID_RECORD = 87
FAST_MAINTENANCE = ("--maintenance-interval-ms", "100")


def rec(i: int, key=b"k", value=b"v", headers=((b"h", b"x"),), ts_delta: int = 0) -> bytes:
    return framed_record(record_body(i, key, value, headers, ts_delta))


def poison_pills():
    good = record_body(0, b"k", b"v")
    bomb = zstandard.ZstdCompressor(level=1).compress(bytes(100 << 20))  # 100 MiB of zeros
    yield "record length past the batch end", raw_batch(varint(len(good) + 9) + good, 1)
    yield "key length -2", raw_batch(framed_record(b"\x00\x00\x00" + varint(-2) + varint(1) + b"v" + varint(0)), 1)
    yield "value length -7", raw_batch(framed_record(b"\x00\x00\x00" + varint(1) + b"k" + varint(-7) + varint(0)), 1)
    three_headers_one_present = b"\x00\x00\x00" + varint(-1) + varint(-1) + varint(3) + varint(1) + b"a" + varint(-1)
    yield "header count 3 with one header", raw_batch(framed_record(three_headers_one_present), 1)
    yield "null header key", raw_batch(framed_record(b"\x00\x00\x00" + varint(-1) + varint(-1) + varint(1)
                                                     + varint(-1) + varint(-1)), 1)
    yield "offset deltas 0, 2", raw_batch(rec(0) + rec(2), 2)
    yield "offset deltas 0, 0", raw_batch(rec(0) + rec(0), 2)
    yield "record count 2 with one record", raw_batch(rec(0), 2)
    yield "trailing bytes", raw_batch(rec(0) + b"\x00\x01\x02", 1)
    yield "no records", raw_batch(b"", 0, last_offset_delta=0)
    yield "record longer than its fields", raw_batch(framed_record(good + b"\x00"), 1)
    for codec, name in [(CODEC_GZIP, "gzip"), (CODEC_SNAPPY, "snappy"), (CODEC_LZ4, "lz4"), (CODEC_ZSTD, "zstd")]:
        yield f"undecodable {name}", raw_batch(b"\x01\x02this is not " + name.encode(), 1, codec=codec, compressed=True)
    for codec in (5, 6, 7):
        yield f"unknown codec {codec}", raw_batch(rec(0), 1, codec=codec, compressed=True)
    yield "zstd bomb", raw_batch(bomb, 1, codec=CODEC_ZSTD, compressed=True)
    yield "header count 2^31-1", raw_batch(framed_record(b"\x00\x00\x00" + varint(1) + b"k" + varint(-1)
                                                         + varint(2**31 - 1)), 1)


def valid_recs(tag: str, n: int = 3) -> list:
    return [Rec(partition=0, key=f"{tag}-k{i}".encode(), value=f"{tag}-v{i}".encode()) for i in range(n)]


def test_poison_pills_are_refused_and_consumers_read_past_them(agent):
    topic = unique_topic("poison")
    create_topic(agent.bootstrap, topic)
    before = valid_recs("before")
    assert all(r[0] is None for r in produce_confluent(agent.bootstrap, topic, before))
    # Valid batches of every codec, compressed as the Python libraries do (raw snappy like librdkafka).
    with RawConn(agent.bootstrap) as c:
        for codec in (CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD):
            res = produce_batch(c, topic, 0, raw_batch(rec(0, key=b"c%d" % codec, value=b"codec"), 1, codec=codec))
            assert res["error_code"] == 0, f"valid codec {codec} batch refused: {res}"
    high = watermarks(agent.bootstrap, topic, 0)[1]
    assert high == 3 + 5
    with RawConn(agent.bootstrap) as c:
        for name, batch in poison_pills():
            res = produce_batch(c, topic, 0, batch)
            # A bomb is refused for its size (not retriable); everything else is corrupt or invalid.
            expected = (MESSAGE_TOO_LARGE,) if name == "zstd bomb" else (CORRUPT_MESSAGE, INVALID_RECORD)
            assert res["error_code"] in expected, f"{name}: {res}"
            assert res["error_message"], f"{name}: no error message"
    assert watermarks(agent.bootstrap, topic, 0)[1] == high, "a poison pill was stored"
    after = valid_recs("after")
    assert all(r[0] is None for r in produce_confluent(agent.bootstrap, topic, after))

    want = [r.key for r in before] + [b"c%d" % c for c in range(5)] + [r.key for r in after]
    got = consume_confluent(agent.bootstrap, topic, [0], min_count=len(want))
    assert [r.key for r in got] == want
    assert [r.offset for r in got] == list(range(len(want)))
    got_kp = consume_kafka_python(agent.bootstrap, topic, [0])
    assert [r.key for r in got_kp] == want
    assert agent.running()


def vm_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_huge_header_count_is_refused_and_memory_stays_bounded(agent):
    topic = unique_topic("hdrcount")
    create_topic(agent.bootstrap, topic)
    pill = raw_batch(framed_record(b"\x00\x00\x00" + varint(1) + b"k" + varint(-1) + varint(2**31 - 1)), 1)
    rss_before = vm_rss_kb(agent.proc.pid)
    with RawConn(agent.bootstrap) as c:
        for _ in range(20):
            res = produce_batch(c, topic, 0, pill)
            assert res["error_code"] == INVALID_RECORD, res
            assert "header count" in res["error_message"]
        # ListOffsets by time over the partition decodes nothing poisonous either.
        assert produce_batch(c, topic, 0, raw_batch(rec(0), 1))["error_code"] == 0
    c = consumer(agent.bootstrap)
    try:
        found = c.offsets_for_times([TopicPartition(topic, 0, 0)], timeout=15)
        assert found[0].offset == 0
    finally:
        c.close()
    rss_after = vm_rss_kb(agent.proc.pid)
    assert rss_after - rss_before < 100 * 1024, f"RSS grew from {rss_before} kB to {rss_after} kB"
    assert watermarks(agent.bootstrap, topic, 0)[1] == 1


def test_header_max_timestamp_is_computed_from_the_records(agent_factory):
    """Sarama 1.22 writes -1 as the batch's max timestamp; Kafka derives it from the records."""
    agent = agent_factory(*FAST_MAINTENANCE)
    topic = unique_topic("maxts")
    create_topic(agent.bootstrap, topic)
    base = int(time.time() * 1000) - 60_000
    records = rec(0, key=b"a", ts_delta=0) + rec(1, key=b"b", ts_delta=30_000) + rec(2, key=b"c", ts_delta=20_000)
    with RawConn(agent.bootstrap) as c:
        res = produce_batch(c, topic, 0, raw_batch(records, 3, base_ts=base, max_ts=-1))
        assert res["error_code"] == 0, res
    # Several maintenance passes with the default 7-day retention must keep it.
    time.sleep(1.5)
    low, high = watermarks(agent.bootstrap, topic, 0)
    assert (low, high) == (0, 3)
    got = consume_confluent(agent.bootstrap, topic, [0], min_count=3)
    assert [(r.key, r.timestamp) for r in got] == [(b"a", base), (b"b", base + 30_000), (b"c", base + 20_000)]
    c = consumer(agent.bootstrap)
    try:
        found = c.offsets_for_times([TopicPartition(topic, 0, base + 25_000)], timeout=15)
        assert found[0].offset == 1
        found = c.offsets_for_times([TopicPartition(topic, 0, base + 30_001)], timeout=15)
        assert found[0].offset == -1  # nothing at or after: the end
    finally:
        c.close()


def test_keyless_records_on_a_compacted_topic_fail_one_by_one(agent):
    topic = unique_topic("kip467")
    create_topic(agent.bootstrap, topic, config={"cleanup.policy": "compact"})
    recs = [Rec(partition=0, key=(None if i % 2 else f"k{i}".encode()), value=f"v{i}".encode()) for i in range(5)]
    results = produce_confluent(agent.bootstrap, topic, recs, **{"linger.ms": 500, "retries": 0})
    codes = [r[0].code() if r[0] else 0 for r in results]
    assert codes == [KafkaError._INVALID_DIFFERENT_RECORD, KafkaError.INVALID_RECORD] * 2 \
        + [KafkaError._INVALID_DIFFERENT_RECORD], codes
    assert watermarks(agent.bootstrap, topic, 0)[1] == 0

    # kafka-python (like the Java producer) fails the named records with the broker's error and the
    # others with "part of a batch which had one or more invalid records".
    from kafka import errors as kerr
    kp = produce_kafka_python(agent.bootstrap, topic, recs, linger_ms=500, retries=0)
    for i, (exc, _, _) in enumerate(kp):
        assert exc is not None, f"record {i} was accepted"
        if recs[i].key is None:
            assert isinstance(exc, kerr.InvalidRecordError), repr(exc)
        else:
            assert not isinstance(exc, kerr.InvalidRecordError) and "invalid records" in str(exc), repr(exc)
    assert watermarks(agent.bootstrap, topic, 0)[1] == 0

    # The raw response: record_errors name records 1 and 3, and a message names the first problem.
    with RawConn(agent.bootstrap) as c:
        batch = raw_batch(rec(0, key=b"a") + rec(1, key=None) + rec(2, key=b"c") + rec(3, key=None), 4)
        res = produce_batch(c, topic, 0, batch)
        assert res["error_code"] == INVALID_RECORD
        assert [i for i, _ in res["record_errors"]] == [1, 3]
        assert all("without key" in m for _, m in res["record_errors"])
        assert "record 1" in res["error_message"]
        old = produce_batch(c, topic, 0, batch, version=7)
        assert old["error_code"] == INVALID_RECORD and old["record_errors"] == []
    keyed = [Rec(partition=0, key=b"x", value=b"y")]
    assert produce_confluent(agent.bootstrap, topic, keyed)[0][0] is None


def test_timestamp_bounds_apply_per_record(agent):
    topic = unique_topic("tsbound")
    create_topic(agent.bootstrap, topic, config={"message.timestamp.before.max.ms": "3600000"})
    now = int(time.time() * 1000)
    recs = [Rec(partition=0, key=b"fresh", value=b"v", timestamp=now),
            Rec(partition=0, key=b"old", value=b"v", timestamp=now - 7_200_000)]
    # librdkafka fails every record with the partition's error when the broker names one record only...
    results = produce_confluent(agent.bootstrap, topic, recs, **{"linger.ms": 500, "retries": 0})
    codes = [r[0].code() if r[0] else 0 for r in results]
    assert codes == [KafkaError.INVALID_TIMESTAMP, KafkaError.INVALID_TIMESTAMP], codes
    # ... and, when it names several, those with INVALID_RECORD and the others as different records.
    three = recs + [Rec(partition=0, key=b"older", value=b"v", timestamp=now - 9_000_000)]
    results = produce_confluent(agent.bootstrap, topic, three, **{"linger.ms": 500, "retries": 0})
    codes = [r[0].code() if r[0] else 0 for r in results]
    assert codes == [KafkaError._INVALID_DIFFERENT_RECORD, KafkaError.INVALID_RECORD, KafkaError.INVALID_RECORD], codes
    # kafka-python (as the Java producer) fails the named record with the broker's error, the other not.
    from kafka import errors as kerr
    kp = produce_kafka_python(agent.bootstrap, topic, recs, linger_ms=500, retries=0)
    assert isinstance(kp[1][0], kerr.InvalidTimestampError), repr(kp[1][0])
    assert kp[0][0] is not None and not isinstance(kp[0][0], kerr.InvalidTimestampError), repr(kp[0][0])
    assert watermarks(agent.bootstrap, topic, 0)[1] == 0
    with RawConn(agent.bootstrap) as c:
        batch = raw_batch(rec(0) + rec(1, ts_delta=-7_200_000), 2, base_ts=now, max_ts=now)
        res = produce_batch(c, topic, 0, batch)
        assert res["error_code"] == INVALID_TIMESTAMP, res
        assert [i for i, _ in res["record_errors"]] == [1]
        assert "out of range" in res["record_errors"][0][1]
        ok = produce_batch(c, topic, 0, raw_batch(rec(0), 1, base_ts=now, max_ts=now))
        assert ok["error_code"] == 0
    assert watermarks(agent.bootstrap, topic, 0)[1] == 1
