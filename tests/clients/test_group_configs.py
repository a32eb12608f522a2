"""Group configs (the GROUP config resource, KIP-848 / KIP-932) with real
clients: confluent-kafka's AdminClient describes and incrementally alters a
group's configs, invalid values are refused with INVALID_CONFIG naming the
config, and a KIP-848 consumer is told the group's heartbeat interval."""

from __future__ import annotations

import logging
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ResourceType)

from clientutil import admin_client, config_source_name, create_topic, unique_topic, wait_for
from cliutil import failure, run, run_json

TIMEOUT = 30


def _describe(b, group):
    a = admin_client(b)  # must outlive its futures
    res = ConfigResource(ResourceType.GROUP, group)
    return a.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def _alter(b, group, *entries, validate_only=False):
    a = admin_client(b)
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=list(entries))
    fs = a.incremental_alter_configs([res], request_timeout=TIMEOUT, validate_only=validate_only)
    return fs[res].result(timeout=TIMEOUT)


def _set(name, value):
    return ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)


def _refusal(b, group, *entries) -> KafkaError:
    try:
        _alter(b, group, *entries)
    except KafkaException as exc:
        return exc.args[0]
    raise AssertionError(f"{entries} was accepted")


def test_group_configs_are_described_and_altered(agent):
    b = agent.bootstrap
    group = f"gconf-{uuid.uuid4().hex[:8]}"
    cfg = _describe(b, group)
    assert cfg["consumer.session.timeout.ms"].value == "45000"
    assert config_source_name(cfg["consumer.session.timeout.ms"]) == "DEFAULT_CONFIG"
    for name in ("consumer.heartbeat.interval.ms", "share.record.lock.duration.ms", "share.auto.offset.reset",
                 "share.session.timeout.ms", "share.heartbeat.interval.ms", "share.isolation.level"):
        assert name in cfg, name

    _alter(b, group, _set("share.record.lock.duration.ms", "20000"),
           _set("share.auto.offset.reset", "by_duration:PT1H"))
    cfg = _describe(b, group)
    assert cfg["share.record.lock.duration.ms"].value == "20000"
    assert config_source_name(cfg["share.record.lock.duration.ms"]) == "GROUP_CONFIG"
    assert cfg["share.auto.offset.reset"].value == "by_duration:PT1H"

    # validate_only stores nothing; DELETE goes back to the default.
    _alter(b, group, _set("share.isolation.level", "read_committed"), validate_only=True)
    assert _describe(b, group)["share.isolation.level"].value == "read_uncommitted"
    _alter(b, group, ConfigEntry("share.record.lock.duration.ms", None,
                                 incremental_operation=AlterConfigOpType.DELETE))
    cfg = _describe(b, group)
    assert cfg["share.record.lock.duration.ms"].value == "30000"
    assert config_source_name(cfg["share.record.lock.duration.ms"]) == "DEFAULT_CONFIG"
    assert config_source_name(cfg["share.auto.offset.reset"]) == "GROUP_CONFIG", "the other one kept"


def test_invalid_group_configs_are_refused(agent):
    b = agent.bootstrap
    group = f"gconf-bad-{uuid.uuid4().hex[:8]}"
    cases = [
        (_set("consumer.session.timeout.ms", "1000"), "group.consumer.min.session.timeout.ms"),
        (_set("share.record.lock.duration.ms", "500"), "share.record.lock.duration.ms"),
        (_set("share.auto.offset.reset", "by_duration:-PT1H"), "negative"),
        (_set("share.isolation.level", "serializable"), "share.isolation.level"),
        (_set("no.such.config", "1"), "unknown group config name: no.such.config"),
        (ConfigEntry("share.isolation.level", "read_committed", incremental_operation=AlterConfigOpType.APPEND),
         "share.isolation.level"),
    ]
    for entry, expected in cases:
        err = _refusal(b, group, entry)
        assert err.code() == KafkaError.INVALID_CONFIG, (entry, err)
        assert expected in err.str(), (entry, err.str())
    # A session timeout not above the heartbeat interval, when both are set together.
    err = _refusal(b, group, _set("consumer.session.timeout.ms", "50000"),
                   _set("consumer.heartbeat.interval.ms", "60000"))
    assert err.code() == KafkaError.INVALID_CONFIG
    cfg = _describe(b, group)
    assert all(config_source_name(e) == "DEFAULT_CONFIG" for e in cfg.values()), "nothing stored"


def test_weft_config_group(agent, weft_bin):
    b = agent.bootstrap
    group = f"gconf-cli-{uuid.uuid4().hex[:8]}"
    out = run_json(weft_bin, b, "config", "set", "--group", group, "share.record.lock.duration.ms=25000")
    assert out == {"group": group, "set": {"share.record.lock.duration.ms": "25000"}, "deleted": []}
    [row] = run_json(weft_bin, b, "config", "get", "--group", group, "share.record.lock.duration.ms")
    assert (row["value"], row["source"]) == ("25000", "GROUP_CONFIG")
    rows = run_json(weft_bin, b, "config", "get", "--group", group)
    assert {r["name"]: r["value"] for r in rows} == {n: e.value for n, e in _describe(b, group).items()}
    err = failure(run(weft_bin, b, "config", "set", "--group", group, "share.record.lock.duration.ms=1", ok=False))
    assert "share.record.lock.duration.ms" in err and "InvalidConfig" in err, err
    run(weft_bin, b, "config", "set", "--group", group, "--delete", "share.record.lock.duration.ms")
    [row] = run_json(weft_bin, b, "config", "get", "--group", group, "share.record.lock.duration.ms")
    assert (row["value"], row["source"]) == ("30000", "DEFAULT_CONFIG")


class _Lines(logging.Handler):
    """librdkafka's log lines, each with when it arrived."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((time.monotonic(), record.getMessage()))


def test_a_kip848_consumer_is_told_the_groups_heartbeat_interval(agent_factory):
    # Fast agent defaults (500 ms heartbeats), which also widen the bounds; the group asks for 3 s.
    agent = agent_factory("--group-consumer-heartbeat-interval-ms", "500",
                          "--group-consumer-session-timeout-ms", "6000")
    b = agent.bootstrap
    topic = unique_topic("gconf-hb")
    create_topic(b, topic, partitions=1)
    group = f"gconf-hb-{uuid.uuid4().hex[:8]}"
    _alter(b, group, _set("consumer.heartbeat.interval.ms", "3000"))
    handler = _Lines()
    log = logging.getLogger(f"rdkafka-{group}")
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    c = Consumer({"bootstrap.servers": b, "group.id": group, "group.protocol": "consumer",
                  "debug": "cgrp", "logger": log})
    try:
        c.subscribe([topic])
        wait_for(lambda: (c.poll(0.2), c.assignment())[1], TIMEOUT, desc="an assignment")
        c.poll(1.0)  # the assignment acknowledged
        start = time.monotonic()
        while time.monotonic() - start < 8:
            c.poll(0.2)
        end = time.monotonic()
    finally:
        c.close()
    # Steady-state heartbeats librdkafka sent: about 3 s apart (at the agent's 500 ms it would be ~16).
    sent = [t for t, line in handler.lines
            if start <= t <= end and "ConsumerGroupHeartbeat of member id" in line]
    assert 1 <= len(sent) <= 4, [line for _, line in handler.lines[-30:]]
    gaps = [b2 - a2 for a2, b2 in zip(sent, sent[1:])]
    assert all(g >= 2.0 for g in gaps), gaps
