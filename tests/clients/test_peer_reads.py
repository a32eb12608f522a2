"""Agents of one zone share object reads (WarpStream's design), with real processes, PostgreSQL, s3s-fs and
librdkafka: a producer in zone b writes through agent 3 alone, so every segment holds records of every
partition; a consumer in zone a reads all partitions from agents 1 and 2 (leaders spread over its zone), so
both agents need every segment. With their peer listeners (the default) each segment is read from the bucket
about once for zone a; with the listeners off, once per agent."""

from __future__ import annotations

import re
import urllib.request

import pytest

from clientutil import consume_confluent, create_topic, produce_confluent, unique_topic, Rec
from servers import PostgresServer, S3Server
from test_cluster import cluster_factory  # noqa: F401 (fixture)

PARTITIONS = 12
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


@pytest.fixture(scope="module")
def shared_pg(tmp_path_factory):
    server = PostgresServer(tmp_path_factory.mktemp("pg")).start()
    yield server
    server.stop()


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "s3").start()
    yield server
    server.stop()


def counter(agent, name: str, **labels) -> float:
    """The sum of the samples of counter ``name`` with ``labels`` on the agent's /metrics."""
    with urllib.request.urlopen(f"http://{agent.admin}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = 0.0
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            found += float(m.group(3))
    return found


def store_gets(agent) -> float:
    return sum(counter(agent, "weft_object_store_requests_total", op=op) for op in ("get", "get_range"))


def run_zone(cluster_factory, pg, s3, prefix: str, peer_args: tuple) -> tuple:  # noqa: F811
    zones = [("--zone", "az-a", *peer_args), ("--zone", "az-a", *peer_args), ("--zone", "az-b", *peer_args)]
    c = cluster_factory(pg.database(), s3.url(prefix), per_agent_args=zones)
    topic = unique_topic("peer")
    create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
    for batch in range(6):
        recs = [Rec(i % PARTITIONS, f"k{batch}-{i}".encode(), b"v" * 200) for i in range(60)]
        results = produce_confluent(c.bootstrap([2]), topic, recs, **{"client.id": "weft_az=az-b"})
        assert all(err is None for err, _p, _o in results)
    segments = len(list((s3.bucket_dir / prefix / "v1" / "segments").glob("*.seg")))
    assert segments >= 6
    before = [store_gets(a) for a in c.agents[:2]]
    got = consume_confluent(c.bootstrap([0]), topic, range(PARTITIONS), min_count=360,
                            **{"client.id": "weft_az=az-a", "group.id": unique_topic("g")})
    assert len(got) == 360, "every record, through the agents of zone a"
    gets = sum(store_gets(a) - b for a, b in zip(c.agents[:2], before))
    served = sum(counter(a, "weft_peer_served_total", result="ok") for a in c.agents[:2])
    print(f"{prefix}: {gets:.0f} store GETs in zone a for {segments} segments, {served:.0f} served by peers")
    return gets, segments, served


def test_a_zone_reads_each_segment_from_the_bucket_about_once(cluster_factory, shared_pg, s3):  # noqa: F811
    gets, segments, served = run_zone(cluster_factory, shared_pg, s3, "shared", ())
    assert gets <= segments, f"{gets} GETs for {segments} segments with peers"
    assert served > 0, "segments were served by the owning agent"


def test_without_peer_listeners_each_agent_reads_alone(cluster_factory, shared_pg, s3):  # noqa: F811
    gets, segments, served = run_zone(cluster_factory, shared_pg, s3, "alone", ("--peer-listen", "off"))
    assert served == 0
    assert gets > segments, f"{gets} GETs for {segments} segments without peers"
