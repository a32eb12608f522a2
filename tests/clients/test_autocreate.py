"""Topic auto-creation on produce and on metadata, and --auto-create-topics false."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from kafka import errors as kerr

import rawkafka
from clientutil import (
    Rec,
    consume_confluent,
    list_topics,
    partition_count,
    produce_confluent,
    produce_kafka_python,
    unique_topic,
    wait_for,
)

LEADER_NOT_AVAILABLE = 5
UNKNOWN_TOPIC_OR_PARTITION = 3


def _raw_metadata(b, topic, allow_auto_create):
    with rawkafka.RawConn(b) as c:
        apis = rawkafka.api_versions(c, 0)["apis"]
        v = rawkafka.pick_version(apis, rawkafka.API_METADATA, 4, 8)
        return rawkafka.metadata(c, [topic], allow_auto_create, version=v)


def _raw_produce(b, topic, partition=0):
    with rawkafka.RawConn(b) as c:
        apis = rawkafka.api_versions(c, 0)["apis"]
        v = rawkafka.pick_version(apis, rawkafka.API_PRODUCE, 3, 8)
        return rawkafka.produce(c, topic, partition, b"k", b"v", version=v, acks=1)


def test_autocreate_on_produce_confluent(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("auto-cfl")
    assert topic not in list_topics(b)
    [(err, p, off)] = produce_confluent(b, topic, [Rec(None, b"key", b"value")], acks="all")
    assert err is None, err
    assert off == 0
    n = partition_count(b, topic)
    assert n is not None and n >= 1 and 0 <= p < n
    got = consume_confluent(b, topic, [p], min_count=1)
    assert [(r.offset, r.key, r.value) for r in got] == [(0, b"key", b"value")]


def test_autocreate_on_produce_kafka_python(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("auto-kp")
    [(exc, p, off)] = produce_kafka_python(b, topic, [Rec(None, b"key", b"value")], acks="all")
    assert exc is None, exc
    assert off == 0
    assert topic in list_topics(b)
    got = consume_confluent(b, topic, [p], min_count=1)
    assert [(r.offset, r.key, r.value) for r in got] == [(0, b"key", b"value")]


def test_autocreate_on_metadata_request(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("auto-md")
    md = _raw_metadata(b, topic, allow_auto_create=True)
    assert md["topics"][topic]["error_code"] in (0, LEADER_NOT_AVAILABLE), md["topics"]
    wait_for(lambda: (partition_count(b, topic) or 0) >= 1, 30, desc="auto-created topic")
    # and it is a usable topic
    [(err, p, off)] = produce_confluent(b, topic, [Rec(0, b"k", b"v")], acks="all")
    assert (err, p, off) == (None, 0, 0)


def test_metadata_without_allow_auto_create_does_not_create(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("auto-md-no")
    md = _raw_metadata(b, topic, allow_auto_create=False)
    assert md["topics"][topic]["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    assert topic not in list_topics(b)


def test_default_partitions_flag_applies_to_autocreated_topics(agent_factory):
    a = agent_factory("--default-partitions", "3")
    topic = unique_topic("auto-defparts")
    [(err, _p, _o)] = produce_confluent(a.bootstrap, topic, [Rec(None, b"k", b"v")], acks="all")
    assert err is None, err
    assert partition_count(a.bootstrap, topic) == 3


@pytest.fixture
def no_autocreate_agent(agent_factory):
    return agent_factory("--auto-create-topics", "false")


def test_autocreate_disabled_raw_produce_gets_unknown_topic(no_autocreate_agent):
    b = no_autocreate_agent.bootstrap
    topic = unique_topic("noauto-raw")
    res = _raw_produce(b, topic)
    assert res["error_code"] == UNKNOWN_TOPIC_OR_PARTITION, res
    md = _raw_metadata(b, topic, allow_auto_create=True)
    assert md["topics"][topic]["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    assert topic not in list_topics(b)


def test_autocreate_disabled_confluent_produce_fails(no_autocreate_agent):
    b = no_autocreate_agent.bootstrap
    topic = unique_topic("noauto-cfl")
    [(err, _p, _o)] = produce_confluent(
        b, topic, [Rec(None, b"k", b"v")], acks="all", timeout=30,
        **{"topic.metadata.propagation.max.ms": 1000, "message.timeout.ms": 15000})
    assert err is not None, "produce to a missing topic succeeded with auto-create disabled"
    # librdkafka reports a topic the broker says does not exist as its local
    # _UNKNOWN_TOPIC; the broker code itself is UNKNOWN_TOPIC_OR_PART.
    assert err.code() in (KafkaError._UNKNOWN_TOPIC, KafkaError.UNKNOWN_TOPIC_OR_PART), err
    assert topic not in list_topics(b)


def test_autocreate_disabled_kafka_python_produce_fails(no_autocreate_agent):
    b = no_autocreate_agent.bootstrap
    topic = unique_topic("noauto-kp")
    try:
        [(exc, _p, _o)] = produce_kafka_python(b, topic, [Rec(None, b"k", b"v")],
                                              acks="all", max_block_ms=5000, timeout=15)
    except kerr.KafkaTimeoutError as e:  # send() itself may give up waiting for metadata
        exc = e
    assert isinstance(exc, (kerr.UnknownTopicOrPartitionError, kerr.KafkaTimeoutError)), exc
    assert topic not in list_topics(b)


def test_autocreate_disabled_existing_topics_still_work(no_autocreate_agent):
    from clientutil import create_topic
    b = no_autocreate_agent.bootstrap
    topic = unique_topic("noauto-explicit")
    create_topic(b, topic, partitions=1)
    res = produce_confluent(b, topic, [Rec(0, b"k", b"v")], acks="all")
    assert res == [(None, 0, 0)]
