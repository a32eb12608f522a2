"""Keyed records with headers in every codec and acks level, produced with
confluent-kafka, kafka-python and kcat, and read back exactly (key, value,
headers, CreateTime timestamp, per-partition order and offsets) with
confluent-kafka, kafka-python and kcat."""

from __future__ import annotations

import pytest

from clientutil import (
    Rec,
    assert_same_records,
    by_partition,
    consume_confluent,
    consume_kafka_python,
    consume_kcat,
    create_topic,
    kcat,
    now_ms,
    produce_confluent,
    produce_kafka_python,
    unique_topic,
    wait_high_watermarks,
)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ACKS = ["0", "1", "all"]
PARTITIONS = 3
N = 30


def make_records(n: int = N, partitions: int = PARTITIONS) -> list:
    """Text-only (kcat prints JSON strings) keyed records with headers and
    explicit, distinct timestamps; a few edge cases mixed in."""
    base = now_ms() - 60_000
    recs = []
    for i in range(n):
        key = f"key-{i:03d}".encode()
        value = (f"value-{i:03d}|" + "compressible-" * (i % 7)).encode()
        headers = [("seq", str(i).encode()), ("dup", b"first"), ("dup", b"second")]
        if i % 5 == 0:
            headers = []
        if i == 7:
            key = None          # un-keyed record
        if i == 11:
            value = None        # tombstone
        if i == 13:
            value = b""         # empty, not null
        if i == 17:
            headers = [("empty", b"")]
        recs.append(Rec(partition=i % partitions, key=key, value=value, headers=headers,
                        timestamp=base + i * 10))
    return recs


def wait_all_stored(b: str, topic: str, expected: list):
    """acks=0 has no acknowledgement to wait for: wait (bounded) for the data."""
    counts = {p: len(v) for p, v in by_partition(expected).items()}
    return lambda: wait_high_watermarks(b, topic, counts)


def verify_with_all_consumers(b: str, topic: str, expected: list, dense: bool) -> None:
    parts = list(range(PARTITIONS))
    wait_all_stored(b, topic, expected)()

    got = consume_confluent(b, topic, parts, min_count=len(expected))
    assert_same_records(expected, got, check_offsets=dense, client="confluent")

    got = consume_kafka_python(b, topic, parts)
    assert_same_records(expected, got, check_offsets=dense, client="kafka-python")

    got = consume_kcat(b, topic)
    assert_same_records(expected, got, check_offsets=dense, client="kcat")


def check_delivery_offsets(expected: list, results: list, acks: str) -> None:
    for i, (err, p, off) in enumerate(results):
        assert err is None, f"record {i}: delivery failed: {err}"
        assert p == expected[i].partition
    if acks == "0":
        return
    # acked offsets are dense 0..n-1 per partition, in produce order
    per_part: dict = {}
    for i, (_e, p, off) in enumerate(results):
        per_part.setdefault(p, []).append(off)
    for p, offs in per_part.items():
        assert offs == list(range(len(offs))), f"partition {p}: acked offsets {offs}"


@pytest.mark.parametrize("acks", ACKS)
@pytest.mark.parametrize("codec", CODECS)
def test_confluent_produce(agent_module, codec, acks):
    b = agent_module.bootstrap
    topic = unique_topic(f"pc-cfl-{codec}-a{acks}")
    create_topic(b, topic, partitions=PARTITIONS)
    recs = make_records()
    results = produce_confluent(b, topic, recs, acks=acks,
                                before_close=wait_all_stored(b, topic, recs),
                                **{"compression.type": codec, "linger.ms": 20})
    check_delivery_offsets(recs, results, acks)
    verify_with_all_consumers(b, topic, recs, dense=acks != "0")


@pytest.mark.parametrize("acks", ACKS)
@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_produce(agent_module, codec, acks):
    b = agent_module.bootstrap
    topic = unique_topic(f"pc-kp-{codec}-a{acks}")
    create_topic(b, topic, partitions=PARTITIONS)
    recs = make_records()
    results = produce_kafka_python(b, topic, recs, acks=acks if acks == "all" else int(acks),
                                   compression_type=None if codec == "none" else codec,
                                   linger_ms=20, before_close=wait_all_stored(b, topic, recs))
    check_delivery_offsets(recs, results, acks)
    verify_with_all_consumers(b, topic, recs, dense=acks != "0")


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_produce(agent_module, codec):
    b = agent_module.bootstrap
    topic = unique_topic(f"pc-kcat-{codec}")
    create_topic(b, topic, partitions=2)
    lines = [(f"k{i}", f"v{i}-" + "abc" * i) for i in range(20)]
    stdin = "".join(f"{k}:{v}\n" for k, v in lines).encode()
    before = now_ms()
    kcat(b, "-P", "-t", topic, "-p", "1", "-z", codec, "-K:",
         "-H", "h1=one", "-H", "dup=a", "-H", "dup=b",
         "-X", "acks=all", "-X", "linger.ms=20", input=stdin)
    after = now_ms()

    headers = [("h1", b"one"), ("dup", b"a"), ("dup", b"b")]
    expected = [Rec(1, k.encode(), v.encode(), headers) for k, v in lines]
    wait_high_watermarks(b, topic, {0: 0, 1: len(lines)})
    for client, got in [
        ("confluent", consume_confluent(b, topic, [0, 1], min_count=len(lines))),
        ("kafka-python", consume_kafka_python(b, topic, [0, 1])),
        ("kcat", consume_kcat(b, topic)),
    ]:
        assert_same_records(expected, got, check_timestamps=False, client=client)
        for r in got:
            assert r.tstype == "create", (client, r)
            # CreateTime is the producer's clock (same machine): within the produce window
            assert before - 1000 <= r.timestamp <= after + 1000, (client, r.timestamp, before, after)


def test_kcat_produce_without_partition_uses_keys(agent_module):
    """Keyed kcat records without -p land on a consistent partition per key."""
    b = agent_module.bootstrap
    topic = unique_topic("pc-kcat-keyed")
    create_topic(b, topic, partitions=3)
    lines = [(f"key{i % 4}", f"val{i}") for i in range(24)]
    stdin = "".join(f"{k}:{v}\n" for k, v in lines).encode()
    kcat(b, "-P", "-t", topic, "-K:", "-X", "acks=all", input=stdin)
    got = consume_kcat(b, topic)
    assert sorted(r.value for r in got) == sorted(v.encode() for _k, v in lines)
    part_of_key: dict = {}
    for r in got:
        assert part_of_key.setdefault(r.key, r.partition) == r.partition, r
    for p, rs in by_partition(got).items():
        assert [r.offset for r in rs] == list(range(len(rs)))
        # per key, order preserved
        for k in {r.key for r in rs}:
            vals = [int(r.value[3:]) for r in rs if r.key == k]
            assert vals == sorted(vals)


def test_binary_keys_values_and_headers_round_trip(agent_module):
    """Arbitrary bytes (not just text) survive, checked with the two libraries
    that expose raw bytes."""
    b = agent_module.bootstrap
    topic = unique_topic("pc-binary")
    create_topic(b, topic, partitions=1)
    base = now_ms() - 10_000
    recs = [Rec(0, bytes([i, 0, 255 - i]), bytes(range(256)) * (i + 1),
                [("bin", bytes([0, i, 0xFF]))], timestamp=base + i) for i in range(10)]
    res = produce_confluent(b, topic, recs, acks="all", **{"compression.type": "zstd"})
    assert [o for _e, _p, o in res] == list(range(10))
    assert_same_records(recs, consume_confluent(b, topic, [0], min_count=10), client="confluent")
    assert_same_records(recs, consume_kafka_python(b, topic, [0]), client="kafka-python")


def test_mixed_codecs_in_one_partition(agent_module):
    """Batches with different codecs interleaved in one partition read back in
    order with contiguous offsets."""
    b = agent_module.bootstrap
    topic = unique_topic("pc-mixed")
    create_topic(b, topic, partitions=1)
    base = now_ms() - 10_000
    expected = []
    for j, codec in enumerate(CODECS * 2):
        recs = [Rec(0, f"{codec}-{j}-{i}".encode(), f"v-{j}-{i}".encode(),
                    [("codec", codec.encode())], timestamp=base + j * 100 + i) for i in range(5)]
        if j % 2:
            produce_kafka_python(b, topic, recs, acks="all",
                                 compression_type=None if codec == "none" else codec)
        else:
            produce_confluent(b, topic, recs, acks="all", **{"compression.type": codec})
        expected += recs
    for client, got in [("confluent", consume_confluent(b, topic, [0], min_count=len(expected))),
                        ("kafka-python", consume_kafka_python(b, topic, [0])),
                        ("kcat", consume_kcat(b, topic))]:
        assert_same_records(expected, got, client=client)
