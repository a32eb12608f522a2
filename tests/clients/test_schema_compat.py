"""The compatibility matrix through confluent-kafka's SchemaRegistryClient: for each format (AVRO, PROTOBUF,
JSON) and level (NONE, BACKWARD, FORWARD, FULL and their transitive forms), the evolutions the level allows
pass `test_compatibility` and register, those it refuses fail the check and answer 409; and a version that is
compatible with the latest but not with an older one is refused only by the *_TRANSITIVE levels. One agent
serves the whole module; every case has subjects of its own."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from registryutil import Http, registry_agent


def avro(fields: list) -> str:
    out = []
    for name, kind, default in fields:
        f = {"name": name, "type": kind}
        if default is not None:
            f["default"] = default
        out.append(f)
    return json.dumps({"type": "record", "name": "R", "namespace": "weft.compat", "fields": out})


def proto(messages: dict) -> str:
    body = "".join(f"message {name} {{ {' '.join(fields)} }}\n" for name, fields in messages.items())
    return f'syntax = "proto3";\npackage weft.compat;\n{body}'


def json_schema(a: dict, **top) -> str:
    return json.dumps({"type": "object", "properties": {"a": a}, **top})


# Per format: the base version and evolutions of it that are compatible both ways (full), only backward
# (new readers read old data), only forward (old readers read new data) or neither; `neither_full` is `neither`
# plus the full change, so it is compatible with `neither` but not with `base`.
VARIANTS = {
    "AVRO": {
        "base": avro([("a", "string", None), ("b", "string", None)]),
        "full": avro([("a", "string", None), ("b", "string", None), ("c", "string", "")]),
        "backward": avro([("a", "string", None)]),
        "forward": avro([("a", "string", None), ("b", "string", None), ("c", "string", None)]),
        "neither": avro([("a", "int", None), ("b", "string", None)]),
        "neither_full": avro([("a", "int", None), ("b", "string", None), ("c", "string", "")]),
    },
    "PROTOBUF": {
        "base": proto({"A": ["string a = 1;"], "B": ["string b = 1;"]}),
        "full": proto({"A": ["string a = 1;", "string c = 2;"], "B": ["string b = 1;"]}),
        "backward": proto({"A": ["string a = 1;"], "B": ["string b = 1;"], "C": ["string c = 1;"]}),
        "forward": proto({"A": ["string a = 1;"]}),
        "neither": proto({"A": ["int32 a = 1;"], "B": ["string b = 1;"]}),
        "neither_full": proto({"A": ["int32 a = 1;", "string c = 2;"], "B": ["string b = 1;"]}),
    },
    "JSON": {
        "base": json_schema({"type": "string", "maxLength": 10}),
        "full": json_schema({"type": "string", "maxLength": 10}, description="people"),
        "backward": json_schema({"type": "string", "maxLength": 20}),
        "forward": json_schema({"type": "string", "maxLength": 5}),
        "neither": json_schema({"type": "integer"}),
        "neither_full": json_schema({"type": "integer"}, description="people"),
    },
}

# Per level: the evolutions it allows and those it refuses.
LEVELS = {
    "NONE": (["neither", "backward", "forward", "full"], []),
    "BACKWARD": (["backward", "full"], ["forward", "neither"]),
    "BACKWARD_TRANSITIVE": (["backward", "full"], ["forward", "neither"]),
    "FORWARD": (["forward", "full"], ["backward", "neither"]),
    "FORWARD_TRANSITIVE": (["forward", "full"], ["backward", "neither"]),
    "FULL": (["full"], ["backward", "forward", "neither"]),
    "FULL_TRANSITIVE": (["full"], ["backward", "forward", "neither"]),
}


@pytest.fixture(scope="module")
def client(weft_bin, tmp_path_factory):
    with registry_agent(weft_bin, tmp_path_factory) as (_, url):
        yield SchemaRegistryClient({"url": url}), Http(url)


def fresh_subject(client: SchemaRegistryClient, fmt: str, level: str, case: str) -> str:
    subject = f"{fmt}-{level}-{case}".lower()
    client.set_compatibility(subject, level)
    client.register_schema(subject, Schema(VARIANTS[fmt]["base"], fmt))
    return subject


@pytest.mark.parametrize("fmt", sorted(VARIANTS))
@pytest.mark.parametrize("level", list(LEVELS))
def test_level_allows_and_refuses_evolutions(client, fmt, level):
    sr, http = client
    allowed, refused = LEVELS[level]
    subject = fresh_subject(sr, fmt, level, "matrix")
    for name in refused:
        schema = Schema(VARIANTS[fmt][name], fmt)
        assert sr.test_compatibility(subject, schema) is False, f"{name} passes {level}"
        status, body, _ = http.post(f"/compatibility/subjects/{subject}/versions/latest?verbose=true",
                                    {"schema": schema.schema_str, "schemaType": fmt})
        assert status == 200 and body["is_compatible"] is False and body["messages"], body
        with pytest.raises(SchemaRegistryError) as e:
            sr.register_schema(subject, schema)
        assert (e.value.http_status_code, e.value.error_code) == (409, 409), f"{name}: {e.value}"
    for name in allowed:
        schema = Schema(VARIANTS[fmt][name], fmt)
        assert sr.test_compatibility(subject, schema) is True, f"{name} refused by {level}"
    first_allowed = Schema(VARIANTS[fmt][allowed[0]], fmt)
    sr.register_schema(subject, first_allowed)
    assert sr.get_versions(subject) == [1, 2]


@pytest.mark.parametrize("fmt", sorted(VARIANTS))
@pytest.mark.parametrize("level", ["BACKWARD", "FORWARD", "FULL"])
def test_only_transitive_levels_check_older_versions(client, fmt, level):
    sr, http = client
    subject = fresh_subject(sr, fmt, "NONE", f"transitive-{level}")
    sr.register_schema(subject, Schema(VARIANTS[fmt]["neither"], fmt))
    latest_only = Schema(VARIANTS[fmt]["neither_full"], fmt)
    body = {"schema": latest_only.schema_str, "schemaType": fmt}
    sr.set_compatibility(subject, level)
    assert sr.test_compatibility(subject, latest_only) is True
    assert http.post(f"/compatibility/subjects/{subject}/versions", body)[1] == {"is_compatible": True}
    sr.set_compatibility(subject, f"{level}_TRANSITIVE")
    status, verdict, _ = http.post(f"/compatibility/subjects/{subject}/versions?verbose=true", body)
    assert status == 200 and verdict["is_compatible"] is False and verdict["messages"], verdict
    # Against version 1 alone it is incompatible at any level but NONE; against the latest it is compatible.
    assert sr.test_compatibility(subject, latest_only, version=1) is False
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema(subject, latest_only)
    assert e.value.http_status_code == 409
    sr.set_compatibility(subject, level)
    assert sr.register_schema(subject, latest_only) > 0
    assert sr.get_versions(subject) == [1, 2, 3]
