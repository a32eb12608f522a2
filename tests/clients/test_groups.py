"""Consumer groups (classic protocol) and idempotent producers with real clients:
confluent-kafka (range, cooperative-sticky, static membership), kafka-python
(range, roundrobin, idempotent producer by default) and kcat's balanced consumer."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from clientutil import create_topic, kcat, produce_kafka_python, Rec, unique_topic, wait_for

PARTITIONS = 4
TIMEOUT = 60


@pytest.fixture(scope="module")
def gagent(agent_factory_module):
    return agent_factory_module("--group-initial-rebalance-delay-ms", "200")


@pytest.fixture(scope="module")
def agent_factory_module(weft_bin, tmp_path_factory):
    from conftest import _make_agent
    made = []

    def make(*args):
        a = _make_agent(weft_bin, tmp_path_factory, args, None)
        made.append(a)
        a.start()
        return a

    yield make
    for a in made:
        a.stop()


def _produce(b: str, topic: str, n: int, idempotent: bool = True, partitions: int = PARTITIONS):
    p = Producer({"bootstrap.servers": b, "enable.idempotence": idempotent, "linger.ms": 5})
    errors = []
    for i in range(n):
        p.produce(topic, key=f"k{i}", value=f"v{i}", partition=i % partitions,
                  on_delivery=lambda e, m: errors.append(e) if e else None)
    assert p.flush(TIMEOUT) == 0
    assert errors == []


def _members(b, topic, group, count, total, strategy, instance_ids=None):
    """Run ``count`` confluent-kafka members committing after each record until
    ``total`` records are consumed; returns (records, assignments seen)."""
    seen, lock = [], threading.Lock()
    assignments = [set() for _ in range(count)]
    stable = threading.Event()

    def run(i):
        conf = {"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "partition.assignment.strategy": strategy,
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        if instance_ids:
            conf["group.instance.id"] = instance_ids[i]
        c = Consumer(conf)
        c.subscribe([topic])
        deadline = time.time() + TIMEOUT
        try:
            while time.time() < deadline:
                with lock:
                    if len(seen) >= total:
                        break
                m = c.poll(0.1)
                assignments[i] = {tp.partition for tp in c.assignment()}
                if sum(len(a) for a in assignments) == PARTITIONS and all(assignments):
                    stable.set()
                if m is None or m.error():
                    continue
                with lock:
                    seen.append((m.partition(), m.offset()))
                c.commit(m, asynchronous=False)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    assert stable.wait(TIMEOUT), f"group never stabilised: {assignments}"
    snapshot = [set(a) for a in assignments]
    _produce(b, topic, total)
    for t in threads:
        t.join(TIMEOUT + 10)
    return seen, snapshot


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_confluent_group_shares_partitions_and_consumes_exactly_once(gagent, strategy):
    b = gagent.bootstrap
    topic = unique_topic("grp")
    create_topic(b, topic, partitions=PARTITIONS)
    seen, snapshot = _members(b, topic, f"g-{topic}", 2, 200, strategy)
    owned = [p for a in snapshot for p in a]
    assert sorted(owned) == list(range(PARTITIONS)), f"each partition owned once: {snapshot}"
    assert len(seen) == 200 and len(set(seen)) == 200
    c = Consumer({"bootstrap.servers": b, "group.id": f"g-{topic}"})
    committed = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)
    c.close()
    assert [tp.offset for tp in committed] == [50] * PARTITIONS


def test_static_members_get_disjoint_partitions(gagent):
    b = gagent.bootstrap
    topic = unique_topic("grp-static")
    create_topic(b, topic, partitions=PARTITIONS)
    seen, snapshot = _members(b, topic, f"g-{topic}", 2, 100, "range", instance_ids=["pod-a", "pod-b"])
    assert sorted(p for a in snapshot for p in a) == list(range(PARTITIONS))
    assert len(set(seen)) == 100


@pytest.mark.parametrize("assignor", ["range", "roundrobin"])
def test_kafka_python_group_and_default_idempotent_producer(gagent, assignor):
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    cls = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[assignor]
    b = gagent.bootstrap
    topic = unique_topic("kpgrp")
    create_topic(b, topic, partitions=3)
    # kafka-python 3 enables idempotence by default: this needs InitProducerId.
    recs = [Rec(i % 3, f"k{i}".encode(), f"v{i}".encode()) for i in range(90)]
    out = produce_kafka_python(b, topic, recs, enable_idempotence=True, acks="all")
    assert all(exc is None for exc, _, _ in out), out[:3]
    seen, lock = [], threading.Lock()
    owned = []

    def run():
        c = KafkaConsumer(topic, bootstrap_servers=b, group_id=f"g-{topic}", auto_offset_reset="earliest",
                          enable_auto_commit=False, partition_assignment_strategy=[cls], consumer_timeout_ms=6000)
        for m in c:
            with lock:
                seen.append((m.partition, m.offset))
            c.commit()
        owned.append({tp.partition for tp in c.assignment()})
        c.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(seen) == 90 and len(set(seen)) == 90


def test_kcat_balanced_consumer_commits(gagent):
    b = gagent.bootstrap
    topic = unique_topic("kcatgrp")
    create_topic(b, topic, partitions=2)
    p = Producer({"bootstrap.servers": b})
    for i in range(40):
        p.produce(topic, value=f"v{i}", partition=i % 2)
    assert p.flush(TIMEOUT) == 0
    cp = kcat(b, "-G", f"g-{topic}", topic, "-o", "beginning", "-e", "-f", "%p:%o\n",
              "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100", timeout=90)
    lines = [ln for ln in cp.stdout.decode().splitlines() if ln.strip()]
    assert sorted(lines) == sorted(f"{i % 2}:{i // 2}" for i in range(40))
    c = Consumer({"bootstrap.servers": b, "group.id": f"g-{topic}"})
    try:
        wait_for(lambda: [tp.offset for tp in c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)] == [20, 20],
                 timeout=20, desc="kcat's offsets committed")
    finally:
        c.close()


def test_group_offsets_survive_agent_restart(agent_factory_module):
    a = agent_factory_module("--group-initial-rebalance-delay-ms", "0")
    topic = unique_topic("grp-restart")
    create_topic(a.bootstrap, topic, partitions=PARTITIONS)
    seen, _ = _members(a.bootstrap, topic, f"g-{topic}", 1, 40, "range")
    assert len(set(seen)) == 40
    a.restart()
    seen, _ = _members(a.bootstrap, topic, f"g-{topic}", 1, 40, "range")
    assert len(set(seen)) == 40
    assert all(offset >= 10 for _, offset in seen), "committed records are not read again after a restart"


def test_admin_lists_describes_and_deletes_groups_and_offsets(gagent):
    """kafka-python admin: ListGroups, DescribeGroups, OffsetDelete (refused while subscribed),
    DeleteGroups; confluent-kafka: list_consumer_groups."""
    from kafka import TopicPartition as KTP
    from kafka.admin import KafkaAdminClient
    from confluent_kafka.admin import AdminClient
    b = gagent.bootstrap
    topic = unique_topic("grp-admin")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    c.subscribe([topic])
    wait_for(lambda: c.poll(0.2) is None and len(c.assignment()) == 2, timeout=TIMEOUT, desc="assignment")
    c.commit(offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 7)], asynchronous=False)
    ka = KafkaAdminClient(bootstrap_servers=b, request_timeout_ms=20000)
    try:
        assert {"group_id": group, "protocol_type": "consumer", "group_state": "Stable", "group_type": "Classic"} in ka.list_groups()
        confluent_admin = AdminClient({"bootstrap.servers": b})  # keep a reference until the future resolves
        listed_confluent = {g.group_id for g in confluent_admin.list_consumer_groups().result(timeout=20).valid}
        assert group in listed_confluent
        desc = ka.describe_groups([group])[group]
        assert (desc["group_state"], desc["protocol_data"], len(desc["members"])) == ("Stable", "range", 1)
        assert desc["members"][0]["member_metadata"]["topics"] == [topic]
        assert sorted(desc["members"][0]["member_assignment"]["assigned_partitions"][0]["partitions"]) == [0, 1]
        offsets = ka.list_group_offsets({group: None})[group]
        assert {tp.partition: om.offset for tp, om in offsets.items()} == {0: 5, 1: 7}
        res = ka.delete_group_offsets(group, [KTP(topic, 0)])
        assert [e.__name__ for e in res.values()] == ["GroupSubscribedToTopicError"]
        c.close()
        res = ka.delete_group_offsets(group, [KTP(topic, 0)])
        assert [e.__name__ for e in res.values()] == ["NoError"]
        offsets = ka.list_group_offsets({group: None})[group]
        assert {tp.partition: om.offset for tp, om in offsets.items()} == {1: 7}
        assert ka.delete_groups([group]) == {group: None} or ka.list_group_offsets({group: None})[group] == {}
        assert ka.list_group_offsets({group: None})[group] == {}
    finally:
        ka.close()


def test_weft_group_cli_list_describe_reset_delete(gagent, weft_bin):
    """`weft group` end to end: lag per partition, reset with --dry-run and for real, refusal while members
    are active, delete, and a clear non-zero exit for an unreachable cluster."""
    import json
    import subprocess
    b = gagent.bootstrap
    topic = unique_topic("grp-cli")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    _produce(b, topic, 20, partitions=2)

    def weft(*args, ok=True):
        cp = subprocess.run([weft_bin, "group", "-b", b, *args], capture_output=True, timeout=60)
        assert (cp.returncode == 0) == ok, (cp.returncode, cp.stdout, cp.stderr)
        return cp

    c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    wait_for(lambda: c.poll(0.2) is None and len(c.assignment()) == 2, timeout=TIMEOUT, desc="assignment")
    c.commit(offsets=[TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 10)], asynchronous=False)
    listed = json.loads(weft("--json", "list").stdout)
    assert {"group": group, "state": "Stable", "protocol_type": "consumer", "protocol": "range", "members": 1} in listed
    desc = json.loads(weft("--json", "describe", group).stdout)
    assert desc["state"] == "Stable" and len(desc["members"]) == 1
    rows = {(p["partition"]): (p["committed"], p["log_end"], p["lag"]) for p in desc["partitions"]}
    assert rows == {0: (4, 10, 6), 1: (10, 10, 0)}
    refused = weft("reset-offsets", group, "--topic", topic, "--to-earliest", ok=False)
    assert b"active members" in refused.stderr
    c.close()
    dry = json.loads(weft("--json", "reset-offsets", group, "--topic", topic, "--to-offset", "7", "--dry-run").stdout)
    assert dry["dry_run"] and [o["new_offset"] for o in dry["offsets"]] == [7, 7]
    assert {(p["partition"]): p["committed"] for p in json.loads(weft("--json", "describe", group).stdout)["partitions"]} == {0: 4, 1: 10}
    weft("reset-offsets", group, "--topic", topic, "--to-earliest")
    assert {(p["partition"]): p["lag"] for p in json.loads(weft("--json", "describe", group).stdout)["partitions"]} == {0: 10, 1: 10}
    assert b"deleted group" in weft("delete", group).stdout
    cp = subprocess.run([weft_bin, "group", "-b", "127.0.0.1:1", "--timeout-secs", "2", "list"], capture_output=True, timeout=60)
    assert cp.returncode != 0 and b"cannot reach the cluster at 127.0.0.1:1" in cp.stderr


def test_offsets_of_groups_without_members_expire(agent_factory_module):
    """offsets.retention.minutes: after a restart with retention 0, the empty group's offsets are gone."""
    a = agent_factory_module("--group-initial-rebalance-delay-ms", "0")
    topic = unique_topic("grp-expire")
    create_topic(a.bootstrap, topic, partitions=1)
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "expiring"})
    c.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    assert [tp.offset for tp in c.committed([TopicPartition(topic, 0)], timeout=20)] == [3]
    c.close()
    a.extra_args += ["--offsets-retention-minutes", "0"]
    a.restart()
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "expiring"})
    try:
        wait_for(lambda: [tp.offset for tp in c.committed([TopicPartition(topic, 0)], timeout=20)] == [-1001],
                 timeout=30, desc="offsets expired")
    finally:
        c.close()


MEMBER_SCRIPT = r"""
import sys, time
from confluent_kafka import Consumer
b, topic, group = sys.argv[1:4]
c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
c.subscribe([topic])
while True:
    m = c.poll(0.2)
    parts = sorted(tp.partition for tp in c.assignment())
    print("assigned", parts, flush=True)
    if m is not None and not m.error():
        c.commit(m, asynchronous=False)
"""


def test_killed_member_partitions_move_after_session_timeout(gagent, tmp_path):
    """A member killed with -9 never leaves; after session.timeout.ms the coordinator expires it and the
    survivor gets every partition."""
    import subprocess
    import sys
    b = gagent.bootstrap
    topic = unique_topic("grp-kill")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=PARTITIONS)
    script = tmp_path / "member.py"
    script.write_text(MEMBER_SCRIPT)
    victim = subprocess.Popen([sys.executable, str(script), b, topic, group], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    survivor = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    try:
        survivor.subscribe([topic])

        def split():
            survivor.poll(0.2)
            return 0 < len(survivor.assignment()) < PARTITIONS

        wait_for(split, timeout=TIMEOUT, desc="partitions shared with the victim")
        victim.kill()
        victim.wait(10)
        killed_at = time.time()

        def takeover():
            survivor.poll(0.2)
            return len(survivor.assignment()) == PARTITIONS

        wait_for(takeover, timeout=TIMEOUT, desc="survivor owns every partition")
        # Not before the session timeout (less a little for the killed member's last heartbeat).
        assert time.time() - killed_at > 3
        _produce(b, topic, 40)
        got = set()

        def drained():
            m = survivor.poll(0.2)
            if m is not None and not m.error():
                got.add((m.partition(), m.offset()))
            return len(got) == 40

        wait_for(drained, timeout=TIMEOUT, desc="survivor consumes everything")
    finally:
        if victim.poll() is None:
            victim.kill()
        survivor.close()


def test_agent_restart_mid_consumption_loses_no_committed_offset(agent_factory_module):
    """Members keep running while the agent restarts; nothing is skipped and the final committed offsets
    equal the log end (records in flight at the restart may be read twice, never lost)."""
    a = agent_factory_module("--group-initial-rebalance-delay-ms", "0")
    b = a.bootstrap
    topic = unique_topic("grp-agent-restart")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    seen, stop = set(), threading.Event()

    def member():
        c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
        c.subscribe([topic])
        try:
            while not stop.is_set():
                m = c.poll(0.2)
                if m is None or m.error():
                    continue
                seen.add((m.partition(), m.offset()))
                try:
                    c.commit(m, asynchronous=False)
                except Exception:  # noqa: BLE001 - commits fail while the agent restarts; the next one retries
                    pass
        finally:
            c.close()

    t = threading.Thread(target=member)
    t.start()
    try:
        _produce(b, topic, 100, partitions=2)
        wait_for(lambda: len(seen) >= 50, timeout=TIMEOUT, desc="consumption under way")
        a.restart()
        _produce(b, topic, 100, partitions=2)
        wait_for(lambda: len(seen) == 200, timeout=TIMEOUT, desc="every record consumed after the restart")
        assert seen == {(p, o) for p in range(2) for o in range(100)}
        check = Consumer({"bootstrap.servers": b, "group.id": group})
        try:
            wait_for(lambda: [tp.offset for tp in check.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)] == [100, 100],
                     timeout=TIMEOUT, desc="committed offsets reach the log end")
        finally:
            check.close()
    finally:
        stop.set()
        t.join(30)


@pytest.fixture(scope="module")
def kip848_agent(agent_factory_module):
    return agent_factory_module("--group-initial-rebalance-delay-ms", "0", "--group-consumer-heartbeat-interval-ms", "500")


def _kip848_consumer(b, group, assignor):
    return Consumer({"bootstrap.servers": b, "group.id": group, "group.protocol": "consumer",
                     "group.remote.assignor": assignor, "auto.offset.reset": "earliest", "enable.auto.commit": False})


@pytest.mark.parametrize("assignor", ["uniform", "range"])
def test_kip848_consumer_protocol_shares_partitions_exactly_once(kip848_agent, assignor):
    """librdkafka's group.protocol=consumer (KIP-848) with server-side assignment; then a member leaves and
    the other takes over every partition."""
    b = kip848_agent.bootstrap
    topic = unique_topic("k848")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=PARTITIONS)
    members = [_kip848_consumer(b, group, assignor) for _ in range(2)]
    for c in members:
        c.subscribe([topic])

    def split():
        for c in members:
            c.poll(0.1)
        owned = [sorted(tp.partition for tp in c.assignment()) for c in members]
        return all(owned) and sorted(sum(owned, [])) == list(range(PARTITIONS)) and owned

    owned = wait_for(split, timeout=TIMEOUT, desc="disjoint assignment")
    if assignor == "range":
        assert sorted(owned) == [[0, 1], [2, 3]], owned
    _produce(b, topic, 200)
    seen = []

    def drained():
        for c in members:
            m = c.poll(0.1)
            if m is not None and not m.error():
                seen.append((m.partition(), m.offset()))
                c.commit(m, asynchronous=False)
        return len(seen) >= 200

    wait_for(drained, timeout=TIMEOUT, desc="all records consumed")
    assert len(seen) == 200 and len(set(seen)) == 200
    members[0].close()

    def takeover():
        members[1].poll(0.1)
        return len(members[1].assignment()) == PARTITIONS

    wait_for(takeover, timeout=TIMEOUT, desc="remaining member owns every partition")
    members[1].close()
    check = Consumer({"bootstrap.servers": b, "group.id": group})
    try:
        assert [tp.offset for tp in check.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)] == [50] * PARTITIONS
    finally:
        check.close()


def test_kip848_and_classic_groups_coexist_and_are_listed(kip848_agent):
    from confluent_kafka.admin import AdminClient
    from kafka.admin import KafkaAdminClient
    b = kip848_agent.bootstrap
    topic = unique_topic("k848-mixed")
    create_topic(b, topic, partitions=2)
    modern = _kip848_consumer(b, f"modern-{topic}", "uniform")
    classic = Consumer({"bootstrap.servers": b, "group.id": f"classic-{topic}", "auto.offset.reset": "earliest",
                        "enable.auto.commit": False})
    try:
        modern.subscribe([topic])
        classic.subscribe([topic])

        def both_assigned():
            modern.poll(0.1)
            classic.poll(0.1)
            return len(modern.assignment()) == 2 and len(classic.assignment()) == 2

        wait_for(both_assigned, timeout=TIMEOUT, desc="both groups own every partition")
        ka = KafkaAdminClient(bootstrap_servers=b, request_timeout_ms=20000)
        try:
            kinds = {g["group_id"]: g["group_type"] for g in ka.list_groups()}
        finally:
            ka.close()
        assert kinds[f"modern-{topic}"] == "Consumer" and kinds[f"classic-{topic}"] == "Classic"
        # ConsumerGroupDescribe (confluent-kafka uses it for consumer-protocol groups).
        admin = AdminClient({"bootstrap.servers": b})
        desc = admin.describe_consumer_groups([f"modern-{topic}"])[f"modern-{topic}"].result(timeout=20)
        assert desc.type.name == "CONSUMER" and desc.state.name == "STABLE" and desc.partition_assignor == "uniform"
        assert [sorted(tp.partition for tp in m.assignment.topic_partitions) for m in desc.members] == [[0, 1]]
    finally:
        modern.close()
        classic.close()


def test_kip848_regex_subscription_follows_new_topics(kip848_agent):
    """A regex subscription gets every matching topic, including one created after the member joined."""
    b = kip848_agent.bootstrap
    prefix = unique_topic("k848re")
    create_topic(b, f"{prefix}-a", partitions=1)
    c = _kip848_consumer(b, f"g-{prefix}", "uniform")
    try:
        c.subscribe([f"^{prefix}-.*"])

        def owns(n):
            def check():
                c.poll(0.1)
                return len(c.assignment()) == n
            return check

        wait_for(owns(1), timeout=TIMEOUT, desc="matching topic assigned")
        create_topic(b, f"{prefix}-b", partitions=2)
        wait_for(owns(3), timeout=TIMEOUT, desc="topic created later is assigned too")
        assert {tp.topic for tp in c.assignment()} == {f"{prefix}-a", f"{prefix}-b"}
    finally:
        c.close()
