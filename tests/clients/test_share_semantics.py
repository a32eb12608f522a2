"""Share-group semantics (KIP-932) with confluent-kafka's ShareConsumer
(librdkafka 2.16), under failure and concurrency: a consumer process killed
with SIGKILL while holding records has them redelivered to another after the
acquisition lock ends; three consumers on one partition get disjoint records,
none lost, none delivered again once acknowledged; the same across an agent
kill -9 and restart while consumers are active; classic, KIP-848 and share
groups read one topic at once, each getting every record; and
share.isolation.level=read_committed never delivers aborted records."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

from confluent_kafka import AcknowledgeType, Consumer, Producer, ShareConsumer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from clientutil import admin_client, create_topic, unique_topic

TIMEOUT = 30
# Kafka's smallest share.record.lock.duration.ms (group.share.min.record.lock.duration.ms).
LOCK_MS = 15_000


def _group_configs(bootstrap, group, configs):
    a = admin_client(bootstrap)
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()]
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    a.incremental_alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def _setup(bootstrap, n, partitions=1, **configs):
    """A topic with `n` records and a share group reading it from the start; (topic, group)."""
    topic = unique_topic("sharesem")
    group = f"sg-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=partitions)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(TIMEOUT) == 0
    _group_configs(bootstrap, group, {"share.auto.offset.reset": "earliest", **configs})
    return topic, group


def _consumer(bootstrap, group, topic, **conf):
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                       "share.acknowledgement.mode": "explicit", "fetch.wait.max.ms": 200, **conf})
    c.subscribe([topic])
    return c


def _poll(c, timeout=0.5):
    return [m for m in c.poll(timeout) if m.error() is None]


class Ledger:
    """Deliveries and acknowledgements of several consumers, in one global order. An acknowledgement is
    confirmed when commit_sync reports its partition without error; one whose answer was lost (the agent
    died) is only attempted: it may or may not have been applied."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seq = 0
        self.delivered = []  # (seq, consumer, offset, delivery count)
        self.confirmed = {}  # offset -> seq of the confirmed ACCEPT
        self.attempted = set()

    def deliver(self, who, m):
        with self.lock:
            self.seq += 1
            self.delivered.append((self.seq, who, m.offset(), m.delivery_count()))

    def acked(self, offsets, ok):
        with self.lock:
            self.seq += 1
            for o in offsets:
                if ok:
                    self.confirmed.setdefault(o, self.seq)
                else:
                    self.attempted.add(o)

    def done(self, n):
        with self.lock:
            return len(self.attempted | set(self.confirmed)) >= n

    def check(self, n, leftovers):
        """Every offset acknowledged; none delivered after its acknowledgement was confirmed; what a last
        consumer still finds are only records whose acknowledgement was not confirmed."""
        assert not set(leftovers) & set(self.confirmed), "no confirmed record comes back"
        assert set(self.confirmed) | self.attempted | set(leftovers) == set(range(n)), "none lost"
        late = [(s, who, o) for s, who, o, _ in self.delivered if s > self.confirmed.get(o, s)]
        assert late == [], "no acknowledged record is delivered again"


def _work(c, who, ledger, n, stop):
    """Polls, accepts and commits until every record is acknowledged."""
    while not stop.is_set() and not ledger.done(n):
        try:
            batch = _poll(c)
        except Exception:  # the agent may be down for a moment
            time.sleep(0.2)
            continue
        for m in batch:
            ledger.deliver(who, m)
            c.acknowledge(m, AcknowledgeType.ACCEPT)
        if not batch:
            continue
        try:
            result = c.commit_sync(10.0) or {}
            ok = bool(result) and all(e is None for e in result.values())
        except Exception:
            ok = False
        ledger.acked([m.offset() for m in batch], ok)


def _leftovers(bootstrap, group, topic, wait_s=5.0):
    """What a last consumer of the group still gets within `wait_s` (accepted, so it is done)."""
    c = _consumer(bootstrap, group, topic)
    got = []
    try:
        deadline = time.time() + wait_s
        while time.time() < deadline:
            for m in _poll(c):
                got.append(m.offset())
                c.acknowledge(m, AcknowledgeType.ACCEPT)
            c.commit_sync(10.0)
    finally:
        c.close()
    return got


def _run(consumers, ledger, n, deadline_s, during=None):
    stop = threading.Event()
    threads = [threading.Thread(target=_work, args=(c, i, ledger, n, stop), daemon=True)
               for i, c in enumerate(consumers)]
    for t in threads:
        t.start()
    try:
        if during:
            during()
        deadline = time.time() + deadline_s
        while time.time() < deadline and not ledger.done(n):
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for c in consumers:
            c.close()


def test_three_consumers_on_one_partition_get_disjoint_records(agent):
    n = 3000
    topic, group = _setup(agent.bootstrap, n)
    ledger = Ledger()
    consumers = [_consumer(agent.bootstrap, group, topic, **{"max.poll.records": 50}) for _ in range(3)]
    _run(consumers, ledger, n, 90)
    ledger.check(n, _leftovers(agent.bootstrap, group, topic, 2.0))
    offsets = [o for _, _, o, _ in ledger.delivered]
    assert sorted(offsets) == list(range(n)), "each record delivered to exactly one consumer, once"
    assert {who for _, who, _, _ in ledger.delivered} == {0, 1, 2}, "all three consumers got records"


HOLDER = textwrap.dedent("""
    import sys, time
    from confluent_kafka import ShareConsumer
    bootstrap, group, topic = sys.argv[1:4]
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                       "share.acknowledgement.mode": "explicit", "fetch.wait.max.ms": 200,
                       "max.poll.records": 5})
    c.subscribe([topic])
    deadline = time.time() + 30
    while time.time() < deadline:
        got = [m.offset() for m in c.poll(0.5) if m.error() is None]
        if got:
            print("HELD", *got, flush=True)
            break
    time.sleep(600)
""")


def test_records_of_a_killed_consumer_go_to_another_after_the_lock(agent):
    n = 20
    topic, group = _setup(agent.bootstrap, n, **{"share.record.lock.duration.ms": str(LOCK_MS)})
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, agent.bootstrap, group, topic],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline().split()
        acquired_at = time.time()
        assert line and line[0] == "HELD", line
        held = {int(o) for o in line[1:]}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    c = _consumer(agent.bootstrap, group, topic)
    seen = {}
    try:
        deadline = time.time() + LOCK_MS / 1000 + TIMEOUT
        while time.time() < deadline and len(seen) < n:
            for m in _poll(c):
                seen.setdefault(m.offset(), (m.delivery_count(), time.time()))
                c.acknowledge(m, AcknowledgeType.ACCEPT)
            c.commit_sync(10.0)
    finally:
        c.close()
    assert sorted(seen) == list(range(n)), "none lost"
    assert held and all(seen[o][0] == 2 for o in held), "the killed consumer's records come back, counted"
    assert all(seen[o][0] == 1 for o in set(seen) - held)
    first_back = min(seen[o][1] for o in held)
    assert first_back - acquired_at >= LOCK_MS / 1000 - 2, "not before the acquisition lock ends"


def test_no_record_lost_or_redelivered_after_acknowledgement_across_agent_kill9(agent):
    n = 2000
    topic, group = _setup(agent.bootstrap, n)
    ledger = Ledger()
    consumers = [_consumer(agent.bootstrap, group, topic, **{"max.poll.records": 20}) for _ in range(2)]

    def crash_midway():
        deadline = time.time() + TIMEOUT
        while time.time() < deadline and not ledger.done(n // 4):
            time.sleep(0.05)
        assert not ledger.done(n), "the crash happens while records remain"
        agent.kill9()
        agent.start()

    _run(consumers, ledger, n, 120, during=crash_midway)
    # Records held when the agent died come back at once (their acquisition was stored as available).
    ledger.check(n, _leftovers(agent.bootstrap, group, topic))


def test_classic_kip848_and_share_groups_read_one_topic_at_once(agent):
    n, partitions = 600, 3
    topic, share_group = _setup(agent.bootstrap, n, partitions=partitions)
    results = {}

    def regular(protocol):
        conf = {"bootstrap.servers": agent.bootstrap, "group.id": f"{protocol}-{uuid.uuid4().hex[:8]}",
                "group.protocol": protocol, "auto.offset.reset": "earliest", "enable.auto.commit": False}
        if protocol == "classic":
            conf["session.timeout.ms"] = 10_000
        c = Consumer(conf)
        c.subscribe([topic])
        got = set()
        deadline = time.time() + 60
        try:
            while time.time() < deadline and len(got) < n:
                m = c.poll(0.5)
                if m is not None and m.error() is None:
                    got.add(m.value())
            c.commit(asynchronous=False)
        finally:
            c.close()
        results[protocol] = got

    def share():
        c = _consumer(agent.bootstrap, share_group, topic)
        got = set()
        deadline = time.time() + 60
        try:
            while time.time() < deadline and len(got) < n:
                for m in _poll(c):
                    got.add(m.value())
                    c.acknowledge(m, AcknowledgeType.ACCEPT)
                c.commit_sync(10.0)
        finally:
            c.close()
        results["share"] = got

    threads = [threading.Thread(target=regular, args=(p,)) for p in ("classic", "consumer")]
    threads.append(threading.Thread(target=share))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    expected = {f"v{i}".encode() for i in range(n)}
    for kind in ("classic", "consumer", "share"):
        assert results.get(kind) == expected, f"{kind} group got every record"


def test_read_committed_share_group_never_sees_aborted_records(agent):
    topic = unique_topic("sharetx")
    create_topic(agent.bootstrap, topic)
    p = Producer({"bootstrap.servers": agent.bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex[:8]}"})
    p.init_transactions(TIMEOUT)
    for tag, commit in (("c0", True), ("a", False), ("c1", True)):
        p.begin_transaction()
        for i in range(5):
            p.produce(topic, value=f"{tag}-{i}".encode())
        p.flush(TIMEOUT)
        if commit:
            p.commit_transaction(TIMEOUT)
        else:
            p.abort_transaction(TIMEOUT)
    committed = {f"{t}-{i}".encode() for t in ("c0", "c1") for i in range(5)}
    aborted = {f"a-{i}".encode() for i in range(5)}
    for level, want in (("read_committed", committed), ("read_uncommitted", committed | aborted)):
        group = f"sg-{level}-{uuid.uuid4().hex[:6]}"
        _group_configs(agent.bootstrap, group, {"share.auto.offset.reset": "earliest",
                                                "share.isolation.level": level})
        c = _consumer(agent.bootstrap, group, topic)
        got = []
        try:
            deadline = time.time() + TIMEOUT
            while time.time() < deadline and len(got) < len(want):
                for m in _poll(c):
                    got.append(m.value())
                    c.acknowledge(m, AcknowledgeType.ACCEPT)
                c.commit_sync(10.0)
            time.sleep(1)
            extra = [m.value() for m in _poll(c)]
        finally:
            c.close()
        assert sorted(got) == sorted(want), level
        assert extra == [], level
