"""The audit log with real clients against a secured agent (see ``secured.py``): a failed login, a denial,
and every admin change, made with confluent-kafka's AdminClient, kafka-python (OffsetDelete) and ``weft``
commands, each appear as a line with the expected fields; no password appears anywhere in the file."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AlterConfigOpType,
                                   ConfigEntry, ConfigResource, NewPartitions, NewTopic, ResourcePatternType,
                                   ResourceType, ScramCredentialInfo, ScramMechanism, UserScramCredentialDeletion,
                                   UserScramCredentialUpsertion)

from cliutil import run
from clientutil import Rec, admin_client, consumer, future_error, produce_confluent, unique_topic, wait_for
from secured import ADMIN, ADMIN_PASSWORD, start_secured_agent

TIMEOUT = 30
USER_PASSWORD = "carol-pw-91c2e"
JAAS_SECRET = "jaas-pw-5d8b0"


@pytest.fixture(scope="module")
def secured(weft_bin, tmp_path_factory):
    a = start_secured_agent(weft_bin, tmp_path_factory)
    yield a
    a.stop()


def _lines(a, predicate, at_least: int = 1) -> list:
    found: list = []

    def enough():
        found[:] = [line for line in a.audit_lines() if predicate(line)]
        return len(found) >= at_least

    wait_for(enough, 10, desc="audit lines")
    return found


def _admin_line(a, api: str, name: str, **fields) -> dict:
    def match(line):
        return (line["event"] == "admin" and line["api"] == api and line["resource_name"] == name
                and all(line.get(k) == v for k, v in fields.items()))
    line = _lines(a, match)[-1]
    assert line["version"] == 1 and line["principal"] == f"User:{ADMIN}", line
    assert line["listener"] == "SASL_PLAINTEXT" and line["client"].startswith("127.0.0.1:"), line
    assert line["client_id"] and line["time"].endswith("Z"), line
    return line


def _login(a) -> dict:
    return a.confluent("SASL_PLAINTEXT", "SCRAM-SHA-256")


def _cli_login() -> list:
    return ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-512",
            "-X", f"sasl.username={ADMIN}", "-X", f"sasl.password={ADMIN_PASSWORD}"]


def test_a_failed_login_is_audited(secured):
    from test_security_matrix import _auth_errors
    errors = _auth_errors(secured.bootstrap_of("SASL_SSL"),
                          secured.confluent("SASL_SSL", "SCRAM-SHA-512", user="mallory", password="guess"))
    assert KafkaError._AUTHENTICATION in {e.code() for e in errors}
    line = _lines(secured, lambda l: l["event"] == "authentication" and l["outcome"] == "failure"
                  and l["listener"] == "SASL_SSL")[-1]
    assert line["mechanism"] == "SCRAM-SHA-512" and line["reason"], line
    assert "guess" not in str(line)


def test_a_denial_is_audited(secured):
    admin = admin_client(secured.bootstrap_of("SASL_PLAINTEXT"), **_login(secured))
    up = UserScramCredentialUpsertion("dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"dave-pw")
    assert future_error(admin.alter_user_scram_credentials([up])["dave"], TIMEOUT) is None
    topic = unique_topic("audit-denied")
    res = produce_confluent(secured.bootstrap_of("SASL_PLAINTEXT"), topic, [Rec(partition=0, key=None, value=b"x")],
                            **{**secured.confluent("SASL_PLAINTEXT", "SCRAM-SHA-256", user="dave", password="dave-pw"),
                               "message.timeout.ms": 10000, "client.id": "dave-app"})
    assert res[0][0] is not None
    line = _lines(secured, lambda l: l["event"] == "denied" and l["principal"] == "User:dave")[-1]
    assert (line["resource_type"], line["client_id"], line["listener"]) == ("TOPIC", "dave-app", "SASL_PLAINTEXT")
    assert line["operation"] in ("CREATE", "DESCRIBE", "WRITE"), line


def test_admin_changes_through_the_admin_client_are_audited(secured):
    b = secured.bootstrap_of("SASL_PLAINTEXT")
    admin = admin_client(b, **_login(secured))
    topic, probe = unique_topic("audit-a"), unique_topic("audit-probe")

    fs = admin.create_topics([NewTopic(topic, 2, config={"retention.ms": "86400000"})], request_timeout=TIMEOUT)
    assert future_error(fs[topic], TIMEOUT) is None
    line = _admin_line(secured, "CreateTopics", topic, outcome="success")
    assert line["change"] == {"kind": "create_topic", "partitions": 2, "replication_factor": -1,
                              "configs": [{"name": "retention.ms", "operation": "set", "value": "86400000"}]}
    assert line["validate_only"] is False
    fs = admin.create_topics([NewTopic(probe, 1)], validate_only=True, request_timeout=TIMEOUT)
    assert future_error(fs[probe], TIMEOUT) is None
    assert _admin_line(secured, "CreateTopics", probe)["validate_only"] is True
    fs = admin.create_topics([NewTopic(topic, 1)], request_timeout=TIMEOUT)
    assert future_error(fs[topic], TIMEOUT).code() == KafkaError.TOPIC_ALREADY_EXISTS
    assert _admin_line(secured, "CreateTopics", topic, outcome="failure")["error"] == "TOPIC_ALREADY_EXISTS"

    assert future_error(admin.create_partitions([NewPartitions(topic, 3)])[topic], TIMEOUT) is None
    assert _admin_line(secured, "CreatePartitions", topic)["change"] == {"kind": "create_partitions", "count": 3}

    r = ConfigResource("TOPIC", topic, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", None, incremental_operation=AlterConfigOpType.DELETE)])
    assert future_error(admin.incremental_alter_configs([r])[r], TIMEOUT) is None
    line = _admin_line(secured, "IncrementalAlterConfigs", topic)
    assert line["change"]["configs"] == [{"name": "retention.ms", "operation": "set", "value": "3600000"},
                                         {"name": "cleanup.policy", "operation": "delete"}]
    secret = ConfigResource("TOPIC", topic, set_config={"sasl.jaas.config": f'password="{JAAS_SECRET}";'})
    assert future_error(admin.alter_configs([secret])[secret], TIMEOUT) is not None, "not a topic config"
    line = _admin_line(secured, "AlterConfigs", topic, outcome="failure")
    assert line["change"]["configs"] == [{"name": "sasl.jaas.config", "operation": "set", "redacted": True}]

    produce_confluent(b, topic, [Rec(partition=0, key=None, value=b"r")] * 3, **_login(secured))
    fs = admin.delete_records([TopicPartition(topic, 0, 2)], request_timeout=TIMEOUT)
    assert all(future_error(f, TIMEOUT) is None for f in fs.values())
    assert _admin_line(secured, "DeleteRecords", topic)["change"] == {"kind": "delete_records", "partition": 0,
                                                                       "offset": 2}

    acl = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:erin", "*", AclOperation.READ,
                     AclPermissionType.ALLOW)
    assert future_error(admin.create_acls([acl])[acl], TIMEOUT) is None
    expected = {"kind": "acl", "pattern_type": "LITERAL", "principal": "User:erin", "host": "*",
                "operation": "READ", "permission": "ALLOW"}
    assert _admin_line(secured, "CreateAcls", topic)["change"] == expected
    flt = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                           AclPermissionType.ANY)
    assert len(admin.delete_acls([flt])[flt].result(TIMEOUT)) == 1
    assert _admin_line(secured, "DeleteAcls", topic)["change"] == expected

    up = UserScramCredentialUpsertion("carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                      USER_PASSWORD.encode())
    assert future_error(admin.alter_user_scram_credentials([up])["carol"], TIMEOUT) is None
    assert _admin_line(secured, "AlterUserScramCredentials", "carol")["change"] == {
        "kind": "scram_credential", "mechanism": "SCRAM-SHA-512", "operation": "upsert", "iterations": 8192}
    gone = UserScramCredentialDeletion("carol", ScramMechanism.SCRAM_SHA_512)
    assert future_error(admin.alter_user_scram_credentials([gone])["carol"], TIMEOUT) is None
    _admin_line(secured, "AlterUserScramCredentials", "carol", change={
        "kind": "scram_credential", "mechanism": "SCRAM-SHA-512", "operation": "delete"})

    group = unique_topic("audit-g")
    c = consumer(b, **{**_login(secured), "group.id": group})
    c.commit(offsets=[TopicPartition(topic, 0, 1), TopicPartition(topic, 1, 0)], asynchronous=False)
    c.close()
    from kafka import KafkaAdminClient
    kp = KafkaAdminClient(bootstrap_servers=b, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
                          sasl_plain_username=ADMIN, sasl_plain_password=ADMIN_PASSWORD)
    from kafka import TopicPartition as KTP
    kp.delete_group_offsets(group, [KTP(topic, 1)])
    kp.close()
    assert _admin_line(secured, "OffsetDelete", group)["change"] == {"kind": "delete_offset", "topic": topic,
                                                                      "partition": 1}
    assert future_error(admin.delete_consumer_groups([group])[group], TIMEOUT) is None
    assert _admin_line(secured, "DeleteGroups", group)["change"] == {"kind": "delete_group"}

    assert future_error(admin.delete_topics([topic])[topic], TIMEOUT) is None
    assert _admin_line(secured, "DeleteTopics", topic, outcome="success")["change"]["kind"] == "delete_topic"


def test_weft_commands_are_audited(secured, weft_bin):
    b, login = secured.bootstrap_of("SASL_PLAINTEXT"), _cli_login()
    topic = unique_topic("audit-cli")
    run(weft_bin, b, "topic", "create", topic, "-p", "1", *login)
    _admin_line(secured, "CreateTopics", topic, outcome="success")
    run(weft_bin, b, "acl", "add", "--allow-principal", "User:frank", "--operation", "write", "--topic", topic, *login)
    assert _admin_line(secured, "CreateAcls", topic)["change"]["principal"] == "User:frank"
    run(weft_bin, b, "user", "create", "frank", "--password", USER_PASSWORD, *login)
    _admin_line(secured, "AlterUserScramCredentials", "frank", outcome="success")
    run(weft_bin, b, "quota", "set", "--client", "loader", "--add-config", "producer_byte_rate=1048576", *login)
    line = _admin_line(secured, "AlterClientQuotas", "client-id=loader")
    assert line["change"]["quotas"] == [{"key": "producer_byte_rate", "value": 1048576.0}]
    run(weft_bin, b, "topic", "delete", topic, *login)
    _admin_line(secured, "DeleteTopics", topic, outcome="success")


def test_no_password_appears_in_the_audit_file(secured):
    text = secured.audit_path.read_text()
    assert text, "the earlier tests wrote lines"
    for secret in (ADMIN_PASSWORD, USER_PASSWORD, JAAS_SECRET, "dave-pw", "guess"):
        assert secret not in text, secret
