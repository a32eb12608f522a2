"""Concurrent registration through two agents sharing one PostgreSQL metastore (and one object-store directory):
many threads, each with its own confluent-kafka SchemaRegistryClient, register the same and different schemas
under shared subjects through both agents at once. Every schema gets one id, ids are dense, no subject has a
version twice, and both agents answer the same registry."""

from __future__ import annotations

import json
import threading
from collections import defaultdict

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from conftest import Agent
from registryutil import Http
from servers import PostgresServer, free_ports

THREADS = 12
SCHEMAS = 6
SUBJECTS = 4


@pytest.fixture
def two_agents(weft_bin, tmp_path, request):
    pg = PostgresServer(tmp_path / "pg").start()
    url = pg.database()
    objects = tmp_path / "objects"
    objects.mkdir()
    agents, urls = [], []
    for i, port in enumerate(free_ports(2)):
        d = tmp_path / f"agent-{i}"
        d.mkdir()
        agents.append(Agent(weft_bin, d, ["--metastore", url, "--object-store", f"file://{objects}",
                                          "--node-id", str(i + 1), "--schema-registry-listen",
                                          f"127.0.0.1:{port}"]))
        urls.append(f"http://127.0.0.1:{port}")
    request.node._weft_agents = agents
    try:
        for a in agents:
            a.start()
        yield urls
    finally:
        for a in agents:
            a.stop()
        pg.stop()


def schema(n: int) -> str:
    return json.dumps({"type": "record", "name": f"C{n}", "namespace": "weft.cluster",
                       "fields": [{"name": "f", "type": "string"}]})


def test_concurrent_registrations_through_two_agents(two_agents):
    for url in two_agents:
        assert Http(url).put("/config", {"compatibility": "NONE"})[0] == 200
    results: list = []
    errors: list = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(t: int):
        client = SchemaRegistryClient({"url": two_agents[t % 2]})
        start.wait(30)
        for k in range(SCHEMAS * 2):
            n, subject = (t + k) % SCHEMAS, f"shared-{(t + k) % SUBJECTS}"
            try:
                sid = client.register_schema(subject, Schema(schema(n), "AVRO"))
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                with lock:
                    errors.append(f"{subject} {n}: {e!r}")
                continue
            with lock:
                results.append((n, subject, sid))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert len(results) == THREADS * SCHEMAS * 2
    ids = defaultdict(set)
    for n, _, sid in results:
        ids[n].add(sid)
    assert all(len(v) == 1 for v in ids.values()), f"a schema got several ids: {dict(ids)}"
    assert sorted(v.pop() for v in ids.values()) == list(range(1, SCHEMAS + 1)), "ids dense from 1"
    pairs = {(n, subject) for n, subject, _ in results}
    by_subject = defaultdict(set)
    for n, subject in pairs:
        by_subject[subject].add(n)
    for url in two_agents:
        http = Http(url)
        for subject, schemas in by_subject.items():
            status, versions, _ = http.get(f"/subjects/{subject}/versions")
            assert status == 200 and versions == list(range(1, len(schemas) + 1)), (subject, versions)
            seen = [http.get(f"/subjects/{subject}/versions/{v}")[1]["id"] for v in versions]
            assert len(seen) == len(set(seen)), f"{subject}: one schema twice {seen}"


def evolving(k: int) -> str:
    """Version k of one record: fields f0..fk, each with a default, so any two are compatible both ways."""
    fields = [{"name": f"f{i}", "type": "string", "default": ""} for i in range(k + 1)]
    return json.dumps({"type": "record", "name": "E", "namespace": "weft.cluster", "fields": fields})


def test_concurrent_checked_registrations_under_one_subject(two_agents):
    """Under FULL_TRANSITIVE every registration is checked against the subject's versions and written only if
    no other registration slipped in meanwhile; racing threads through both agents all get through, each
    schema once."""
    subject = "checked-value"
    assert Http(two_agents[0]).put(f"/config/{subject}", {"compatibility": "FULL_TRANSITIVE"})[0] == 200
    results: dict = {}
    errors: list = []
    start = threading.Barrier(THREADS)

    def work(t: int):
        client = SchemaRegistryClient({"url": two_agents[t % 2]})
        start.wait(30)
        for k in (t, t, (t + 1) % THREADS):
            try:
                results.setdefault(k, set()).add(client.register_schema(subject, Schema(evolving(k), "AVRO")))
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(f"{k}: {e!r}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert all(len(ids) == 1 for ids in results.values()), results
    status, versions, _ = Http(two_agents[1]).get(f"/subjects/{subject}/versions")
    assert status == 200 and versions == list(range(1, THREADS + 1)), versions
