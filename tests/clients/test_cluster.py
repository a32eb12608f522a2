"""Three agents on one PostgreSQL metastore and one S3 bucket (s3s-fs), driven by librdkafka: they form one
cluster, spread partition leadership, keep clients in their zone, and survive an agent kill -9, a PostgreSQL
restart, an object-store outage and a network partition from PostgreSQL without losing or duplicating an
acknowledged record. Every server is real and started here on 127.0.0.1."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import KafkaError

from clientutil import admin_client, consumer, create_topic, produce_confluent, unique_topic, wait_for, Rec
from cluster import Cluster, LoadProducer, check_log, read_all
from servers import PostgresServer, S3Server, TcpProxy

PARTITIONS = 6


@pytest.fixture(scope="module")
def shared_pg(tmp_path_factory):
    server = PostgresServer(tmp_path_factory.mktemp("pg")).start()
    yield server
    server.stop()


@pytest.fixture
def own_pg(tmp_path):
    """A server of this test's own, so the test may restart it."""
    import os
    saved = os.environ.pop("WEFT_TEST_POSTGRES_URL", None)
    try:
        server = PostgresServer(tmp_path / "own-pg").start()
    finally:
        if saved is not None:
            os.environ["WEFT_TEST_POSTGRES_URL"] = saved
    yield server
    server.stop()


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "s3").start()
    yield server
    server.stop()


@pytest.fixture
def cluster_factory(weft_bin, tmp_path, request):
    made = []
    request.node._weft_agents = []

    def make(metastore_url, object_store_url, n=3, **kw):
        c = Cluster(weft_bin, tmp_path / f"cluster-{len(made)}", metastore_url, object_store_url, n, **kw)
        made.append(c)
        request.node._weft_agents.extend(c.agents)
        c.start().wait_formed()
        return c

    yield make
    for c in made:
        c.stop()


def _ready(agent) -> int:
    try:
        with urllib.request.urlopen(f"http://{agent.admin}/readyz", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def _brokers(bootstrap: str, client_id: str = "rdkafka") -> dict:
    md = admin_client(bootstrap, **{"client.id": client_id}).list_topics(timeout=15)
    return {b.id: f"{b.host}:{b.port}" for b in md.brokers.values()}


def _leaders(bootstrap: str, topic: str, client_id: str = "rdkafka") -> dict:
    md = admin_client(bootstrap, **{"client.id": client_id}).list_topics(topic, timeout=15)
    return {p.id: p.leader for p in md.topics[topic].partitions.values()}


def test_three_agents_form_one_cluster_and_spread_leadership(cluster_factory, shared_pg, s3):
    c = cluster_factory(shared_pg.database(), s3.url("one-cluster"))
    for a in c.agents:
        # Each agent re-reads the registry every heartbeat interval.
        wait_for(lambda a=a: sorted(_brokers(a.bootstrap)) == [1, 2, 3], timeout=15,
                 desc=f"{a} to list the three live agents")
    topic = unique_topic("spread")
    create_topic(c.bootstrap(), topic, partitions=12)
    leaders = wait_for(lambda: (lambda ls: ls if len(ls) == 12 else None)(_leaders(c.bootstrap(), topic)),
                       desc="leaders of every partition")
    assert set(leaders.values()) == {1, 2, 3}, f"12 partitions' leaders spread over the agents: {leaders}"
    for a in c.agents:
        assert _leaders(a.bootstrap, topic) == leaders, "every agent names the same leaders"


def test_clients_stay_in_their_zone_and_see_commits_made_in_another(cluster_factory, shared_pg, s3):
    zones = [("--zone", "az-a"), ("--zone", "az-b"), ("--zone", "az-c")]
    c = cluster_factory(shared_pg.database(), s3.url("zones"), per_agent_args=zones)
    topic = unique_topic("zones")
    create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
    assert list(_brokers(c.bootstrap(), "app-1,weft_az=az-a")) == [1]
    assert set(_leaders(c.bootstrap(), topic, "weft_az=az-c;app")) == set(range(PARTITIONS))
    assert set(_leaders(c.bootstrap(), topic, "weft_az=az-c;app").values()) == {3}
    assert sorted(_brokers(c.bootstrap(), "weft_az=nowhere")) == [1, 2, 3], "an unknown zone gets every agent"

    # A consumer in zone c long-polls agent 3 while a producer in zone a writes through agent 1: the
    # records arrive by agent 1's commits reaching agent 3, not by the consumer re-connecting.
    cons = consumer(c.bootstrap([2]), **{"client.id": "weft_az=az-c", "fetch.wait.max.ms": 5000,
                                         "enable.partition.eof": False})
    from confluent_kafka import TopicPartition
    cons.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    got = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            m = cons.poll(0.2)
            if m is not None and m.error() is None:
                got.append((m.partition(), m.offset(), time.monotonic()))

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(2)
    recs = [Rec(i % PARTITIONS, f"k{i}".encode(), b"v" * 100) for i in range(60)]
    sent_at = time.monotonic()
    results = produce_confluent(c.bootstrap([0]), topic, recs, **{"client.id": "weft_az=az-a"})
    assert all(err is None for err, _p, _o in results)
    wait_for(lambda: len(got) >= 60, timeout=30, desc="records produced through agent 1 read from agent 3")
    stop.set()
    t.join(5)
    cons.close()
    lag = max(at for _p, _o, at in got) - sent_at
    print(f"cross-agent: 60 records visible on agent 3 within {lag * 1000:.0f} ms of the first send")


def test_agent_kill9_under_load_loses_and_duplicates_nothing(cluster_factory, shared_pg, s3):
    c = cluster_factory(shared_pg.database(), s3.url("kill9"))
    topic = unique_topic("kill9")
    create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
    load = LoadProducer(c.bootstrap(), topic, PARTITIONS).start()
    wait_for(lambda: load.acked_count() > 500, timeout=60, desc="load under way")
    c.kill9(0)
    before = load.acked_count()
    wait_for(lambda: load.acked_count() > before + 1000, timeout=90,
             desc="produce continuing on the surviving agents")
    assert load.stop() == 0, "every record was eventually delivered"
    assert load.fatal is None, load.fatal
    stored = read_all(c.bootstrap(), topic, PARTITIONS, min_count=len(load.acked))
    summary = check_log(load.acked, stored)
    print(f"kill -9 under load: {summary}, failed deliveries {len(load.failed)}")


def test_group_resumes_from_committed_offsets_after_its_coordinator_dies(cluster_factory, shared_pg, s3):
    c = cluster_factory(shared_pg.database(), s3.url("group-failover"))
    topic = unique_topic("gfail")
    create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
    recs = [Rec(i % PARTITIONS, f"g-{i}".encode(), b"x" * 50) for i in range(600)]
    produce_confluent(c.bootstrap(), topic, recs)
    group = unique_topic("grp")
    seen: list = []

    def consume_some(boot, want, timeout=60):
        cons = consumer(boot, **{"group.id": group, "enable.auto.commit": True, "auto.commit.interval.ms": 200,
                                 "enable.auto.offset.store": True, "enable.partition.eof": False,
                                 "session.timeout.ms": 6000})
        cons.subscribe([topic])
        deadline = time.monotonic() + timeout
        n = 0
        while n < want and time.monotonic() < deadline:
            m = cons.poll(0.5)
            if m is not None and m.error() is None:
                seen.append(m.key())
                n += 1
        cons.close()  # commits the stored offsets
        return n

    assert consume_some(c.bootstrap(), 300) == 300
    coord = _coordinator(c.bootstrap(), group)
    c.kill9(coord - 1)
    survivors = [i for i in range(3) if i != coord - 1]
    rest = consume_some(c.bootstrap(survivors), 300, timeout=90)
    assert rest == 300, f"the group read {rest} of the remaining 300 after its coordinator died"
    assert {r.key for r in recs} <= set(seen), "no record skipped across the coordinator move"
    redelivered = len(seen) - len(set(seen))
    assert redelivered == 0, f"{redelivered} records delivered twice after a clean close committed them"


def _coordinator(bootstrap: str, group: str) -> int:
    admin = admin_client(bootstrap)
    desc = admin.describe_consumer_groups([group])[group].result(timeout=15)
    return desc.coordinator.id


def test_postgres_restart_mid_load_recovers_without_agent_restart(cluster_factory, own_pg, s3):
    c = cluster_factory(own_pg.database(), s3.url("pg-restart"))
    topic = unique_topic("pgr")
    create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
    load = LoadProducer(c.bootstrap(), topic, PARTITIONS).start()
    wait_for(lambda: load.acked_count() > 300, timeout=60, desc="load under way")
    own_pg.restart(down_for=3)
    before = load.acked_count()
    wait_for(lambda: load.acked_count() > before + 500, timeout=90, desc="acks resuming after the restart")
    for a in c.agents:
        wait_for(lambda a=a: _ready(a) == 200, timeout=60, desc=f"{a} ready again")
    assert load.stop() == 0
    check_log(load.acked, read_all(c.bootstrap(), topic, PARTITIONS, min_count=len(load.acked)))


def test_object_store_outage_answers_retriable_errors_and_recovers(cluster_factory, shared_pg, s3):
    c = cluster_factory(shared_pg.database(), s3.url("s3-outage"))
    topic = unique_topic("s3o")
    create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
    load = LoadProducer(c.bootstrap(), topic, PARTITIONS).start()
    wait_for(lambda: load.acked_count() > 300, timeout=60, desc="load under way")
    s3.stop()
    time.sleep(4)
    s3.start()
    before = load.acked_count()
    wait_for(lambda: load.acked_count() > before + 500, timeout=120, desc="acks resuming after the outage")
    assert load.stop() == 0
    assert load.fatal is None, load.fatal
    check_log(load.acked, read_all(c.bootstrap(), topic, PARTITIONS, min_count=len(load.acked)))


def test_agent_cut_off_from_postgres_stops_acking(cluster_factory, own_pg, s3):
    db = own_pg.database()
    proxy = TcpProxy(own_pg.port)
    try:
        cut_url = db.replace(f":{own_pg.port}/", f":{proxy.port}/")
        c = cluster_factory(db, s3.url("partition"), per_agent_args=[
            ("--zone", "az-a", "--metastore", cut_url), ("--zone", "az-b"), ("--zone", "az-b")])
        topic = unique_topic("cut")
        create_topic(c.bootstrap(), topic, partitions=PARTITIONS)
        zone_a = {"client.id": "weft_az=az-a"}
        assert list(_brokers(c.bootstrap([0]), "weft_az=az-a")) == [1]
        proxy.cut()
        during = [Rec(i % PARTITIONS, f"cut-{i}".encode(), b"c") for i in range(20)]
        results = produce_confluent(c.bootstrap([0]), topic, during, timeout=60, acks="all",
                                    **{**zone_a, "message.timeout.ms": 8000})
        acked = [r for r in results if r[0] is None]
        assert not acked, f"an agent cut off from PostgreSQL acknowledged {len(acked)} records"
        assert all(r[0].code() in (KafkaError._MSG_TIMED_OUT, KafkaError.REQUEST_TIMED_OUT,
                                   KafkaError.KAFKA_STORAGE_ERROR, KafkaError.NOT_ENOUGH_REPLICAS,
                                   KafkaError._TIMED_OUT)
                   or r[0].retriable() for r in results), [str(r[0]) for r in results][:3]
        proxy.heal()
        after = [Rec(i % PARTITIONS, f"after-{i}".encode(), b"a") for i in range(20)]
        results = produce_confluent(c.bootstrap([0]), topic, after, timeout=90, **zone_a)
        assert all(err is None for err, _p, _o in results), "agent 1 acks again once PostgreSQL is back"
        stored = read_all(c.bootstrap([1]), topic, PARTITIONS, min_count=20)
        assert {f"after-{i}".encode() for i in range(20)} <= {r.key for r in stored}
    finally:
        proxy.close()



class _ClusterBootstrap:
    """What test_eos's Pipeline needs of an agent: a bootstrap string (here the live agents of a cluster)."""

    def __init__(self, cluster):
        self.cluster = cluster

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap()


@pytest.mark.timeout(240)
def test_transactions_survive_the_death_of_their_coordinator_agent(cluster_factory, shared_pg, s3, tmp_path):
    """A consume-transform-produce worker (read_committed, transactional) runs against three agents; the agent
    coordinating its transactional id is killed mid-transaction. The new coordinator completes or aborts what
    was in flight, the worker goes on, and the history check finds every input transformed exactly once and
    no aborted record visible to read_committed."""
    from rawkafka import RawConn, find_coordinator
    from test_eos import AGENT_ARGS, Pipeline, _count, _wait_last_event

    c = cluster_factory(shared_pg.database(), s3.url("eos"), extra_args=AGENT_ARGS)
    pl = Pipeline(_ClusterBootstrap(c), tmp_path, n=2000)
    with RawConn(c.agents[0].bootstrap) as conn:
        coord = find_coordinator(conn, pl.txn_id, key_type=1)
    assert coord["error_code"] == 0, coord
    pl.start_worker(in_txn_sleep=0.04)
    try:
        wait_for(lambda: _count(pl.log, "COMMITTED") >= 10, 60, interval=0.05,
                 desc=f"10 committed transactions\n{pl.worker_tail()}")
        _wait_last_event(pl.log, "PRODUCE")
        committed_at_kill = _count(pl.log, "COMMITTED")
        c.kill9(coord["node_id"] - 1)
        pl.run_to_completion(150, in_txn_sleep=0.0)
        assert _count(pl.log, "COMMITTED") > committed_at_kill
        summary = pl.verify()
    finally:
        pl.kill_all()
    print(f"coordinator agent {coord['node_id']} killed mid-transaction: {summary}")
