"""Share groups (KIP-932, "queues for Kafka") with confluent-kafka's
ShareConsumer (librdkafka 2.16): consumers of one share group split the
records of one partition, RELEASE redelivers with a higher delivery count,
REJECT archives, records held by a consumer that closes without acknowledging
go to another, the delivery count limit archives poison records, and what was
acknowledged is not delivered again after an agent restart."""

from __future__ import annotations

import time
import uuid

import pytest

from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from clientutil import admin_client, create_topic, unique_topic

TIMEOUT = 30


def _earliest(bootstrap, group):
    """share.auto.offset.reset=earliest, so records produced before the first member joins are delivered."""
    a = admin_client(bootstrap)
    entry = ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=[entry])
    a.incremental_alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def _setup(bootstrap, n, partitions=1):
    topic = unique_topic("share")
    group = f"sg-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=partitions)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(TIMEOUT) == 0
    _earliest(bootstrap, group)
    return topic, group


def _consumer(bootstrap, group, topic, mode="explicit", **conf):
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                       "share.acknowledgement.mode": mode, "fetch.wait.max.ms": 200, **conf})
    c.subscribe([topic])
    return c


def _poll(c, timeout=1.0):
    return [m for m in c.poll(timeout) if m.error() is None]


def _drain(consumers, want, ack=AcknowledgeType.ACCEPT, deadline_s=TIMEOUT):
    """Polls the consumers in turn, acknowledging every record, until `want` records arrived; returns
    (consumer index, offset, delivery count, value) of each."""
    seen = []
    deadline = time.time() + deadline_s
    while time.time() < deadline and len(seen) < want:
        for i, c in enumerate(consumers):
            for m in _poll(c, 0.5):
                seen.append((i, m.offset(), m.delivery_count(), m.value()))
                c.acknowledge(m, ack)
            c.commit_sync(10.0)
    return seen


def test_two_consumers_split_one_partition(agent):
    n = 200
    topic, group = _setup(agent.bootstrap, n)
    a = _consumer(agent.bootstrap, group, topic, **{"max.poll.records": 20})
    b = _consumer(agent.bootstrap, group, topic, **{"max.poll.records": 20})
    try:
        seen = _drain([a, b], n)
    finally:
        a.close()
        b.close()
    offsets = [o for _, o, _, _ in seen]
    assert sorted(offsets) == list(range(n)), "every record delivered exactly once"
    assert {i for i, _, _, _ in seen} == {0, 1}, "both consumers received records"
    assert all(dc == 1 for _, _, dc, _ in seen)


def test_release_redelivers_and_reject_archives(agent):
    topic, group = _setup(agent.bootstrap, 2)
    c = _consumer(agent.bootstrap, group, topic)
    try:
        first = []
        deadline = time.time() + TIMEOUT
        while time.time() < deadline and len(first) < 2:
            for m in _poll(c):
                first.append((m.offset(), m.delivery_count()))
                c.acknowledge(m, AcknowledgeType.RELEASE if m.offset() == 0 else AcknowledgeType.REJECT)
            c.commit_sync(10.0)
        assert sorted(first) == [(0, 1), (1, 1)]
        again = []
        deadline = time.time() + TIMEOUT
        while time.time() < deadline and not again:
            for m in _poll(c):
                again.append((m.offset(), m.delivery_count()))
                c.acknowledge(m, AcknowledgeType.ACCEPT)
            c.commit_sync(10.0)
        assert again == [(0, 2)], "the released record comes back with count 2; the rejected one never"
        time.sleep(1)
        assert _poll(c) == []
    finally:
        c.close()


def test_records_of_a_consumer_closed_without_acknowledging_go_to_another(agent):
    topic, group = _setup(agent.bootstrap, 5)
    a = _consumer(agent.bootstrap, group, topic, mode="implicit")
    got = []
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and len(got) < 5:
        got.extend(m.offset() for m in _poll(a))
    assert sorted(got) == list(range(5))
    a.close()  # no commit: the records it holds are released by the agent
    b = _consumer(agent.bootstrap, group, topic)
    try:
        seen = _drain([b], 5)
    finally:
        b.close()
    assert sorted((o, dc) for _, o, dc, _ in seen) == [(o, 2) for o in range(5)]


def test_delivery_count_limit_archives_a_poison_record(agent):
    topic, group = _setup(agent.bootstrap, 1)
    c = _consumer(agent.bootstrap, group, topic)
    counts = []
    try:
        deadline = time.time() + TIMEOUT
        while time.time() < deadline and len(counts) < 5:
            for m in _poll(c):
                counts.append(m.delivery_count())
                c.acknowledge(m, AcknowledgeType.RELEASE)
            c.commit_sync(10.0)
        time.sleep(1)
        extra = _poll(c)
    finally:
        c.close()
    assert counts == [1, 2, 3, 4, 5]
    assert extra == [], "archived after group.share.delivery.count.limit (5) deliveries"


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_acknowledged_records_survive_a_restart(agent, how):
    n = 30
    topic, group = _setup(agent.bootstrap, n)
    c = _consumer(agent.bootstrap, group, topic, **{"max.poll.records": 10})
    first = []
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and len(first) < 10:
        for m in _poll(c):
            first.append(m.offset())
            c.acknowledge(m, AcknowledgeType.ACCEPT)
        c.commit_sync(10.0)
    held = [m.offset() for m in _poll(c)]  # acquired, never acknowledged
    if how == "kill9":
        agent.kill9()
        agent.start()
    else:
        agent.restart()
    c.close()
    c = _consumer(agent.bootstrap, group, topic)
    try:
        rest = _drain([c], n - len(first))
        time.sleep(1)
        assert _poll(c) == []
    finally:
        c.close()
    later = [o for _, o, _, _ in rest]
    assert not set(first) & set(later), "acknowledged records are not delivered again"
    assert sorted(first + later) == list(range(n)), "none lost"
    assert all(dc == 2 for _, o, dc, _ in rest if o in held), "held records come back, counted"
