"""Topic and cluster configs: AlterConfigs and IncrementalAlterConfigs through
confluent-kafka and kafka-python, Kafka's validation (INVALID_CONFIG naming
the key), config sources, cluster-wide dynamic defaults, and persistence across
an agent restart."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)
from kafka.admin import ConfigResource as KConfigResource
from kafka.admin import ConfigResourceType as KConfigResourceType

from clientutil import admin_client, config_source_name, create_topic, kp_admin, unique_topic

TIMEOUT = 30


def describe(b, rtype, name) -> dict:
    a = admin_client(b)
    fs = a.describe_configs([ConfigResource(rtype, name)], request_timeout=TIMEOUT)
    return list(fs.values())[0].result(TIMEOUT)


def incremental(b, rtype, name, entries, validate_only=False):
    """entries: [(name, value, op)]. Returns the KafkaError or None."""
    a = admin_client(b)
    res = ConfigResource(rtype, name, incremental_configs=[
        ConfigEntry(n, v, incremental_operation=op) for n, v, op in entries])
    fs = a.incremental_alter_configs([res], validate_only=validate_only, request_timeout=TIMEOUT)
    try:
        list(fs.values())[0].result(TIMEOUT)
        return None
    except Exception as e:  # KafkaException wrapping a KafkaError
        return e.args[0]


def test_incremental_alter_sets_deletes_appends_and_subtracts(agent):
    b = agent.bootstrap
    t = unique_topic("cfg")
    create_topic(b, t, config={"retention.ms": "86400000"})
    assert incremental(b, ResourceType.TOPIC, t, [
        ("retention.ms", "3600000", AlterConfigOpType.SET),
        ("max.message.bytes", "200000", AlterConfigOpType.SET),
        ("cleanup.policy", "compact", AlterConfigOpType.APPEND),
    ]) is None
    c = describe(b, ResourceType.TOPIC, t)
    assert c["retention.ms"].value == "3600000"
    assert config_source_name(c["retention.ms"]) == "DYNAMIC_TOPIC_CONFIG"
    assert c["max.message.bytes"].value == "200000"
    assert c["cleanup.policy"].value == "delete,compact", "append adds to the default list"
    assert incremental(b, ResourceType.TOPIC, t, [
        ("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT),
        ("retention.ms", None, AlterConfigOpType.DELETE),
    ]) is None
    c = describe(b, ResourceType.TOPIC, t)
    assert c["cleanup.policy"].value == "compact"
    assert c["retention.ms"].value == "604800000"
    assert config_source_name(c["retention.ms"]) == "DEFAULT_CONFIG"
    # validate_only changes nothing
    assert incremental(b, ResourceType.TOPIC, t, [("retention.ms", "5", AlterConfigOpType.SET)],
                       validate_only=True) is None
    assert describe(b, ResourceType.TOPIC, t)["retention.ms"].value == "604800000"


def test_bad_values_are_invalid_config_naming_the_key(agent):
    b = agent.bootstrap
    t = unique_topic("cfgbad")
    create_topic(b, t)
    for name, value in [("retention.ms", "soon"), ("cleanup.policy", "shred"),
                        ("min.cleanable.dirty.ratio", "1.5"), ("no.such.config", "1")]:
        err = incremental(b, ResourceType.TOPIC, t, [(name, value, AlterConfigOpType.SET)])
        assert err is not None and err.code() == KafkaError.INVALID_CONFIG, (name, err)
        assert name in err.str(), err.str()
    err = incremental(b, ResourceType.TOPIC, "no-such-topic-cfg", [("retention.ms", "1", AlterConfigOpType.SET)])
    assert err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert describe(b, ResourceType.TOPIC, t)["retention.ms"].value == "604800000", "nothing changed"


def test_legacy_alter_configs_replaces_the_set(agent):
    b = agent.bootstrap
    t = unique_topic("cfglegacy")
    create_topic(b, t, config={"retention.ms": "1000", "segment.ms": "100000"})
    a = admin_client(b)
    fs = a.alter_configs([ConfigResource(ResourceType.TOPIC, t, set_config={"retention.bytes": "12345"})],
                         request_timeout=TIMEOUT)
    list(fs.values())[0].result(TIMEOUT)
    c = describe(b, ResourceType.TOPIC, t)
    assert c["retention.bytes"].value == "12345"
    assert c["retention.ms"].value == "604800000", "AlterConfigs replaces every dynamic topic config"
    assert config_source_name(c["segment.ms"]) == "DEFAULT_CONFIG"


def test_kafka_python_alters_topic_configs(agent):
    b = agent.bootstrap
    t = unique_topic("cfgkp")
    create_topic(b, t)
    a = kp_admin(b)
    try:
        a.alter_configs([KConfigResource(KConfigResourceType.TOPIC, t, configs={"retention.bytes": "777"})])
    finally:
        a.close()
    assert describe(b, ResourceType.TOPIC, t)["retention.bytes"].value == "777"


def cluster_default(b, name, value, op="SET"):
    """Sets a cluster-wide broker default with kafka-python. Weft agents share one configuration, so a
    broker id names the cluster default (the Python clients refuse Kafka's empty --entity-default name).
    Returns the error or None."""
    a = kp_admin(b)
    try:
        res = a.alter_configs([KConfigResource(KConfigResourceType.BROKER, "0", configs={name: (op, value)})],
                              raise_on_unknown=False)
    finally:
        a.close()
    outcome = str(list(list(res.values())[0].values())[0])
    return None if outcome == "OK" else outcome


def test_cluster_defaults_apply_to_topics_and_survive_restart(agent):
    b = agent.bootstrap
    t = unique_topic("cfgcluster")
    create_topic(b, t)
    assert cluster_default(b, "log.retention.ms", "7200000") is None
    broker = describe(b, ResourceType.BROKER, "0")
    assert broker["log.retention.ms"].value == "7200000"
    assert config_source_name(broker["log.retention.ms"]) == "DYNAMIC_DEFAULT_BROKER_CONFIG"
    assert not broker["log.retention.ms"].is_read_only
    c = describe(b, ResourceType.TOPIC, t)
    assert c["retention.ms"].value == "7200000"
    assert config_source_name(c["retention.ms"]) == "DYNAMIC_DEFAULT_BROKER_CONFIG"
    assert incremental(b, ResourceType.TOPIC, t, [("cleanup.policy", "compact", AlterConfigOpType.SET)]) is None
    # A static broker config cannot change at runtime.
    err = cluster_default(b, "listeners", "PLAINTEXT://x:1")
    assert err is not None and "InvalidConfiguration" in err and "listeners" in err, err
    assert incremental(b, ResourceType.BROKER, "0", [("log.cleaner.delete.retention.ms", "1000",
                                                       AlterConfigOpType.SET)]) is None
    assert describe(b, ResourceType.TOPIC, t)["delete.retention.ms"].value == "1000"
    err = cluster_default(b, "log.retention.ms", "-7")
    assert err is not None and "InvalidConfiguration" in err and "log.retention.ms" in err, err

    agent.restart()
    b = agent.bootstrap
    c = describe(b, ResourceType.TOPIC, t)
    assert c["retention.ms"].value == "7200000"
    assert c["cleanup.policy"].value == "compact"
    assert config_source_name(c["cleanup.policy"]) == "DYNAMIC_TOPIC_CONFIG"
    assert cluster_default(b, "log.retention.ms", None, op="DELETE") is None
    assert describe(b, ResourceType.TOPIC, t)["retention.ms"].value == "604800000"


def test_max_message_bytes_change_takes_effect_at_once(agent):
    from clientutil import Rec, produce_confluent
    b = agent.bootstrap
    t = unique_topic("cfgmax")
    create_topic(b, t)
    big = Rec(partition=0, key=b"k", value=b"x" * 50_000)
    assert produce_confluent(b, t, [big])[0][0] is None
    assert incremental(b, ResourceType.TOPIC, t, [("max.message.bytes", "10000", AlterConfigOpType.SET)]) is None
    err = produce_confluent(b, t, [big], **{"message.max.bytes": 1_000_000})[0][0]
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err


@pytest.mark.parametrize("policy", ["compact", "compact,delete"])
def test_keyless_records_are_refused_on_compacted_topics(agent, policy):
    from clientutil import Rec, produce_confluent
    b = agent.bootstrap
    t = unique_topic("cfgkeyless")
    create_topic(b, t, config={"cleanup.policy": policy})
    keyless = produce_confluent(b, t, [Rec(partition=0, key=None, value=b"v")])[0]
    assert keyless[0] is not None and keyless[0].code() == KafkaError.INVALID_RECORD, keyless
    keyed = produce_confluent(b, t, [Rec(partition=0, key=b"k", value=b"v")])[0]
    assert keyed[0] is None and keyed[2] == 0, "the refused batch took no offset"
