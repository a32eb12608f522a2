"""Broker-side schema validation with real producers: topics with confluent.value.schema.validation (and key)
accept what confluent-kafka's serializers write and refuse plain bytes, ids of other subjects and unknown ids
with INVALID_RECORD; nothing of a refused batch is stored; deep validation (weft.schema.validation.deep) also
decodes the payload, Avro and Protobuf alike; switching validation on and off takes effect at once."""

import json

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from kafka import KafkaProducer
from kafka.errors import InvalidRecordError

import registryutil
from clientutil import admin_client, create_topic, unique_topic

ORDER = json.dumps({"type": "record", "name": "Order", "namespace": "weft.test",
                    "fields": [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}]})
PING = 'syntax = "proto3";\npackage weft.test;\nmessage Ping { int64 n = 1; string note = 2; }\n'


@pytest.fixture(scope="module")
def registry_agent(weft_bin, tmp_path_factory):
    with registryutil.registry_agent(weft_bin, tmp_path_factory) as (agent, url):
        yield agent, SchemaRegistryClient({"url": url})


def framed(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + payload


def produce_all(bootstrap: str, topic: str, values, key=None) -> list:
    """Produces each value in its own batch; returns the delivery error codes (0 for delivered)."""
    results = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "retries": 0,
                         "enable.idempotence": False})
    for value in values:
        producer.produce(topic, value=value, key=key,
                         on_delivery=lambda err, _msg: results.append(err.code() if err else 0))
        producer.flush(30)
    assert len(results) == len(values)
    return results


def end_offset(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        consumer.close()


def set_configs(bootstrap: str, topic: str, configs: dict):
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()])
    admin = admin_client(bootstrap)  # held until the futures are done
    for f in admin.incremental_alter_configs([resource]).values():
        f.result(30)


def test_serializer_records_pass_and_others_are_refused(registry_agent):
    agent, client = registry_agent
    topic = unique_topic("validated")
    create_topic(agent.bootstrap, topic, config={"confluent.value.schema.validation": "true"})
    serializer = AvroSerializer(client, ORDER)
    ctx = SerializationContext(topic, MessageField.VALUE)
    good = [serializer({"id": i, "item": f"book-{i}"}, ctx) for i in range(3)]
    assert produce_all(agent.bootstrap, topic, good) == [0, 0, 0]
    other = client.register_schema("elsewhere-value", Schema(json.dumps({"type": "string"}), "AVRO"))
    refused = [b"plain text", framed(other, b"\x02x"), framed(424242, b"\x02"), b"\x00\x00"]
    assert produce_all(agent.bootstrap, topic, refused) == [KafkaError.INVALID_RECORD] * 4
    assert end_offset(agent.bootstrap, topic) == 3, "nothing of a refused batch is stored"
    # Tombstones carry no schema and pass.
    assert produce_all(agent.bootstrap, topic, [None]) == [0]

    # kafka-python sees the same refusal.
    producer = KafkaProducer(bootstrap_servers=agent.bootstrap, retries=0)
    with pytest.raises(InvalidRecordError):
        producer.send(topic, b"not framed").get(timeout=30)
    producer.send(topic, good[0]).get(timeout=30)
    producer.close()
    assert end_offset(agent.bootstrap, topic) == 5


def test_validation_switches_on_and_off_and_checks_keys(registry_agent):
    agent, client = registry_agent
    topic = unique_topic("switched")
    create_topic(agent.bootstrap, topic)
    assert produce_all(agent.bootstrap, topic, [b"free"]) == [0]
    set_configs(agent.bootstrap, topic, {"confluent.key.schema.validation": "true"})
    key_id = client.register_schema(f"{topic}-key", Schema(json.dumps({"type": "string"}), "AVRO"))
    assert produce_all(agent.bootstrap, topic, [b"v"], key=b"plain key") == [KafkaError.INVALID_RECORD]
    assert produce_all(agent.bootstrap, topic, [b"v"], key=framed(key_id, b"\x02k")) == [0]
    assert produce_all(agent.bootstrap, topic, [b"v"]) == [0], "null keys pass"
    set_configs(agent.bootstrap, topic, {"confluent.key.schema.validation": "false"})
    assert produce_all(agent.bootstrap, topic, [b"v"], key=b"plain key") == [0]
    admin = admin_client(agent.bootstrap)
    entries = list(admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values())[0].result(30)
    assert entries["confluent.value.subject.name.strategy"].value == \
        "io.confluent.kafka.serializers.subject.TopicNameStrategy"
    assert entries["weft.schema.validation.deep"].value == "false"


def test_deep_validation_decodes_avro_and_protobuf(registry_agent):
    agent, client = registry_agent
    avro_topic, proto_topic = unique_topic("deep-avro"), unique_topic("deep-proto")
    deep = {"confluent.value.schema.validation": "true", "weft.schema.validation.deep": "true"}
    create_topic(agent.bootstrap, avro_topic, config=deep)
    create_topic(agent.bootstrap, proto_topic, config=deep)

    order = client.register_schema(f"{avro_topic}-value", Schema(ORDER, "AVRO"))
    # id 1 as a zig-zag long, then "ab" as a length-prefixed string.
    assert produce_all(agent.bootstrap, avro_topic, [framed(order, b"\x02\x04ab")]) == [0]
    bad_avro = [framed(order, b"\x02\x08ab"), framed(order, b"\x02\x04abEXTRA"), framed(order, b"")]
    assert produce_all(agent.bootstrap, avro_topic, bad_avro) == [KafkaError.INVALID_RECORD] * 3

    ping = client.register_schema(f"{proto_topic}-value", Schema(PING, "PROTOBUF"))
    # Message indexes [0] written as the single byte 0, then n = 5 and note = "hi".
    assert produce_all(agent.bootstrap, proto_topic, [framed(ping, b"\x00\x08\x05\x12\x02hi")]) == [0]
    bad_proto = [framed(ping, b"\x00\x12\x05hi"), framed(ping, b"\x02\x02\x08\x05"), framed(ping, b"\x00\x0d\x01")]
    assert produce_all(agent.bootstrap, proto_topic, bad_proto) == [KafkaError.INVALID_RECORD] * 3
    assert end_offset(agent.bootstrap, avro_topic) == 1 and end_offset(agent.bootstrap, proto_topic) == 1
