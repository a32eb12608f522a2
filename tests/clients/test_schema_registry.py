"""The schema registry through confluent-kafka's own client: SchemaRegistryClient against Weft's registry, and
Avro records produced with AvroSerializer and consumed with AvroDeserializer through the same agent. The
Protobuf and JSON serializers are in test_schema_formats.py, the level matrix in test_schema_compat.py,
deletes, modes and error bodies in test_schema_api.py, concurrent registration in test_schema_cluster.py."""

import json
import subprocess

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from clientutil import create_topic, unique_topic
from servers import free_port

USER_V1 = json.dumps({"type": "record", "name": "User", "namespace": "weft.test",
                      "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}]})
USER_V2 = json.dumps({"type": "record", "name": "User", "namespace": "weft.test",
                      "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
                                 {"name": "email", "type": "string", "default": ""}]})
USER_BREAKING = json.dumps({"type": "record", "name": "User", "namespace": "weft.test",
                            "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
                                       {"name": "phone", "type": "string"}]})


@pytest.fixture
def registry_agent(agent_factory):
    port = free_port()
    a = agent_factory("--schema-registry-listen", f"127.0.0.1:{port}")
    return a, f"http://127.0.0.1:{port}"


def test_client_registers_reads_and_sees_confluent_errors(registry_agent):
    _, url = registry_agent
    client = SchemaRegistryClient({"url": url})
    subject = "users-value"
    first = client.register_schema(subject, Schema(USER_V1, "AVRO"))
    assert first == 1
    assert client.register_schema("other-value", Schema(USER_V1, "AVRO")) == first, "one id per schema"
    second = client.register_schema(subject, Schema(USER_V2, "AVRO"))
    assert second == 2
    assert sorted(client.get_subjects()) == ["other-value", subject]
    assert client.get_versions(subject) == [1, 2]
    latest = client.get_latest_version(subject)
    assert (latest.schema_id, latest.version) == (2, 2)
    assert json.loads(client.get_schema(first).schema_str) == json.loads(USER_V1)
    found = client.lookup_schema(subject, Schema(USER_V1, "AVRO"))
    assert (found.schema_id, found.version) == (1, 1)
    assert client.test_compatibility(subject, Schema(USER_V2, "AVRO")) is True
    assert client.test_compatibility(subject, Schema(USER_BREAKING, "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema(subject, Schema(USER_BREAKING, "AVRO"))
    assert e.value.http_status_code == 409
    with pytest.raises(SchemaRegistryError) as e:
        client.get_latest_version("missing")
    assert e.value.error_code == 40401
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema("bad", Schema("{not avro", "AVRO"))
    assert e.value.error_code == 42201
    assert client.set_compatibility(subject, "FULL") == {"compatibility": "FULL"}
    assert client.get_compatibility(subject) == "FULL"
    assert client.delete_version(subject, 1) == 1
    assert client.get_versions(subject) == [2]
    assert client.delete_subject(subject) == [2]
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    assert client.get_subjects() == ["other-value"]


def test_avro_records_round_trip_through_weft(registry_agent):
    agent, url = registry_agent
    client = SchemaRegistryClient({"url": url})
    topic = unique_topic("avro")
    create_topic(agent.bootstrap, topic)
    serializer = AvroSerializer(client, USER_V1)
    producer = Producer({"bootstrap.servers": agent.bootstrap})
    users = [{"name": f"user-{i}", "age": 20 + i} for i in range(5)]
    for user in users:
        value = serializer(user, SerializationContext(topic, MessageField.VALUE))
        assert value[0] == 0 and int.from_bytes(value[1:5], "big") == 1, "wire format: magic byte and id 1"
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0
    assert client.get_latest_version(f"{topic}-value").schema_id == 1, "auto-registered under the topic subject"

    deserializer = AvroDeserializer(client)
    consumer = Consumer({"bootstrap.servers": agent.bootstrap, "group.id": "avro-readers",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    try:
        while len(got) < len(users):
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            got.append(deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE)))
    finally:
        consumer.close()
    assert got == users


def test_weft_schema_cli(registry_agent, weft_bin, tmp_path):
    _, url = registry_agent
    path = tmp_path / "user.avsc"
    path.write_text(USER_V1)

    def weft(*args):
        return subprocess.run([weft_bin, "schema", "--registry", url, *args], capture_output=True, text=True,
                              timeout=60)

    registered = weft("register", "--subject", "cli-value", "--file", str(path))
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "1"
    assert weft("list").stdout.split() == ["cli-value"]
    shown = json.loads(weft("get", "--subject", "cli-value").stdout)
    assert (shown["id"], shown["version"]) == (1, 1)
    breaking = tmp_path / "breaking.avsc"
    breaking.write_text(USER_BREAKING)
    check = weft("check", "--subject", "cli-value", "--file", str(breaking))
    assert check.returncode != 0 and "incompatible" in check.stderr, check.stderr
    assert weft("config", "--subject", "cli-value", "--set", "NONE").returncode == 0
    assert weft("check", "--subject", "cli-value", "--file", str(breaking)).stdout.strip() == "compatible"
    missing = weft("get", "--subject", "nothing")
    assert missing.returncode != 0 and "40401" in missing.stderr, missing.stderr
    assert weft("delete", "--subject", "cli-value").returncode == 0
    assert weft("list").stdout.split() == []
