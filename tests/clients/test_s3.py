"""An agent on a real S3-compatible server (s3s-fs over a directory, installed by setup-test-deps.sh):
produce with librdkafka, read back, kill -9 and restart, read again; the segments are S3 objects under
the URL's prefix, and credentials given in the URL's query never reach the log."""

from __future__ import annotations

import pytest

from clientutil import Rec, consume_confluent, create_topic, produce_confluent, unique_topic, wait_for
from servers import S3_ACCESS_KEY as ACCESS_KEY
from servers import S3_SECRET_KEY as SECRET_KEY
from servers import S3Server

PARTITIONS = 3


@pytest.fixture
def s3_server(tmp_path):
    """s3s-fs on 127.0.0.1 with one bucket `weft`; yields (endpoint, bucket directory); stopped after the test."""
    server = S3Server(tmp_path).start()
    try:
        yield server.endpoint, server.bucket_dir
    finally:
        server.stop()


def _records(n, tag):
    return [Rec(i % PARTITIONS, f"{tag}-k{i}".encode(), f"{tag}-v{i}".encode() * 50) for i in range(n)]


def _check(b, topic, recs, results):
    want = {(p, o): (r.key, r.value) for r, (_e, p, o) in zip(recs, results)}
    got = consume_confluent(b, topic, range(PARTITIONS), min_count=len(recs))
    assert {(r.partition, r.offset): (r.key, r.value) for r in got} == want


def test_agent_on_s3_keeps_acked_records_across_kill9(agent_factory, s3_server):
    endpoint, bucket_dir = s3_server
    url = (f"s3://weft/cluster-a?endpoint={endpoint}&region=us-east-1"
           f"&access_key_id={ACCESS_KEY}&secret_access_key={SECRET_KEY}")
    agent = agent_factory("--object-store", url)
    b = agent.bootstrap
    topic = unique_topic("s3")
    create_topic(b, topic, partitions=PARTITIONS)
    recs = _records(600, "a")
    results = produce_confluent(b, topic, recs, acks="all", **{"compression.type": "lz4"})
    assert all(e is None for e, _p, _o in results), [e for e, _p, _o in results if e]
    _check(b, topic, recs, results)

    # The segments are objects in the bucket, under the prefix.
    objects = [p for p in (bucket_dir / "cluster-a").rglob("*") if p.is_file()]
    assert objects, "no object written under s3://weft/cluster-a"

    agent.kill9()
    agent.start()
    b = agent.bootstrap
    _check(b, topic, recs, results)
    more = produce_confluent(b, topic, [Rec(0, b"after", b"restart")], acks="all")
    assert more[0][0] is None and more[0][2] == len([r for r in recs if r.partition == 0])
    assert SECRET_KEY not in agent.log_text(), "credentials from the url's query were logged"


def test_credentials_from_aws_variables_and_a_wrong_secret_is_not_ready(agent_factory, s3_server):
    endpoint, _bucket_dir = s3_server
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"}
    agent = agent_factory("--object-store", "s3://weft/from-env", env=env)
    topic = unique_topic("s3env")
    create_topic(agent.bootstrap, topic, partitions=1)
    results = produce_confluent(agent.bootstrap, topic, [Rec(0, b"k", b"v")], acks="all")
    assert results[0][0] is None

    bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong")
    refused = agent_factory("--object-store", "s3://weft/bad", env=bad)
    # Writes fail (signature refused): readiness says so instead of acking anything.
    wait_for(lambda: _readyz(refused) == 503, timeout=30, desc="readiness to fail")
    assert "object store writes fail" in _readyz_body(refused)


def _readyz_body(agent) -> str:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{agent.admin}/readyz", timeout=5) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()


def _readyz(agent) -> int:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{agent.admin}/readyz", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _metric(agent, name: str, label: str) -> float:
    import urllib.request
    with urllib.request.urlopen(f"http://{agent.admin}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{") and label in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_object_compaction_and_garbage_collection_on_s3(agent_factory, s3_server):
    """Merges read ranges back from S3, write per-partition objects, and the collector deletes the merged
    flush segments in bulk; the records stay readable throughout."""
    endpoint, bucket_dir = s3_server
    url = (f"s3://weft/gc?endpoint={endpoint}&region=us-east-1"
           f"&access_key_id={ACCESS_KEY}&secret_access_key={SECRET_KEY}")
    agent = agent_factory("--object-store", url, "--maintenance-interval-ms", "200", "--gc-grace-ms", "0",
                          "--merge-min-age-ms", "0")
    b = agent.bootstrap
    topic = unique_topic("s3gc")
    create_topic(b, topic, partitions=PARTITIONS)
    recs, results = [], []
    for round_ in range(5):  # several flushes, so there is something to merge
        batch = _records(60, f"r{round_}")
        results += produce_confluent(b, topic, batch, acks="all")
        recs += batch
    wait_for(lambda: _metric(agent, "weft_gc_objects_deleted_total", 'kind="dead"') > 0, timeout=60,
             desc="merged flush segments to be collected")
    _check(b, topic, recs, results)
    assert "maintenance job failed" not in agent.log_text(), agent.log_tail()
    assert any((bucket_dir / "gc").rglob("*")), "objects live under the prefix"
