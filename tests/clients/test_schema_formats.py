"""confluent-kafka's Protobuf and JSON Schema serializers and deserializers against Weft's registry, producing
and consuming real records through the agent, and references between schemas of each format (an Avro record
using another subject's type, a Protobuf import, a JSON `$ref`): listed under /referencedby, and a referenced
version cannot be deleted (42206). The Protobuf classes are built at run time from descriptors (no protoc)."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

from clientutil import unique_topic
from conftest import _make_agent
from registryutil import Http, error_of, free_port, registry_args, round_trip

F = descriptor_pb2.FieldDescriptorProto


@pytest.fixture(scope="module")
def registry(weft_bin, tmp_path_factory):
    port = free_port()
    agent = _make_agent(weft_bin, tmp_path_factory, registry_args(port))
    agent.start()
    yield agent, f"http://127.0.0.1:{port}"
    agent.stop()


def proto_classes():
    """weft/common.proto (Money) and weft/order.proto (Order, importing it and google's Timestamp)."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    common = descriptor_pb2.FileDescriptorProto(name="weft/common.proto", package="weft.common", syntax="proto3")
    money = common.message_type.add(name="Money")
    money.field.add(name="currency", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    money.field.add(name="cents", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    pool.Add(common)
    order = descriptor_pb2.FileDescriptorProto(name="weft/order.proto", package="weft.shop", syntax="proto3",
                                               dependency=["weft/common.proto", "google/protobuf/timestamp.proto"])
    msg = order.message_type.add(name="Order")
    msg.field.add(name="id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    msg.field.add(name="total", number=2, type=F.TYPE_MESSAGE, type_name=".weft.common.Money",
                  label=F.LABEL_OPTIONAL)
    msg.field.add(name="tags", number=3, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    msg.field.add(name="at", number=4, type=F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp",
                  label=F.LABEL_OPTIONAL)
    line = msg.nested_type.add(name="Line")
    line.field.add(name="sku", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    pool.Add(order)
    Order = message_factory.GetMessageClass(pool.FindMessageTypeByName("weft.shop.Order"))
    Line = message_factory.GetMessageClass(pool.FindMessageTypeByName("weft.shop.Order.Line"))
    return Order, Line


def test_protobuf_records_round_trip_with_an_import(registry):
    agent, url = registry
    client = SchemaRegistryClient({"url": url})
    Order, Line = proto_classes()
    serializer = ProtobufSerializer(Order, client)
    deserializer = ProtobufDeserializer(Order, {}, client)
    orders = []
    for i in range(4):
        o = Order(id=f"o-{i}", tags=["a", str(i)])
        o.total.currency, o.total.cents = "EUR", 100 * i + 1
        o.at.seconds = 1_700_000_000 + i
        orders.append(o)
    topic = unique_topic("proto")
    assert round_trip(agent.bootstrap, serializer, deserializer, orders, topic) == orders
    # The import was registered as its own subject (the serializer's reference strategy: the file name) and
    # the order's schema references it; google's well-known types are not references.
    assert "weft/common.proto" in client.get_subjects()
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema.schema_type == "PROTOBUF"
    assert [(r.name, r.subject, r.version) for r in latest.schema.references] == \
        [("weft/common.proto", "weft/common.proto", 1)]
    assert "message Order" in latest.schema.schema_str, "stored as .proto text"
    http = Http(url)
    status, body, _ = http.get("/subjects/weft%2Fcommon.proto/versions/1/referencedby")
    assert (status, body) == (200, [latest.schema_id])
    assert error_of(http.delete("/subjects/weft%2Fcommon.proto/versions/1")) == (422, 42206)
    # A nested message gets its own message index; the deserializer of the nested type reads it back.
    line_ser = ProtobufSerializer(Line, client)
    line_de = ProtobufDeserializer(Line, {}, client)
    lines = [Line(sku="x-1"), Line(sku="y-2")]
    assert round_trip(agent.bootstrap, line_ser, line_de, lines, unique_topic("line")) == lines


def test_protobuf_serialized_and_text_forms_are_one_schema(registry):
    _, url = registry
    client = SchemaRegistryClient({"url": url})
    text = 'syntax = "proto3";\npackage weft.forms;\n\nmessage Ping {\n  string from = 1;\n  int32 seq = 2;\n}\n'
    first = client.register_schema("forms-value", Schema(text, "PROTOBUF"))
    http = Http(url)
    status, body, _ = http.get(f"/schemas/ids/{first}?format=serialized")
    assert status == 200 and "message" not in body["schema"], body
    # The serialized form registered again (as confluent-kafka's serializer sends it) is a new version of the
    # same subject's schema text printed from the descriptor; lookups by either form find their version.
    again = client.register_schema("forms-value", Schema(body["schema"], "PROTOBUF"))
    assert client.lookup_schema("forms-value", Schema(body["schema"], "PROTOBUF")).schema_id == again
    assert client.lookup_schema("forms-value", Schema(text, "PROTOBUF")).schema_id == first
    status, version, _ = http.get("/subjects/forms-value/versions/latest?format=serialized")
    assert status == 200 and version["schemaType"] == "PROTOBUF" and "message" not in version["schema"]


PERSON = {
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Person", "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"], "additionalProperties": False,
}


def test_json_records_round_trip_and_invalid_ones_are_refused(registry):
    agent, url = registry
    client = SchemaRegistryClient({"url": url})
    serializer = JSONSerializer(json.dumps(PERSON), client)
    deserializer = JSONDeserializer(None, schema_registry_client=client)
    people = [{"name": "ada", "age": 36}, {"name": "alan"}]
    topic = unique_topic("json")
    assert round_trip(agent.bootstrap, serializer, deserializer, people, topic) == people
    with pytest.raises(Exception, match="(?i)valid|required|additional"):
        serializer({"age": -1}, None)
    assert json.loads(client.get_latest_version(f"{topic}-value").schema.schema_str) == PERSON


def test_json_ref_to_another_subject_round_trips(registry):
    agent, url = registry
    client = SchemaRegistryClient({"url": url})
    address = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    client.register_schema("json-address", Schema(json.dumps(address), "JSON"))
    customer = {"title": "Customer", "type": "object",
                "properties": {"name": {"type": "string"}, "home": {"$ref": "address.json"}}}
    schema = Schema(json.dumps(customer), "JSON", [SchemaReference("address.json", "json-address", 1)])
    customer_id = client.register_schema("json-customer-value", schema)
    serializer = JSONSerializer(schema, client, conf={"auto.register.schemas": False, "use.latest.version": True})
    deserializer = JSONDeserializer(None, schema_registry_client=client)
    values = [{"name": "ada", "home": {"city": "London"}}]
    topic_values = round_trip(agent.bootstrap, lambda v, ctx: serializer(v, _subject_ctx(ctx)),
                              lambda b, ctx: deserializer(b, _subject_ctx(ctx)), values, unique_topic("json-ref"))
    assert topic_values == values
    with pytest.raises(Exception):
        serializer({"name": "bob", "home": {"town": "x"}}, _subject_ctx(None))
    http = Http(url)
    assert http.get("/subjects/json-address/versions/1/referencedby")[:2] == (200, [customer_id])
    assert error_of(http.delete("/subjects/json-address/versions/1")) == (422, 42206)
    assert error_of(http.delete("/subjects/json-address")) == (422, 42206)
    # Once the referrer is gone for good, the referenced version may go.
    assert http.delete("/subjects/json-customer-value")[0] == 200
    assert http.delete("/subjects/json-customer-value?permanent=true")[0] == 200
    assert http.delete("/subjects/json-address/versions/1")[:2] == (200, 1)


def _subject_ctx(ctx):
    """A context naming the `json-customer-value` subject whatever the topic (TopicNameStrategy on topic
    `json-customer`)."""
    from confluent_kafka.serialization import MessageField, SerializationContext
    return SerializationContext("json-customer", MessageField.VALUE)


def test_avro_record_referencing_another_subjects_type(registry):
    agent, url = registry
    client = SchemaRegistryClient({"url": url})
    address = {"type": "record", "name": "Address", "namespace": "weft.ref",
               "fields": [{"name": "city", "type": "string"}]}
    client.register_schema("avro-address", Schema(json.dumps(address), "AVRO"))
    person = {"type": "record", "name": "Person", "namespace": "weft.ref",
              "fields": [{"name": "name", "type": "string"}, {"name": "home", "type": "weft.ref.Address"}]}
    schema = Schema(json.dumps(person), "AVRO", [SchemaReference("weft.ref.Address", "avro-address", 1)])
    person_id = client.register_schema("avro-person-value", schema)
    http = Http(url)
    assert http.get("/subjects/avro-address/versions/1/referencedby")[:2] == (200, [person_id])
    assert error_of(http.delete("/subjects/avro-address/versions/1")) == (422, 42206)
    missing = Schema(json.dumps(person), "AVRO", [SchemaReference("weft.ref.Address", "avro-address", 9)])
    assert error_of(http.post("/subjects/avro-bad/versions", {
        "schema": missing.schema_str,
        "references": [{"name": "weft.ref.Address", "subject": "avro-address", "version": 9}]}))[1] == 42201
    serializer = AvroSerializer(client, schema, conf={"auto.register.schemas": False, "use.latest.version": True})
    deserializer = AvroDeserializer(client)
    values = [{"name": "ada", "home": {"city": "London"}}]
    from confluent_kafka.serialization import MessageField, SerializationContext
    ctx = SerializationContext("avro-person", MessageField.VALUE)
    got = round_trip(agent.bootstrap, lambda v, _: serializer(v, ctx), lambda b, _: deserializer(b, ctx), values,
                     unique_topic("avro-ref"))
    assert got == values
