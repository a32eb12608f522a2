"""`weft cluster | topic | offsets | config` end to end: the real binary against a real agent, with results
checked through confluent-kafka (librdkafka); and the errors an operator sees."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType
from confluent_kafka import TopicCollection

from cliutil import failure, run, run_json
from clientutil import (
    Rec,
    admin_client,
    config_source_name,
    create_topic,
    list_topics,
    partition_count,
    produce_confluent,
    unique_topic,
    wait_for,
)

TIMEOUT = 30


def _configs(b, kind, name):
    res = ConfigResource(kind, name)
    a = admin_client(b)  # must outlive its futures
    return a.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def _topic_id(b, topic):
    """The topic id as Kafka prints it (URL-safe base64); librdkafka prints standard base64."""
    a = admin_client(b)  # must outlive its futures
    fs = a.describe_topics(TopicCollection([topic]), request_timeout=TIMEOUT)
    return str(fs[topic].result(timeout=TIMEOUT).topic_id).translate(str.maketrans("+/", "-_")).rstrip("=")


def test_cluster_info_matches_metadata(agent_module, weft_bin):
    b = agent_module.bootstrap
    create_topic(b, unique_topic("cli-cluster"), partitions=3)
    info = run_json(weft_bin, b, "cluster", "info")
    md = admin_client(b).list_topics(timeout=TIMEOUT)
    assert info["cluster_id"] == md.cluster_id and info["cluster_id"]
    assert info["controller_id"] == md.controller_id
    host, port = b.rsplit(":", 1)
    assert info["brokers"] == [{"id": 0, "host": host, "port": int(port), "rack": None}]
    assert info["topics"] == len(md.topics)
    assert info["partitions"] == sum(len(t.partitions) for t in md.topics.values())
    text = run(weft_bin, b, "cluster", "info").stdout.decode()
    assert f"cluster id   {md.cluster_id}" in text and f"partitions   {info['partitions']}" in text


def test_topic_create_with_partitions_and_configs(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-create")
    out = run_json(weft_bin, b, "topic", "create", topic, "-p", "3", "-r", "1",
                   "-c", "retention.ms=3600000", "--config", "max.message.bytes=20000")
    assert (out["topic"], out["partitions"], out["replication_factor"], out["dry_run"]) == (topic, 3, 1, False)
    assert partition_count(b, topic) == 3
    cfg = _configs(b, ResourceType.TOPIC, topic)
    for name, value in {"retention.ms": "3600000", "max.message.bytes": "20000"}.items():
        assert cfg[name].value == value
        assert config_source_name(cfg[name]) == "DYNAMIC_TOPIC_CONFIG"
    assert out["topic_id"] == _topic_id(b, topic)


def test_topic_create_defaults_and_dry_run(agent_module, weft_bin):
    b = agent_module.bootstrap
    dry = unique_topic("cli-dry")
    text = run(weft_bin, b, "topic", "create", dry, "-p", "2", "--dry-run").stdout.decode()
    assert f"would create topic {dry} (2 partitions" in text
    assert dry not in list_topics(b)
    topic = unique_topic("cli-default")
    text = run(weft_bin, b, "topic", "create", topic).stdout.decode()
    assert text.startswith(f"created topic {topic} (1 partitions, replication factor 1)"), text
    assert partition_count(b, topic) == 1


def test_topic_create_refusals_show_the_brokers_reason(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-exists")
    create_topic(b, topic, partitions=2)
    err = failure(run(weft_bin, b, "topic", "create", topic, "-p", "5", ok=False))
    assert f"cannot create topic {topic}" in err and "already exists" in err and "TopicAlreadyExists" in err
    assert partition_count(b, topic) == 2

    bad = unique_topic("cli-badcfg")
    err = failure(run(weft_bin, b, "topic", "create", bad, "-c", "retention.ms=soon", ok=False))
    assert "retention.ms" in err and "soon" in err and "InvalidConfig" in err, err
    err = failure(run(weft_bin, b, "topic", "create", bad, "-c", "no.such.config=1", ok=False))
    assert "no.such.config" in err, err
    err = failure(run(weft_bin, b, "topic", "create", bad, "-p", "0", ok=False))
    assert "InvalidPartitions" in err
    assert bad not in list_topics(b)
    assert "expected key=value" in run(weft_bin, b, "topic", "create", bad, "-c", "x", ok=False).stderr.decode()


def test_topic_list(agent_module, weft_bin):
    b = agent_module.bootstrap
    t1, t2 = unique_topic("cli-list-a"), unique_topic("cli-list-b")
    create_topic(b, t1, partitions=1)
    create_topic(b, t2, partitions=4)
    rows = {r["topic"]: r for r in run_json(weft_bin, b, "topic", "list")}
    assert set(rows) == set(list_topics(b))
    assert (rows[t1]["partitions"], rows[t2]["partitions"]) == (1, 4)
    assert rows[t2]["replication_factor"] == 1 and rows[t2]["internal"] is False
    assert rows[t2]["topic_id"] == _topic_id(b, t2)
    lines = run(weft_bin, b, "topic", "list").stdout.decode().splitlines()
    assert [t2, "4", "1", "no"] in [[c.strip() for c in line.split("|")[1:-1]] for line in lines], lines


def test_topic_describe_partitions_and_configs(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-describe")
    create_topic(b, topic, partitions=3, config={"retention.ms": "86400000"})
    produce_confluent(b, topic, [Rec(0, b"k", b"v")] * 3 + [Rec(2, None, b"w")] * 2, acks="all")
    d = run_json(weft_bin, b, "topic", "describe", topic)
    assert d["topic"] == topic and d["topic_id"] == _topic_id(b, topic) and d["internal"] is False
    got = [(p["partition"], p["leader"], p["replicas"], p["log_start"], p["log_end"], p["records"])
           for p in d["partitions"]]
    assert got == [(0, 0, [0], 0, 3, 3), (1, 0, [0], 0, 0, 0), (2, 0, [0], 0, 2, 2)]
    # stored bytes come from DescribeLogDirs: some for partitions with data, none for the empty one
    stored = [p["stored_bytes"] for p in d["partitions"]]
    assert stored[0] > 61 and stored[2] > 61 and not stored[1], stored
    # only what differs from the default, unless --all
    assert [(c["name"], c["value"], c["source"]) for c in d["configs"]] == [
        ("retention.ms", "86400000", "DYNAMIC_TOPIC_CONFIG")]
    full = {c["name"]: c for c in run_json(weft_bin, b, "topic", "describe", topic, "--all")["configs"]}
    cfg = _configs(b, ResourceType.TOPIC, topic)
    assert set(full) == set(cfg)
    assert (full["cleanup.policy"]["value"], full["cleanup.policy"]["source"]) == ("delete", "DEFAULT_CONFIG")
    text = run(weft_bin, b, "topic", "describe", topic).stdout.decode()
    assert f"topic {topic}  id {d['topic_id']}  partitions 3  records 5" in text
    assert "LOG START" in text and "STORED BYTES" in text and "86400000" in text and "cleanup.policy" not in text


def test_topic_add_partitions(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-grow")
    create_topic(b, topic, partitions=2)
    assert run(weft_bin, b, "topic", "add-partitions", topic, "--total", "5").stdout.decode().strip() == \
        f"topic {topic} now has 5 partitions"
    wait_for(lambda: partition_count(b, topic) == 5, TIMEOUT, desc="5 partitions")
    err = failure(run(weft_bin, b, "topic", "add-partitions", topic, "--total", "3", ok=False))
    assert "InvalidPartitions" in err and "5" in err
    assert partition_count(b, topic) == 5


def test_topic_delete(agent_module, weft_bin):
    b = agent_module.bootstrap
    t1, t2 = unique_topic("cli-del-a"), unique_topic("cli-del-b")
    create_topic(b, t1, partitions=1)
    create_topic(b, t2, partitions=2)
    out = run(weft_bin, b, "topic", "delete", t1, t2).stdout.decode()
    assert out.splitlines() == [f"deleted topic {t1}", f"deleted topic {t2}"]
    wait_for(lambda: t1 not in list_topics(b) and t2 not in list_topics(b), TIMEOUT, desc="topics deleted")
    err = failure(run(weft_bin, b, "topic", "delete", t1, ok=False))
    assert err == f"error: topic {t1} does not exist"


def test_offsets_earliest_latest_and_at_time(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-offsets")
    create_topic(b, topic, partitions=2)
    t0 = int(time.time() * 1000) - 60_000
    recs = [Rec(0, None, b"a", timestamp=t0), Rec(0, None, b"b", timestamp=t0 + 1000),
            Rec(0, None, b"c", timestamp=t0 + 2000), Rec(1, None, b"d", timestamp=t0 + 500)]
    produce_confluent(b, topic, recs, acks="all")
    out = run_json(weft_bin, b, "offsets", topic)
    assert out["partitions"] == [{"partition": 0, "earliest": 0, "latest": 3, "records": 3},
                                 {"partition": 1, "earliest": 0, "latest": 1, "records": 1}]
    at = run_json(weft_bin, b, "offsets", topic, "--at", str(t0 + 1000))
    assert (at["timestamp"], [p["at"] for p in at["partitions"]]) == (t0 + 1000, [1, None])
    rfc = datetime.fromtimestamp((t0 + 400) / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    at = run_json(weft_bin, b, "offsets", topic, "--at", rfc, "-p", "1")
    assert at["partitions"] == [{"partition": 1, "earliest": 0, "latest": 1, "records": 1, "at": 0}]
    text = run(weft_bin, b, "offsets", topic, "--at", str(t0 + 1500)).stdout.decode()
    assert "OFFSET AT" in text and "| 1 (end)" in text
    assert "invalid time" in failure(run(weft_bin, b, "offsets", topic, "--at", "noon", ok=False))
    err = failure(run(weft_bin, b, "offsets", topic, "-p", "9", ok=False))
    assert err == f"error: topic {topic} has no partition 9 (it has 2)"


def test_config_get_matches_describe_configs(agent_module, weft_bin):
    b = agent_module.bootstrap
    rows = run_json(weft_bin, b, "config", "get")
    cfg = _configs(b, ResourceType.BROKER, "0")
    assert {r["name"]: (r["value"], r["source"]) for r in rows} == \
        {n: (e.value, config_source_name(e)) for n, e in cfg.items()}
    one = run_json(weft_bin, b, "config", "get", "log.retention.ms")
    assert one == [{"name": "log.retention.ms", "value": cfg["log.retention.ms"].value,
                    "source": config_source_name(cfg["log.retention.ms"]),
                    "read_only": cfg["log.retention.ms"].is_read_only, "sensitive": False}]
    assert run_json(weft_bin, b, "config", "get", "log.retention.ms", "--broker", "0") == one
    assert run_json(weft_bin, b, "config", "get", "log.retention.ms", "--broker", "")[0]["name"] == "log.retention.ms"
    assert "log.retention.ms" in run(weft_bin, b, "config", "get", "log.retention.ms").stdout.decode()
    assert failure(run(weft_bin, b, "config", "get", "no.such.key", ok=False)) == \
        "error: broker 0 has no config no.such.key"
    assert "broker 7 is not in the cluster" in failure(run(weft_bin, b, "config", "get", "--broker", "7", ok=False))


# --------------------------------------------------------------------------
# changing configs
# --------------------------------------------------------------------------


def test_topic_alter_config_set_and_delete(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-alter")
    create_topic(b, topic, partitions=1, config={"retention.ms": "86400000", "max.message.bytes": "20000"})
    out = run_json(weft_bin, b, "topic", "alter-config", topic, "--set", "retention.ms=7200000",
                   "--set", "cleanup.policy=compact", "--delete", "max.message.bytes")
    assert out == {"topic": topic, "set": {"cleanup.policy": "compact", "retention.ms": "7200000"},
                   "deleted": ["max.message.bytes"]}
    cfg = _configs(b, ResourceType.TOPIC, topic)
    assert (cfg["retention.ms"].value, config_source_name(cfg["retention.ms"])) == ("7200000", "DYNAMIC_TOPIC_CONFIG")
    assert cfg["cleanup.policy"].value == "compact"
    assert config_source_name(cfg["max.message.bytes"]) == "DEFAULT_CONFIG"
    # an invalid value is refused with the broker's reason and changes nothing
    err = failure(run(weft_bin, b, "topic", "alter-config", topic, "--set", "retention.ms=forever", ok=False))
    assert "retention.ms" in err and "InvalidConfig" in err, err
    assert _configs(b, ResourceType.TOPIC, topic)["retention.ms"].value == "7200000"
    err = failure(run(weft_bin, b, "topic", "alter-config", unique_topic("cli-nope"), "--set", "a=b", ok=False))
    assert err.endswith("does not exist")


def test_config_set_cluster_defaults(agent_module, weft_bin):
    b = agent_module.bootstrap
    key = "log.retention.ms"
    run(weft_bin, b, "config", "set", f"{key}=3600000")
    [row] = run_json(weft_bin, b, "config", "get", key)
    assert (row["value"], row["source"]) == ("3600000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
    cfg = _configs(b, ResourceType.BROKER, "0")
    assert (cfg[key].value, config_source_name(cfg[key])) == ("3600000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
    err = failure(run(weft_bin, b, "config", "set", f"{key}=later", ok=False))
    assert key in err and "InvalidConfig" in err, err
    out = run_json(weft_bin, b, "config", "set", "--delete", key)
    assert out == {"set": {}, "deleted": [key]}
    [row] = run_json(weft_bin, b, "config", "get", key)
    assert row["source"] != "DYNAMIC_DEFAULT_BROKER_CONFIG"


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

COMMANDS = [
    ["cluster", "info"], ["topic", "list"], ["topic", "describe", "t"], ["topic", "create", "t"],
    ["topic", "alter-config", "t", "--set", "a=b"], ["topic", "add-partitions", "t", "--total", "2"],
    ["topic", "delete", "t"], ["produce", "t", "--value", "v"], ["consume", "t"], ["offsets", "t"],
    ["config", "get"], ["config", "set", "a=b"], ["group", "list"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=["-".join(a[:2]) for a in COMMANDS])
def test_unreachable_cluster_is_one_clear_error(weft_bin, args):
    started = time.monotonic()
    cp = run(weft_bin, "127.0.0.1:1", *args, "--timeout-secs", "2", ok=False)
    assert "cannot reach the cluster at 127.0.0.1:1" in failure(cp)
    assert time.monotonic() - started < 20


@pytest.fixture
def silent_broker():
    """A listener that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield "127.0.0.1:%d" % srv.getsockname()[1]
    stop.set()
    t.join(timeout=5)
    for c in conns:
        c.close()
    srv.close()


@pytest.mark.parametrize("args", [["topic", "list"], ["consume", "t"]], ids=["wire", "librdkafka"])
def test_a_silent_broker_times_out_within_the_bound(weft_bin, silent_broker, args):
    started = time.monotonic()
    cp = run(weft_bin, silent_broker, *args, "--timeout-secs", "2", ok=False)
    assert f"cannot reach the cluster at {silent_broker}" in failure(cp)
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("args", [
    ["topic", "describe"], ["consume"], ["produce", "--value", "v"], ["offsets"],
    ["topic", "add-partitions", "--total", "3"],
], ids=["describe", "consume", "produce", "offsets", "add-partitions"])
def test_unknown_topic_is_named(agent_module, weft_bin, args):
    b = agent_module.bootstrap
    topic = unique_topic("cli-missing")
    cp = run(weft_bin, b, *args[:2], topic, *args[2:], ok=False) if args[0] == "topic" \
        else run(weft_bin, b, args[0], topic, *args[1:], ok=False)
    assert failure(cp) == f"error: topic {topic} does not exist"
    assert topic not in list_topics(b), "a failed command must not create the topic"
