"""The registry's REST API beyond the happy path, through confluent-kafka's SchemaRegistryClient and raw HTTP:
soft and permanent deletes of versions and subjects with `?deleted=true` listings and re-registration, ids
stable across an agent restart and shared by equal (normalized) schemas of two subjects, READONLY and IMPORT
modes, and malformed requests answered with Confluent's error codes in a JSON body, never a bare 500."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from registryutil import Http, error_of, free_port, registry_agent, registry_args


def record(name: str, *fields: str, namespace: str = "weft.api") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": namespace,
                       "fields": [{"name": f, "type": "string", "default": ""} for f in fields]})


@pytest.fixture(scope="module")
def registry(weft_bin, tmp_path_factory):
    with registry_agent(weft_bin, tmp_path_factory) as (_, url):
        yield SchemaRegistryClient({"url": url}), Http(url)


def test_soft_and_permanent_deletes(registry):
    sr, http = registry
    s = "deletes-value"
    ids = [sr.register_schema(s, Schema(record("D", *"abc"[:n]), "AVRO")) for n in (1, 2, 3)]
    assert sr.get_versions(s) == [1, 2, 3]
    assert sr.delete_version(s, 1) == 1
    assert sr.get_versions(s) == [2, 3]
    assert http.get(f"/subjects/{s}/versions?deleted=true")[1] == [1, 2, 3]
    assert error_of(http.get(f"/subjects/{s}/versions/1")) == (404, 40402)
    status, body, _ = http.get(f"/subjects/{s}/versions/1?deleted=true")
    assert (status, body["id"], body["version"]) == (200, ids[0], 1)
    assert http.get(f"/schemas/ids/{ids[0]}")[0] == 200, "a soft-deleted version's schema stays readable by id"
    assert http.get(f"/schemas/ids/{ids[0]}/versions")[1] == []
    assert http.get(f"/schemas/ids/{ids[0]}/versions?deleted=true")[1] == [{"subject": s, "version": 1}]
    assert error_of(http.delete(f"/subjects/{s}/versions/1")) == (404, 40406)
    assert error_of(http.delete(f"/subjects/{s}/versions/2?permanent=true")) == (404, 40407)
    assert error_of(http.delete(f"/subjects/{s}/versions/9")) == (404, 40402)
    assert http.delete(f"/subjects/{s}/versions/1?permanent=true")[:2] == (200, 1)
    assert http.get(f"/subjects/{s}/versions?deleted=true")[1] == [2, 3]
    assert error_of(http.get(f"/schemas/ids/{ids[0]}")) == (404, 40403), "used by no version any more"
    # The subject: a permanent delete needs a soft one first; soft-deleted subjects list with ?deleted=true.
    assert error_of(http.delete(f"/subjects/{s}?permanent=true")) == (404, 40405)
    assert sr.delete_subject(s) == [2, 3]
    assert s not in sr.get_subjects()
    assert s in http.get("/subjects?deleted=true")[1]
    assert error_of(http.get(f"/subjects/{s}/versions")) == (404, 40401)
    assert error_of(http.delete(f"/subjects/{s}")) == (404, 40404)
    # Registering a soft-deleted schema again revives it under its id as a new version (a fresh client: the
    # first one remembers what it registered and would not ask).
    sr = SchemaRegistryClient({"url": http.url})
    assert sr.register_schema(s, Schema(record("D", "a", "b"), "AVRO")) == ids[1]
    assert sr.get_versions(s) == [4]
    assert sr.delete_subject(s) == [4]
    assert sr.delete_subject(s, permanent=True) == [2, 3, 4]
    assert s not in http.get("/subjects?deleted=true")[1]
    assert error_of(http.get(f"/subjects/{s}/versions?deleted=true")) == (404, 40401)
    again = SchemaRegistryClient({"url": http.url}).register_schema(s, Schema(record("D", "a"), "AVRO"))
    assert sr.get_versions(s) == [1], "a permanently deleted subject starts over"
    assert again not in ids[1:], "an id is never given to other content"


def test_equal_schemas_share_one_id(registry):
    sr, http = registry
    text = record("Same", "x", "y")
    spaced = json.dumps(json.loads(text), indent=4)
    first = sr.register_schema("same-a", Schema(text, "AVRO"))
    assert sr.register_schema("same-b", Schema(spaced, "AVRO")) == first, "whitespace is not identity"
    assert sorted(http.get(f"/schemas/ids/{first}/subjects")[1]) == ["same-a", "same-b"]
    # With normalize, a full name and a namespace spelling of one record are one schema.
    full = json.dumps({"type": "record", "name": "weft.norm.N", "fields": [{"name": "f", "type": "int"}]})
    split = json.dumps({"type": "record", "name": "N", "namespace": "weft.norm",
                        "fields": [{"name": "f", "type": "int"}]})
    n1 = sr.register_schema("norm-a", Schema(full, "AVRO"), normalize_schemas=True)
    assert sr.register_schema("norm-b", Schema(split, "AVRO"), normalize_schemas=True) == n1
    proto_a = 'syntax = "proto3";\nmessage P { int32 b = 2; string a = 1; }'
    proto_b = 'syntax = "proto3";\n\nmessage P {\n  string a = 1;\n  int32 b = 2;\n}\n'
    p1 = sr.register_schema("norm-proto-a", Schema(proto_a, "PROTOBUF"), normalize_schemas=True)
    assert sr.register_schema("norm-proto-b", Schema(proto_b, "PROTOBUF"), normalize_schemas=True) == p1
    j1 = sr.register_schema("norm-json-a", Schema('{"type":"object","title":"J"}', "JSON"), normalize_schemas=True)
    assert sr.register_schema("norm-json-b", Schema('{"title":"J","type":"object"}', "JSON"),
                              normalize_schemas=True) == j1
    # A subject configured to normalize normalizes whatever the client says (clients send normalize=false).
    assert http.put("/config/norm-config", {"normalize": True})[0] == 200
    c1 = sr.register_schema("norm-config", Schema(full.replace("weft.norm.N", "weft.cfg.N"), "AVRO"))
    assert sr.register_schema("norm-config", Schema(split.replace("weft.norm", "weft.cfg"), "AVRO")) == c1
    assert sr.get_versions("norm-config") == [1], "one version: the spellings normalize alike"
    # ?subject= falls back to the id when the subject does not hold it (a consumer's default subject).
    status, body, _ = http.get(f"/schemas/ids/{first}?subject=not-a-subject")
    assert status == 200 and json.loads(body["schema"]) == json.loads(text), body


def test_properties_of_primitive_types_are_kept(registry):
    """Kafka Connect marks int16 fields `{"type": "int", "connect.type": "int16"}` and Avro's Java code
    generator strings `{"type": "string", "avro.java.string": "String"}`; the schema served back by id keeps
    them, and a schema differing only in such a property is a different schema."""
    sr, http = registry
    field = {"type": "int", "connect.type": "int16"}
    marked = json.dumps({"type": "record", "name": "Props", "namespace": "weft.api", "fields": [
        {"name": "a", "type": field},
        {"name": "s", "type": {"type": "string", "avro.java.string": "String"}}]})
    sid = sr.register_schema("props-value", Schema(marked, "AVRO"))
    served = json.loads(sr.get_schema(sid).schema_str)
    assert served["fields"][0]["type"] == field, served
    assert served["fields"][1]["type"] == {"type": "string", "avro.java.string": "String"}, served
    plain = json.dumps({"type": "record", "name": "Props", "namespace": "weft.api", "fields": [
        {"name": "a", "type": "int"}, {"name": "s", "type": "string"}]})
    assert http.put("/config/props-value", {"compatibility": "NONE"})[0] == 200
    assert sr.register_schema("props-value", Schema(plain, "AVRO")) != sid
    assert sr.lookup_schema("props-value", Schema(marked, "AVRO")).schema_id == sid


def test_modes(registry):
    sr, http = registry
    s = "modes-value"
    sr.register_schema(s, Schema(record("M", "a"), "AVRO"))
    assert http.put(f"/mode/{s}", {"mode": "READONLY"})[1] == {"mode": "READONLY"}
    for refused in (http.post(f"/subjects/{s}/versions", {"schema": record("M", "a", "b")}),
                    http.delete(f"/subjects/{s}/versions/1"), http.delete(f"/subjects/{s}")):
        assert error_of(refused) == (422, 42205)
    assert sr.get_versions(s) == [1], "reads still work"
    assert http.delete(f"/mode/{s}")[1] == {"mode": "READONLY"}
    sr.register_schema(s, Schema(record("M", "a", "b"), "AVRO"))
    assert error_of(http.put(f"/mode/{s}", {"mode": "SIDEWAYS"})) == (422, 42204)
    # IMPORT: explicit ids and versions, refused elsewhere; switching a populated subject needs force.
    explicit = {"schema": record("Imported", "a"), "id": 5000, "version": 7}
    assert error_of(http.post("/subjects/import-value/versions", explicit)) == (422, 42205)
    assert error_of(http.put(f"/mode/{s}", {"mode": "IMPORT"})) == (422, 42205)
    assert http.put("/mode/import-value", {"mode": "IMPORT"})[1] == {"mode": "IMPORT"}
    assert http.post("/subjects/import-value/versions", explicit)[:2] == (200, {"id": 5000})
    assert sr.get_versions("import-value") == [7]
    assert json.loads(sr.get_schema(5000).schema_str)["name"] == "Imported"
    clash = {"schema": record("Other", "a"), "id": 5000, "version": 8}
    assert error_of(http.post("/subjects/import-value/versions", clash))[1] == 42205
    http.put("/mode/import-value", {"mode": "READWRITE"})
    assert sr.register_schema("after-import", Schema(record("After", "a"), "AVRO")) > 5000, "ids go on past it"


def test_malformed_requests_get_confluent_errors(registry):
    sr, http = registry
    sr.register_schema("bad-value", Schema(record("B", "a"), "AVRO"))
    cases = [
        (http.post("/subjects/x/versions", raw=b"{not json"), 400, 400),
        (http.post("/subjects/x/versions", raw=b""), 400, 400),
        (http.post("/subjects/x/versions", {"schema": 5}), 400, 400),
        (http.post("/subjects/x/versions", {"schema": "\"string\"", "references": {"a": 1}}), 400, 400),
        (http.post("/subjects/x/versions", {}), 422, 42201),
        (http.post("/subjects/x/versions", {"schema": ""}), 422, 42201),
        (http.post("/subjects/x/versions", {"schema": "{\"type\": \"record\"}"}), 422, 42201),
        (http.post("/subjects/x/versions", {"schema": "\"string\"", "schemaType": "XML"}), 422, 42201),
        (http.post("/subjects/x/versions", {"schema": "message {", "schemaType": "PROTOBUF"}), 422, 42201),
        (http.post("/subjects/x/versions", {"schema": "[1]", "schemaType": "JSON"}), 422, 42201),
        (http.post("/subjects/x/versions", {"schema": "\"string\"",
                                            "references": [{"name": "n", "subject": "nope", "version": 1}]}),
         422, 42201),
        (http.post("/subjects/x/versions", raw=b"{" + b" " * (9 * 1024 * 1024) + b"}"), 413, 42201),
        (http.get("/subjects/bad-value/versions/0"), 422, 42202),
        (http.get("/subjects/bad-value/versions/abc"), 422, 42202),
        (http.get("/subjects/bad-value/versions/99999999999"), 422, 42202),
        (http.get("/subjects/bad-value/versions/5"), 404, 40402),
        (http.get("/subjects/nobody/versions/1"), 404, 40401),
        (http.get("/subjects/nobody/versions"), 404, 40401),
        (http.post("/subjects/nobody", {"schema": "\"string\""}), 404, 40401),
        (http.post("/subjects/bad-value", {"schema": "\"string\""}), 404, 40403),
        (http.get("/schemas/ids/424242"), 404, 40403),
        (http.get("/schemas/ids/x"), 404, 40403),
        (http.put("/config/bad-value", {"compatibility": "SOMETIMES"}), 422, 42203),
        (http.get("/config/bad-value"), 404, 40408),
        (http.get("/nothing/here"), 404, 404),
        (http.call("PATCH", "/subjects"), 405, 405),
        (http.post("/compatibility/subjects/nobody/versions/1", {"schema": "\"string\""}), 404, 40401),
        (http.post("/compatibility/subjects/bad-value/versions/7", {"schema": "\"string\""}), 404, 40402),
        (http.put("/config", {"compatibility": 5}), 400, 400),
        (http.put("/config", {}), 422, 42203),
        (http.put("/mode", ["READONLY"]), 400, 400),
        (http.put("/mode/bad-value", {}), 422, 42204),
        (http.get("/subjects/%ZZ/versions"), 404, 40401),
        (http.get("/subjects/bad-value/versions/1/referencedby/x"), 404, 404),
        (http.get("/subjects/nobody/versions/1/referencedby"), 404, 40401),
        (http.get("/schemas/ids/-1/subjects"), 404, 40403),
        (http.call("POST", "/subjects/x/versions", raw=b"\xff\xfe"), 400, 400),
    ]
    for i, (reply, status, code) in enumerate(cases):
        assert error_of(reply) == (status, code), f"case {i}: {reply[:2]}"
    with pytest.raises(SchemaRegistryError) as e:
        sr.register_schema("x", Schema("{]", "AVRO"))
    assert e.value.error_code == 42201
    # Nothing above was stored.
    assert "x" not in sr.get_subjects()


def test_ids_survive_a_restart(agent_factory):
    port = free_port()
    agent = agent_factory(*registry_args(port))
    url = f"http://127.0.0.1:{port}"
    sr = SchemaRegistryClient({"url": url})
    first = sr.register_schema("restart-a", Schema(record("R", "a"), "AVRO"))
    second = sr.register_schema("restart-b", Schema('{"type":"string"}', "JSON"))
    agent.restart()
    sr = SchemaRegistryClient({"url": url})
    assert json.loads(sr.get_schema(first).schema_str)["name"] == "R"
    assert sr.register_schema("restart-a", Schema(record("R", "a"), "AVRO")) == first
    assert sr.register_schema("restart-c", Schema(record("R", "a"), "AVRO")) == first
    assert sr.get_versions("restart-b") == [1]
    third = sr.register_schema("restart-a", Schema(record("R", "a", "b"), "AVRO"))
    assert third not in (first, second)
    assert sr.get_versions("restart-a") == [1, 2]


def test_refusals_under_basic_auth_are_confluent_bodies(agent_factory, weft_bin):
    """Under `--admin-auth basic` with the ACL authorizer: no or wrong credentials get 401 with Confluent's
    40101 body and the Basic challenge; an authenticated user without ACLs gets 40301; the client with the
    right credentials and ACLs works. The admin listener keeps its plain answers."""
    import base64
    from cliutil import run
    port = free_port()
    a = agent_factory(*registry_args(port), "--admin-auth", "basic", "--authorizer", "acl",
                      "--super-users", "User:ANONYMOUS", "--connection-failed-authentication-delay-ms", "100",
                      start=False)
    metastore = f"sqlite://{a.data_dir}/meta.db"
    for user in ("writer", "nobody"):
        run(weft_bin, None, "user", "create", user, "--password", f"{user}-secret", "--metastore", metastore)
    a.start()
    for op in ("describe", "alter"):
        run(weft_bin, a.bootstrap, "acl", "add", "--allow-principal", "User:writer", "--operation", op, "--cluster")
    url = f"http://127.0.0.1:{port}"

    def basic(user, password):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    for auth in (None, basic("writer", "wrong"), basic("ghost", "x"), "Bearer abc"):
        reply = Http(url, auth).get("/subjects")
        assert error_of(reply) == (401, 40101), auth
        assert reply[2]["WWW-Authenticate"].startswith('Basic realm="weft"')
    assert error_of(Http(url, basic("nobody", "nobody-secret")).get("/subjects")) == (403, 40301)
    sr = SchemaRegistryClient({"url": url, "basic.auth.user.info": "writer:writer-secret"})
    assert sr.register_schema("auth-value", Schema(record("Auth", "a"), "AVRO")) == 1
    with pytest.raises(SchemaRegistryError) as e:
        SchemaRegistryClient({"url": url, "basic.auth.user.info": "writer:nope"}).get_subjects()
    assert (e.value.http_status_code, e.value.error_code) == (401, 40101)
    admin = urllib_get(f"http://{a.admin}/metrics")
    assert admin[0] == 401 and not admin[1].startswith("{"), "the admin listener answers as before"


def urllib_get(url: str):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
