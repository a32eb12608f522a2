"""Record size limits: records bigger than the consumer's fetch limits are still
delivered; records bigger than the topic's max.message.bytes are rejected."""

from __future__ import annotations

import os
import random
import string

from confluent_kafka import KafkaError
from kafka import errors as kerr

from clientutil import (
    Rec,
    consume_confluent,
    consume_kafka_python,
    consume_kcat,
    create_topic,
    produce_confluent,
    produce_kafka_python,
    unique_topic,
    watermarks,
)

LARGE = 700_000          # < default max.message.bytes (1048588)
FETCH_MAX = 100_000      # consumer limits well below LARGE
PARTITION_FETCH_MAX = 50_000


def _text(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters) for _ in range(n)).encode()


def test_record_larger_than_fetch_limits_is_delivered(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("large-fetch")
    create_topic(b, topic, partitions=1)
    big = _text(LARGE, 1)
    recs = [Rec(0, b"small-1", b"a"), Rec(0, b"big", big), Rec(0, b"small-2", b"b"),
            Rec(0, b"big-2", big[::-1])]
    res = produce_confluent(b, topic, recs, acks="all", **{"linger.ms": 0})
    assert [(e, o) for e, _p, o in res] == [(None, i) for i in range(4)]
    want = [(i, r.key, r.value) for i, r in enumerate(recs)]

    # librdkafka insists on fetch.max.bytes >= message.max.bytes (a producer
    # setting that it also checks on consumers), so lower that too.
    small = {"fetch.max.bytes": FETCH_MAX, "max.partition.fetch.bytes": PARTITION_FETCH_MAX,
             "message.max.bytes": 10_000}
    got = consume_confluent(b, topic, [0], min_count=4, **small)
    assert [(r.offset, r.key, r.value) for r in got] == want

    got = consume_kafka_python(b, topic, [0], fetch_max_bytes=FETCH_MAX,
                               max_partition_fetch_bytes=PARTITION_FETCH_MAX)
    assert [(r.offset, r.key, r.value) for r in got] == want

    got = consume_kcat(b, topic, 0, extra=[x for k, v in small.items() for x in ("-X", f"{k}={v}")])
    assert [(r.offset, r.key, r.value) for r in got] == want


def test_record_larger_than_topic_max_message_bytes_is_rejected(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("large-reject")
    create_topic(b, topic, partitions=1, config={"max.message.bytes": "10000"})

    # Client-side limit raised well above the record so only the broker can refuse it.
    [(err, _p, _o)] = produce_confluent(b, topic, [Rec(0, b"too-big", os.urandom(20_000))],
                                        acks="all", **{"message.max.bytes": 2_000_000,
                                                       "compression.type": "none"})
    assert err is not None, "20000-byte record accepted despite max.message.bytes=10000"
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err

    [(exc, _p, _o)] = produce_kafka_python(b, topic, [Rec(0, b"too-big", os.urandom(20_000))],
                                          acks="all", max_request_size=2_000_000)
    assert isinstance(exc, kerr.MessageSizeTooLargeError), exc

    # A record under the limit still goes in, at offset 0: nothing of the
    # rejected ones was stored.
    [(err, _p, off)] = produce_confluent(b, topic, [Rec(0, b"fits", os.urandom(5_000))],
                                         acks="all", **{"compression.type": "none"})
    assert (err, off) == (None, 0)
    assert watermarks(b, topic, 0) == (0, 1)
