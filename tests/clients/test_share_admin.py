"""Administering share groups (KIP-932) with the `weft group` CLI: a confluent-kafka ShareConsumer
acknowledges part of a partition, `weft group list` shows the share group, `weft group describe` its
members, start offset, log end and lag; `reset-offsets` moves the start offset (refused while a member is
present) and a new consumer receives from there; `delete-offsets` drops the state, so the group starts over
at share.auto.offset.reset."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from clientutil import admin_client, create_topic, unique_topic
from cliutil import run, run_json

TIMEOUT = 30
N = 10


def _earliest(bootstrap, group):
    a = admin_client(bootstrap)
    entry = ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=[entry])
    a.incremental_alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def _consumer(bootstrap, group, topic):
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "share.acknowledgement.mode": "explicit",
                       "fetch.wait.max.ms": 200, "max.poll.records": 4})
    c.subscribe([topic])
    return c


def _take(c, want, ack=AcknowledgeType.ACCEPT):
    """Polls until `want` records arrived, acknowledging each with `ack`; returns their offsets."""
    got = []
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and len(got) < want:
        for m in c.poll(0.5):
            if m.error() is None and len(got) < want:
                got.append(m.offset())
                c.acknowledge(m, ack)
            elif m.error() is None:
                c.acknowledge(m, AcknowledgeType.RELEASE)
        c.commit_sync(10.0)
    return got


def _partition(desc):
    return {p["partition"]: p for p in desc["partitions"]}[0]


def test_weft_group_shows_resets_and_deletes_share_offsets(agent, weft_bin):
    b = agent.bootstrap
    topic = unique_topic("share-admin")
    group = f"sa-{uuid.uuid4().hex[:8]}"
    create_topic(b, topic, partitions=1)
    p = Producer({"bootstrap.servers": b})
    for i in range(N):
        p.produce(topic, value=f"v{i}".encode(), partition=0)
    assert p.flush(TIMEOUT) == 0
    _earliest(b, group)

    c = _consumer(b, group, topic)
    try:
        assert sorted(_take(c, 4)) == [0, 1, 2, 3]
        # While the consumer is a member: listed as a share group, described with it, not resettable.
        listed = run_json(weft_bin, b, "group", "list")
        row = next(r for r in listed if r["group"] == group)
        assert row["protocol_type"] == "share", row
        desc = run_json(weft_bin, b, "group", "describe", group)
        assert desc["type"] == "share" and len(desc["members"]) == 1, desc
        assert topic in desc["members"][0]["assignment"]
        part = _partition(desc)
        assert (part["start_offset"], part["log_end"], part["lag"]) == (4, N, N - 4), part
        cp = run(weft_bin, b, "group", "reset-offsets", group, "--topic", topic, "--to-offset", "7", ok=False)
        assert b"active members" in cp.stderr, cp.stderr
    finally:
        c.close()

    # Empty: reset to 7 (shown by describe), and a new consumer starts there.
    deadline = time.time() + TIMEOUT
    while run_json(weft_bin, b, "group", "describe", group)["members"] and time.time() < deadline:
        time.sleep(0.2)
    out = run_json(weft_bin, b, "group", "reset-offsets", group, "--topic", topic, "--to-offset", "7")
    assert out["share"] and [o["new_offset"] for o in out["offsets"]] == [7], out
    part = _partition(run_json(weft_bin, b, "group", "describe", group))
    assert (part["start_offset"], part["lag"]) == (7, N - 7), part
    c = _consumer(b, group, topic)
    try:
        assert sorted(_take(c, N - 7)) == [7, 8, 9]
    finally:
        c.close()

    # Deleting the offsets: the group starts over at share.auto.offset.reset (earliest), from 0.
    deadline = time.time() + TIMEOUT
    while run_json(weft_bin, b, "group", "describe", group)["members"] and time.time() < deadline:
        time.sleep(0.2)
    out = run_json(weft_bin, b, "group", "delete-offsets", group, "--topic", topic)
    assert out == {"group": group, "deleted_topics": [topic]}, out
    assert run_json(weft_bin, b, "group", "describe", group)["partitions"] == []
    c = _consumer(b, group, topic)
    try:
        assert sorted(_take(c, 2)) == [0, 1]
    finally:
        c.close()

    # --to-earliest through the human-readable output; deleting offsets of a topic without state fails.
    deadline = time.time() + TIMEOUT
    while run_json(weft_bin, b, "group", "describe", group)["members"] and time.time() < deadline:
        time.sleep(0.2)
    assert b"start offsets reset" in run(weft_bin, b, "group", "reset-offsets", group, "--topic", topic,
                                       "--to-earliest").stdout
    text = run(weft_bin, b, "group", "describe", group).stdout.decode()
    assert f"share group {group}" in text and "START OFFSET" in text
    other = unique_topic("share-admin-none")
    create_topic(b, other, partitions=1)
    cp = run(weft_bin, b, "group", "delete-offsets", group, "--topic", other, ok=False)
    assert b"UNKNOWN_TOPIC_OR_PARTITION" in cp.stderr or b"no offsets" in cp.stderr, cp.stderr
