"""Helpers for the schema registry tests: an agent serving the registry on a free port, raw HTTP calls that
return status, parsed body and headers (so tests can check Confluent's error bodies), and producing and
consuming through confluent-kafka's serializers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import Optional

from clientutil import Rec, consume_confluent, create_topic, produce_confluent
from confluent_kafka.serialization import MessageField, SerializationContext
from servers import free_port

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def registry_args(port: int) -> tuple:
    return ("--schema-registry-listen", f"127.0.0.1:{port}")


@contextmanager
def registry_agent(weft_bin, tmp_path_factory):
    """An agent serving the registry on a free port, for module-scoped fixtures: yields (agent, registry URL)."""
    from conftest import _make_agent
    port = free_port()
    agent = _make_agent(weft_bin, tmp_path_factory, registry_args(port))
    agent.start()
    try:
        yield agent, f"http://127.0.0.1:{port}"
    finally:
        agent.stop()


class Http:
    """Raw requests to a registry; every answer is (status, body parsed as JSON or None, headers (case-insensitive))."""

    def __init__(self, url: str, auth: Optional[str] = None):
        self.url = url
        self.auth = auth

    def call(self, method: str, path: str, body=None, raw: Optional[bytes] = None,
             content_type: str = CONTENT_TYPE):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.auth:
            req.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, _json(r.read()), r.headers
        except urllib.error.HTTPError as e:
            return e.code, _json(e.read()), e.headers

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body):
        return self.call("PUT", path, body)

    def delete(self, path):
        return self.call("DELETE", path)


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def error_of(reply) -> tuple:
    """(status, error_code) of an error reply, asserting Confluent's body shape."""
    status, body, headers = reply
    assert isinstance(body, dict) and set(body) == {"error_code", "message"}, f"{status}: {body!r}"
    assert isinstance(body["message"], str) and body["message"], body
    assert headers.get("Content-Type", "").startswith(CONTENT_TYPE), headers
    return status, body["error_code"]


def round_trip(bootstrap: str, serializer, deserializer, values: list, topic: str) -> list:
    """Serializes ``values`` into a new topic ``topic``, consumes them and returns them deserialized."""
    create_topic(bootstrap, topic)
    ctx = SerializationContext(topic, MessageField.VALUE)
    produce_confluent(bootstrap, topic, [Rec(partition=0, key=None, value=serializer(v, ctx)) for v in values])
    got = consume_confluent(bootstrap, topic, [0], min_count=len(values))
    return [deserializer(r.value, ctx) for r in got]
