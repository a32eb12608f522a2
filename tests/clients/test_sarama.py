"""Sarama 1.22 (Debian's golang-github-shopify-sarama-dev) pinned to ``Version = V2_1_0_0``: the kind of
application Kafka 4 left behind (KIP-896). It sends OffsetCommit v1, DescribeConfigs v0, AlterConfigs v0,
JoinGroup v1, Produce v3 and Fetch v4. The Go driver is tests/sarama/main.go, built once per source change
into ~/.cache/weft-sarama (``scripts/setup-test-deps.sh`` installs Go and Sarama)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource

from clientutil import admin_client, consume_confluent, create_topic, now_ms, unique_topic, watermarks

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "tests" / "sarama"
GOPATH = "/usr/share/gocode"
SARAMA = Path(GOPATH) / "src/github.com/Shopify/sarama"
CACHE = Path(os.environ.get("WEFT_SARAMA_CACHE", os.path.expanduser("~/.cache/weft-sarama")))


@pytest.fixture(scope="session")
def sarama_bin() -> str:
    """Builds the driver (GOPATH mode, Debian's Sarama) unless a build of the same source is cached."""
    if shutil.which("go") is None or not SARAMA.is_dir():
        pytest.fail("Go or Sarama missing: run scripts/setup-test-deps.sh (golang-go, golang-github-shopify-sarama-dev)")
    digest = hashlib.sha256()
    for f in sorted(SOURCE.glob("*.go")):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    out = CACHE / f"sarama-client-{digest.hexdigest()[:16]}"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off", GOFLAGS="")
        env.setdefault("GOCACHE", str(CACHE / "go-build"))
        build = subprocess.run(["go", "build", "-o", str(tmp), "."], cwd=SOURCE, env=env,
                               capture_output=True, text=True, timeout=600)
        if build.returncode != 0:
            pytest.fail(f"building the sarama driver failed:\n{build.stdout}\n{build.stderr}")
        tmp.replace(out)
    return str(out)


def run(sarama_bin, bootstrap, *args, timeout=90, check=True):
    """Runs one driver subcommand; returns its JSON lines (or the process, with check=False)."""
    proc = subprocess.run([sarama_bin, bootstrap, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if not check:
        return proc
    assert proc.returncode == 0, f"sarama {args[0]} failed (rc={proc.returncode}): {proc.stderr.strip()}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
def test_roundtrip_in_every_codec_seen_by_sarama_and_librdkafka(agent, sarama_bin, codec):
    b, t = agent.bootstrap, unique_topic(f"sarama-{codec}")
    create_topic(b, t)
    acks = run(sarama_bin, b, "produce", "-topic", t, "-codec", codec, "-n", 20)
    assert sorted(a["offset"] for a in acks) == list(range(20))
    got = run(sarama_bin, b, "consume", "-topic", t, "-n", 20)
    assert [(r["offset"], r["key"], r["value"], r["headers"]) for r in got] == [
        (i, f"k{i}", f"value-{i}", {"idx": str(i)}) for i in range(20)]
    assert all(abs(r["timestamp_ms"] - now_ms()) < 120_000 for r in got), got[0]
    seen = consume_confluent(b, t, [0], min_count=20)
    assert [(r.offset, r.key, r.value, r.headers) for r in seen] == [
        (i, b"k%d" % i, b"value-%d" % i, [("idx", b"%d" % i)]) for i in range(20)]


def test_zstd_on_produce_v3_is_refused_as_kafka_refuses_it(agent, sarama_bin):
    # Sarama 1.22 sends zstd batches in Produce v3; Kafka (KIP-110) answers UNSUPPORTED_COMPRESSION_TYPE
    # below v7, and so does Weft. Nothing is stored.
    b, t = agent.bootstrap, unique_topic("sarama-zstd")
    create_topic(b, t)
    proc = run(sarama_bin, b, "produce", "-topic", t, "-codec", "zstd", "-n", 5, check=False)
    assert proc.returncode != 0
    assert "does not support the compression type" in proc.stderr, proc.stderr
    assert watermarks(b, t, 0) == (0, 0)


def test_fetch_below_v10_of_a_zstd_topic_is_refused_as_kafka_refuses_it(agent, sarama_bin):
    # Kafka answers Fetch < v10 for a topic whose compression.type is zstd with UNSUPPORTED_COMPRESSION_TYPE
    # (KIP-110); Sarama 1.22 fetches with v4. librdkafka (Fetch v10+) reads the topic.
    b, t = agent.bootstrap, unique_topic("sarama-zstd-topic")
    create_topic(b, t, config={"compression.type": "zstd"})
    run(sarama_bin, b, "produce", "-topic", t, "-codec", "none", "-n", 3)
    proc = run(sarama_bin, b, "consume", "-topic", t, "-n", 3, "-timeout", "10s", check=False)
    assert proc.returncode != 0
    assert "does not support the compression type" in proc.stderr, proc.stderr
    assert len(consume_confluent(b, t, [0], min_count=3)) == 3


def committed(bootstrap, group, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=15)[0].offset
    finally:
        c.close()


def test_consumer_group_commits_with_offset_commit_v1_and_resumes(agent_factory, sarama_bin):
    agent = agent_factory("--group-initial-rebalance-delay-ms", "0")
    b, t, g = agent.bootstrap, unique_topic("sarama-group"), unique_topic("sarama-g")
    create_topic(b, t)
    run(sarama_bin, b, "produce", "-topic", t, "-n", 10)

    first = run(sarama_bin, b, "group", "-topic", t, "-group", g, "-n", 6)
    assert [r["offset"] for r in first] == list(range(6))
    assert committed(b, g, t) == 6, "librdkafka sees the commit Sarama made with OffsetCommit v1"
    assert run(sarama_bin, b, "group-offsets", "-topic", t, "-groups", g) == [{"offset": 6, "error": 0}]

    second = run(sarama_bin, b, "group", "-topic", t, "-group", g, "-n", 4)
    assert [r["offset"] for r in second] == [6, 7, 8, 9], "a restarted member resumes from the commit"
    assert committed(b, g, t) == 10

    assert run(sarama_bin, b, "list-groups")[0].get(g) == "consumer"
    (described,) = run(sarama_bin, b, "describe-groups", "-groups", g)
    assert described[0]["group"] == g and described[0]["error"] == 0
    assert described[0]["state"] == "Empty" and described[0]["members"] == []


def test_cluster_admin_create_list_describe_alter_delete(agent, sarama_bin):
    b, t = agent.bootstrap, unique_topic("sarama-admin")
    # A Kafka 3.x-era config (removed in Kafka 4) is accepted and ignored, as Kafka 3.x did.
    configs = "retention.ms=3600000,message.format.version=2.1,cleanup.policy=delete"
    run(sarama_bin, b, "create-topic", "-topic", t, "-partitions", 3, "-configs", configs)

    (topics,) = run(sarama_bin, b, "list-topics")  # Metadata v5 + DescribeConfigs v0
    assert topics[t]["partitions"] == 3
    assert topics[t]["configs"]["retention.ms"] == "3600000"

    (described,) = run(sarama_bin, b, "describe-config", "-topic", t)  # DescribeConfigs v0
    assert described["retention.ms"] == {"value": "3600000", "default": False, "read_only": False}
    assert described["segment.bytes"]["default"] is True
    assert "message.format.version" not in described

    run(sarama_bin, b, "alter-config", "-topic", t, "-configs", "retention.ms=7200000")  # AlterConfigs v0
    (described,) = run(sarama_bin, b, "describe-config", "-topic", t)
    assert described["retention.ms"]["value"] == "7200000"
    assert described["cleanup.policy"]["default"] is True, "AlterConfigs replaces the whole set, as in Kafka"
    res = ConfigResource(ConfigResource.Type.TOPIC, t)
    admin = admin_client(b)
    seen = admin.describe_configs([res])[res].result(timeout=15)
    assert seen["retention.ms"].value == "7200000"

    run(sarama_bin, b, "delete-topic", "-topic", t)  # DeleteTopics v1
    (topics,) = run(sarama_bin, b, "list-topics")
    assert t not in topics


def test_sarama_records_survive_retention_passes(agent_factory, sarama_bin):
    # Sarama's batches carry the records' times; retention (7 days by default) must keep records produced
    # now, however often it runs. Maintenance every 500 ms: wait for several passes, then read from 0.
    agent = agent_factory("--maintenance-interval-ms", "500")
    b, t = agent.bootstrap, unique_topic("sarama-retained")
    create_topic(b, t)
    before = now_ms()
    run(sarama_bin, b, "produce", "-topic", t, "-codec", "lz4", "-n", 30)
    time.sleep(4)  # ~8 maintenance passes
    assert watermarks(b, t, 0) == (0, 30), "log start moved: records produced now were deleted"
    got = run(sarama_bin, b, "consume", "-topic", t, "-n", 30, "-timeout", "20s")
    assert [r["offset"] for r in got] == list(range(30))
    assert len(consume_confluent(b, t, [0], min_count=30)) == 30
    c = Consumer({"bootstrap.servers": b, "group.id": "unused"})
    try:
        (found,) = c.offsets_for_times([TopicPartition(t, 0, before - 1000)], timeout=15)
    finally:
        c.close()
    assert found.offset == 0, f"offsets_for_times({before - 1000}) -> {found.offset}"
