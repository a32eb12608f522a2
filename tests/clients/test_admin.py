"""Topic administration: create (with configs, validate_only, errors), create
partitions, delete, describe configs -- via confluent-kafka and kafka-python."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic, ResourceType
from kafka import errors as kerr
from kafka.admin import ConfigResource as KConfigResource
from kafka.admin import ConfigResourceType as KConfigResourceType

from clientutil import (
    Rec,
    admin_client,
    config_source_name,
    consume_confluent,
    create_topic,
    future_error,
    list_topics,
    kp_admin,
    partition_count,
    produce_confluent,
    unique_topic,
    wait_for,
)

TIMEOUT = 30


def _create(b, *new_topics, validate_only=False):
    a = admin_client(b)  # keep the client alive until its futures resolve
    fs = a.create_topics(list(new_topics), validate_only=validate_only,
                         operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    return {name: future_error(f, TIMEOUT) for name, f in fs.items()}


def _describe_topic_configs(b, topic):
    res = ConfigResource(ResourceType.TOPIC, topic)
    a = admin_client(b)
    fs = a.describe_configs([res], request_timeout=TIMEOUT)
    return fs[res].result(timeout=TIMEOUT)


@pytest.fixture
def kpa(agent_module):
    a = kp_admin(agent_module.bootstrap)
    yield a
    a.close()


# --------------------------------------------------------------------------
# create
# --------------------------------------------------------------------------


def test_confluent_create_topic_with_partitions_and_configs(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-create")
    errs = _create(b, NewTopic(topic, num_partitions=4,
                               config={"retention.ms": "3600000", "cleanup.policy": "delete"}))
    assert errs == {topic: None}
    wait_for(lambda: partition_count(b, topic) == 4, TIMEOUT, desc="4 partitions")

    cfg = _describe_topic_configs(b, topic)
    assert cfg["retention.ms"].value == "3600000"
    assert config_source_name(cfg["retention.ms"]) == "DYNAMIC_TOPIC_CONFIG"
    assert cfg["cleanup.policy"].value == "delete"
    assert config_source_name(cfg["cleanup.policy"]) == "DYNAMIC_TOPIC_CONFIG"


def test_kafka_python_create_topic_with_partitions_and_configs(agent_module, kpa):
    b = agent_module.bootstrap
    topic = unique_topic("adm-kp-create")
    res = kpa.create_topics({topic: {"num_partitions": 2, "replication_factor": 1,
                                     "configs": {"retention.ms": "7200000"}}})
    assert [(t["name"], t["error_code"]) for t in res["topics"]] == [(topic, 0)]
    wait_for(lambda: partition_count(b, topic) == 2, TIMEOUT, desc="2 partitions")
    assert topic in kpa.list_topics()

    out = kpa.describe_configs([KConfigResource(KConfigResourceType.TOPIC, topic)],
                               config_filter="all")
    entry = out["topic"][topic]["retention.ms"]
    assert entry["value"] == "7200000"
    assert entry["config_source"] == "DYNAMIC_TOPIC_CONFIG"


def test_validate_only_creates_nothing(agent_module, kpa):
    b = agent_module.bootstrap
    t1 = unique_topic("adm-validate-cfl")
    t2 = unique_topic("adm-validate-kp")
    assert _create(b, NewTopic(t1, num_partitions=3), validate_only=True) == {t1: None}
    res = kpa.create_topics({t2: {"num_partitions": 3, "replication_factor": 1}},
                            validate_only=True)
    assert [(t["name"], t["error_code"]) for t in res["topics"]] == [(t2, 0)]

    topics = list_topics(b)
    assert t1 not in topics and t2 not in topics
    assert t1 not in kpa.list_topics() and t2 not in kpa.list_topics()

    # validate_only still validates
    assert _create(b, NewTopic(t1, num_partitions=0), validate_only=True)[t1].code() \
        == KafkaError.INVALID_PARTITIONS


def test_duplicate_topic_is_rejected(agent_module, kpa):
    b = agent_module.bootstrap
    topic = unique_topic("adm-dup")
    create_topic(b, topic, partitions=2)

    err = _create(b, NewTopic(topic, num_partitions=5))[topic]
    assert err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS, err
    with pytest.raises(kerr.TopicAlreadyExistsError):
        kpa.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    # the original is untouched
    assert partition_count(b, topic) == 2


@pytest.mark.parametrize("name", ["bad/name", ".", "..", "x" * 250, "spa ce", "ünï"],
                         ids=["slash", "dot", "dotdot", "len250", "space", "non-ascii"])
def test_invalid_topic_name_confluent(agent_module, name):
    b = agent_module.bootstrap
    err = _create(b, NewTopic(name, num_partitions=1))[name]
    assert err is not None and err.code() == KafkaError.TOPIC_EXCEPTION, err
    assert name not in list_topics(b)


def test_invalid_topic_name_kafka_python(agent_module, kpa):
    for name in ["bad/name", "x" * 250]:
        with pytest.raises(kerr.InvalidTopicError):
            kpa.create_topics({name: {"num_partitions": 1, "replication_factor": 1}})
        assert name not in kpa.list_topics()


def test_topic_name_of_249_chars_is_valid(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-long")
    topic = topic + "x" * (249 - len(topic))
    assert _create(b, NewTopic(topic, num_partitions=1)) == {topic: None}
    wait_for(lambda: partition_count(b, topic) == 1, TIMEOUT, desc="249-char topic")


def test_invalid_partition_counts(agent_module, kpa):
    b = agent_module.bootstrap
    t0 = unique_topic("adm-p0")
    # librdkafka refuses negative counts client-side, so -5 goes via kafka-python.
    err = _create(b, NewTopic(t0, num_partitions=0))[t0]
    assert err is not None and err.code() == KafkaError.INVALID_PARTITIONS, err
    for n in (0, -5):
        t = unique_topic(f"adm-kp-p{n}")
        with pytest.raises(kerr.InvalidPartitionsError):
            kpa.create_topics({t: {"num_partitions": n, "replication_factor": 1}})
        assert t not in kpa.list_topics()
    assert t0 not in list_topics(b)


# --------------------------------------------------------------------------
# create partitions
# --------------------------------------------------------------------------


def test_create_partitions_then_produce_to_new_partition(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-addparts")
    create_topic(b, topic, partitions=1)
    produce_confluent(b, topic, [Rec(0, b"k0", b"before")], acks="all")

    a = admin_client(b)  # must outlive its futures
    fs = a.create_partitions([NewPartitions(topic, 3)],
                             operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    assert future_error(fs[topic]) is None
    wait_for(lambda: partition_count(b, topic) == 3, TIMEOUT, desc="3 partitions")

    res = produce_confluent(b, topic, [Rec(2, b"k2", b"in-new-partition"),
                                       Rec(1, b"k1", b"also-new")], acks="all")
    assert [(e, p, o) for e, p, o in res] == [(None, 2, 0), (None, 1, 0)]
    got = consume_confluent(b, topic, [0, 1, 2], min_count=3)
    assert sorted((r.partition, r.offset, r.key, r.value) for r in got) == [
        (0, 0, b"k0", b"before"), (1, 0, b"k1", b"also-new"), (2, 0, b"k2", b"in-new-partition")]


def test_create_partitions_kafka_python(agent_module, kpa):
    b = agent_module.bootstrap
    topic = unique_topic("adm-kp-addparts")
    create_topic(b, topic, partitions=2)
    kpa.create_partitions({topic: 5})
    wait_for(lambda: partition_count(b, topic) == 5, TIMEOUT, desc="5 partitions")
    res = produce_confluent(b, topic, [Rec(4, b"k", b"v")], acks="all")
    assert res == [(None, 4, 0)]


def test_decreasing_partitions_is_rejected(agent_module, kpa):
    b = agent_module.bootstrap
    topic = unique_topic("adm-shrink")
    create_topic(b, topic, partitions=3)
    a = admin_client(b)  # must outlive its futures
    fs = a.create_partitions([NewPartitions(topic, 2)],
                             operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    err = future_error(fs[topic])
    assert err is not None and err.code() == KafkaError.INVALID_PARTITIONS, err
    with pytest.raises(kerr.InvalidPartitionsError):
        kpa.create_partitions({topic: 1})
    assert partition_count(b, topic) == 3


# --------------------------------------------------------------------------
# delete
# --------------------------------------------------------------------------


def test_delete_topic_confluent(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-del")
    create_topic(b, topic, partitions=2)
    produce_confluent(b, topic, [Rec(0, b"k", b"v")], acks="all")

    a = admin_client(b)  # must outlive its futures
    fs = a.delete_topics([topic], operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    assert future_error(fs[topic]) is None
    wait_for(lambda: topic not in list_topics(b), TIMEOUT, desc="deleted topic gone from metadata")

    missing = unique_topic("adm-del-missing")
    a = admin_client(b)  # must outlive its futures
    fs = a.delete_topics([missing], operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    err = future_error(fs[missing])
    assert err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, err


def test_delete_topic_kafka_python(agent_module, kpa):
    b = agent_module.bootstrap
    topic = unique_topic("adm-kp-del")
    create_topic(b, topic, partitions=1)
    res = kpa.delete_topics([topic])
    assert [(t["name"], t["error_code"]) for t in res["topics"]] == [(topic, 0)]
    wait_for(lambda: topic not in kpa.list_topics(), TIMEOUT, desc="deleted topic gone")
    with pytest.raises(kerr.UnknownTopicOrPartitionError):
        kpa.delete_topics([unique_topic("adm-kp-del-missing")])


def test_recreate_after_delete_starts_empty(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-recreate")
    create_topic(b, topic, partitions=1)
    produce_confluent(b, topic, [Rec(0, b"old", b"old")] * 3, acks="all")
    a = admin_client(b)  # must outlive its futures
    fs = a.delete_topics([topic], operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    assert future_error(fs[topic]) is None
    wait_for(lambda: topic not in list_topics(b), TIMEOUT, desc="topic deleted")

    create_topic(b, topic, partitions=1)
    res = produce_confluent(b, topic, [Rec(0, b"new", b"new")], acks="all")
    assert res == [(None, 0, 0)]
    got = consume_confluent(b, topic, [0], min_count=1)
    assert [(r.offset, r.key, r.value) for r in got] == [(0, b"new", b"new")]


# --------------------------------------------------------------------------
# describe configs
# --------------------------------------------------------------------------


def test_describe_topic_config_defaults(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-cfg-default")
    create_topic(b, topic, partitions=1)
    cfg = _describe_topic_configs(b, topic)
    expected = {"retention.ms": "604800000", "cleanup.policy": "delete",
                "max.message.bytes": "1048588"}
    for name, value in expected.items():
        assert name in cfg, f"{name} missing from {sorted(cfg)}"
        assert cfg[name].value == value, (name, cfg[name].value)
        assert config_source_name(cfg[name]) == "DEFAULT_CONFIG", (name, cfg[name].source)
        assert cfg[name].is_default


def test_describe_topic_config_set_at_creation(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("adm-cfg-set")
    create_topic(b, topic, partitions=1,
                 config={"retention.ms": "86400000", "max.message.bytes": "20000"})
    cfg = _describe_topic_configs(b, topic)
    for name, value in {"retention.ms": "86400000", "max.message.bytes": "20000"}.items():
        assert cfg[name].value == value
        assert config_source_name(cfg[name]) == "DYNAMIC_TOPIC_CONFIG"
        assert not cfg[name].is_default
    # untouched keys keep their defaults
    assert cfg["cleanup.policy"].value == "delete"
    assert config_source_name(cfg["cleanup.policy"]) == "DEFAULT_CONFIG"


def test_describe_topic_config_kafka_python(agent_module, kpa):
    b = agent_module.bootstrap
    topic = unique_topic("adm-kp-cfg")
    create_topic(b, topic, partitions=1, config={"retention.ms": "123456"})
    out = kpa.describe_configs([KConfigResource(KConfigResourceType.TOPIC, topic)],
                               config_filter="all")
    cfg = out["topic"][topic]
    assert cfg["retention.ms"]["value"] == "123456"
    assert cfg["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    assert cfg["cleanup.policy"]["value"] == "delete"
    assert cfg["cleanup.policy"]["config_source"] == "DEFAULT_CONFIG"
    # the default filter ("modified") shows only what was set
    modified = kpa.describe_configs([KConfigResource(KConfigResourceType.TOPIC, topic)])
    assert "retention.ms" in modified["topic"][topic]
    assert "cleanup.policy" not in modified["topic"][topic]


def test_describe_broker_config(agent_module, kpa):
    b = agent_module.bootstrap
    res = ConfigResource(ResourceType.BROKER, "0")
    a = admin_client(b)  # must outlive its futures
    fs = a.describe_configs([res], request_timeout=TIMEOUT)
    cfg = fs[res].result(timeout=TIMEOUT)
    assert len(cfg) > 0, "broker 0 described no configs"
    for name, entry in cfg.items():
        assert name and entry.name == name
        assert config_source_name(entry) != "UNKNOWN_CONFIG", (name, entry.source)

    out = kpa.describe_configs([KConfigResource(KConfigResourceType.BROKER, "0")],
                               config_filter="all")
    assert set(out["broker"]["0"]) == set(cfg)

