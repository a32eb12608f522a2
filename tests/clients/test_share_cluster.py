"""Share groups on a cluster: three agents on one PostgreSQL metastore and one S3 bucket (s3s-fs), with
confluent-kafka's ShareConsumer (librdkafka 2.16). Share partitions are led by different agents and the
group is coordinated by one of them; consumers bootstrapped through different agents split the records.
An agent killed with SIGKILL mid-consumption (the leader of a share partition, or the group's coordinator)
hands its share partitions or its coordinator shard to the survivors: every record is accepted in the end, and no record whose acknowledgement was confirmed is
delivered again. Every server is real and started here on 127.0.0.1."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from clientutil import admin_client, create_topic, unique_topic
from cluster import Cluster
from rawkafka import RawConn, find_coordinator
from servers import PostgresServer, S3Server

PARTITIONS = 6
RECORDS = 1200
TIMEOUT = 30


@pytest.fixture
def cluster(weft_bin, tmp_path, request):
    pg = PostgresServer(tmp_path / "pg").start()
    s3 = S3Server(tmp_path / "s3").start()
    c = Cluster(weft_bin, tmp_path / "cluster", pg.database(), s3.url("share"), 3,
                extra_args=("--schema-registry-listen", "off"))
    request.node._weft_agents = c.agents
    try:
        c.start().wait_formed()
        yield c
    finally:
        c.stop()
        s3.stop()
        pg.stop()


class Tally:
    """What the consumers saw: every delivery, and the acceptances the agents confirmed (commit_sync answered
    the partition without error)."""

    def __init__(self):
        self.deliveries: list = []
        self.confirmed: dict = {}  # (partition, offset) -> value
        self.redelivered_confirmed: list = []

    def poll(self, c: ShareConsumer):
        pending = []
        for m in c.poll(0.5):
            if m.error() is not None:
                continue
            key = (m.partition(), m.offset())
            if key in self.confirmed:
                self.redelivered_confirmed.append(key)
            self.deliveries.append(key)
            pending.append((key, m.value()))
            c.acknowledge(m, AcknowledgeType.ACCEPT)
        if not pending:
            return
        try:
            results = c.commit_sync(10.0)
        except Exception:  # noqa: BLE001 - an unconfirmed acknowledgement may be redelivered; that is allowed
            return
        ok = {tp.partition for tp, err in results.items() if err is None}
        for key, value in pending:
            if key[0] in ok:
                self.confirmed[key] = value


def _consumer(bootstrap: str, group: str, topic: str) -> ShareConsumer:
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "share.acknowledgement.mode": "explicit",
                       "fetch.wait.max.ms": 200, "max.poll.records": 50, "socket.timeout.ms": 10000})
    c.subscribe([topic])
    return c


def _share_earliest(bootstrap: str, group: str):
    a = admin_client(bootstrap)
    entry = ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=[entry])
    a.incremental_alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def _leaders(bootstrap: str, topic: str) -> dict:
    md = admin_client(bootstrap).list_topics(topic, timeout=15)
    return {p.id: p.leader for p in md.topics[topic].partitions.values()}


def _coordinator(cluster: Cluster, group: str) -> int:
    with RawConn(cluster.agents[0].bootstrap) as conn:
        coord = find_coordinator(conn, group)
    assert coord["error_code"] == 0, coord
    return coord["node_id"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("who", ["partition-leader", "coordinator"])
def test_share_group_spans_agents_and_survives_an_agent_kill9(cluster, who):
    topic = unique_topic("share-cluster")
    group = f"sg-{uuid.uuid4().hex[:8]}"
    create_topic(cluster.bootstrap(), topic, partitions=PARTITIONS)
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "enable.idempotence": True})
    for i in range(RECORDS):
        p.produce(topic, value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(TIMEOUT) == 0
    _share_earliest(cluster.bootstrap(), group)
    leaders = _leaders(cluster.bootstrap(), topic)
    assert len(set(leaders.values())) > 1, f"share partitions led by several agents: {leaders}"

    tally = Tally()
    consumers = [_consumer(a.bootstrap, group, topic) for a in cluster.agents]
    try:
        deadline = time.time() + 60
        while len(tally.confirmed) < RECORDS // 3 and time.time() < deadline:
            for c in consumers:
                tally.poll(c)
        assert len(tally.confirmed) >= RECORDS // 3, f"only {len(tally.confirmed)} accepted before the kill"

        victim = leaders[0] - 1 if who == "partition-leader" else _coordinator(cluster, group) - 1
        held = []  # acquired through every leader and never acknowledged: they must come back
        while not held and time.time() < deadline:
            held = [(m.partition(), m.offset()) for m in consumers[victim].poll(0.5) if m.error() is None]
        cluster.kill9(victim)
        consumers[victim].close()
        consumers = [c for i, c in enumerate(consumers) if i != victim]
        deadline = time.time() + 150
        while len(tally.confirmed) < RECORDS and time.time() < deadline:
            for c in consumers:
                tally.poll(c)
    finally:
        for c in consumers:
            c.close()

    print(f"deliveries={len(tally.deliveries)} confirmed={len(tally.confirmed)} held={len(held)} {leaders}")
    missing = sorted({(i % PARTITIONS, i // PARTITIONS) for i in range(RECORDS)} - set(tally.confirmed))
    assert not missing, f"{len(missing)} records never accepted (first {missing[:10]}):\n{cluster.log_tails()}"
    assert tally.redelivered_confirmed == [], "a record whose acceptance was confirmed came back"
    values = {tally.confirmed[(i % PARTITIONS, i // PARTITIONS)] for i in range(RECORDS)}
    assert values == {f"v{i}".encode() for i in range(RECORDS)}
