"""Topic configs Kafka 4 removed that tools written for Kafka 3.x still send, through confluent-kafka:
``message.format.version`` and ``message.downconversion.enable`` (KIP-724) are accepted and ignored with a
warning, as a 3.x broker did; ``message.timestamp.difference.max.ms`` (KIP-937) bounds timestamps both ways
where the before/after configs are unset, as 3.x read it. (Sarama's AlterConfigs v0 path is in
test_sarama.py.)"""

from __future__ import annotations

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from clientutil import admin_client, create_topic, future_error, unique_topic

TIMEOUT = 15


def describe(b, topic):
    a = admin_client(b)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return a.describe_configs([res])[res].result(timeout=TIMEOUT)


def test_create_accepts_removed_configs_and_reads_the_timestamp_difference(agent):
    b, t = agent.bootstrap, unique_topic("removed-cfg")
    create_topic(b, t, config={"message.format.version": "2.8-IV1", "message.downconversion.enable": "false",
                               "message.timestamp.difference.max.ms": "60000",
                               "message.timestamp.after.max.ms": "5000"})
    seen = describe(b, t)
    assert "message.format.version" not in seen and "message.downconversion.enable" not in seen
    assert seen["message.timestamp.before.max.ms"].value == "60000"
    assert seen["message.timestamp.after.max.ms"].value == "5000", "an explicit bound wins, as in Kafka 3.x"
    log = agent.log_text()
    assert "topic config removed in kafka 4 is accepted and ignored" in log and "message.format.version" in log


def test_alter_configs_accept_removed_configs_and_refuse_malformed_values(agent):
    b, t = agent.bootstrap, unique_topic("removed-alter")
    create_topic(b, t, config={"retention.ms": "3600000"})
    a = admin_client(b)
    res = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("message.downconversion.enable", "true", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("message.format.version", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("message.timestamp.difference.max.ms", "30000", incremental_operation=AlterConfigOpType.SET),
    ])
    assert future_error(a.incremental_alter_configs([res], request_timeout=TIMEOUT)[res]) is None
    seen = describe(b, t)
    assert seen["retention.ms"].value == "3600000"
    assert seen["message.timestamp.before.max.ms"].value == "30000"
    assert seen["message.timestamp.after.max.ms"].value == "30000"

    bad = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("message.format.version", "latest", incremental_operation=AlterConfigOpType.SET)])
    err = future_error(a.incremental_alter_configs([bad], request_timeout=TIMEOUT)[bad])
    assert err is not None and err.code() == 40, err  # INVALID_CONFIG
    assert "message.format.version" in err.str()
