"""DeleteGroups removes a group and its committed offsets, as Kafka's GroupCoordinator.deleteGroups does:
after a consumer committed and left and an admin altered an offset (an OffsetCommit with generation -1), the
group is gone from ListGroups, DescribeGroups and OffsetFetch; the same for a group known only through its
stored offsets after an agent restart; a group with a member is refused with NON_EMPTY_GROUP."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from clientutil import create_topic, unique_topic, wait_for
from rawkafka import RawConn, join_group

TIMEOUT = 60
MEMBER_ID_REQUIRED = 79


@pytest.fixture(scope="module")
def dagent(weft_bin, tmp_path_factory):
    from conftest import _make_agent
    a = _make_agent(weft_bin, tmp_path_factory, ("--group-initial-rebalance-delay-ms", "0"), None)
    a.start()
    yield a
    a.stop()


def _consume_commit_close(b: str, topic: str, group: str, records: int):
    from test_groups import _produce
    _produce(b, topic, records, partitions=2)
    c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    c.subscribe([topic])
    seen = 0
    try:
        def consumed():
            nonlocal seen
            m = c.poll(0.2)
            if m is not None and not m.error():
                seen += 1
                c.commit(m, asynchronous=False)
            return seen >= records
        wait_for(consumed, timeout=TIMEOUT, interval=0, desc="consume and commit")
    finally:
        c.close()


def _listed(admin: AdminClient, group: str) -> bool:
    return group in {g.group_id for g in admin.list_consumer_groups().result(timeout=20).valid}


def _committed(admin: AdminClient, group: str) -> dict:
    fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    return {(tp.topic, tp.partition): tp.offset for tp in fut.result(timeout=20).topic_partitions}


def _alter_then_delete(admin: AdminClient, topic: str, group: str):
    altered = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 1)])])[group].result(timeout=20)
    assert [(tp.partition, tp.offset, tp.error) for tp in altered.topic_partitions] == [(0, 1, None)]
    assert _committed(admin, group)[(topic, 0)] == 1
    assert admin.delete_consumer_groups([group])[group].result(timeout=20) is None
    assert not _listed(admin, group)
    assert _committed(admin, group) == {}
    _assert_dead(admin, group)
    with pytest.raises(KafkaException) as gone:
        admin.delete_consumer_groups([group])[group].result(timeout=20)
    assert gone.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND


def _assert_dead(admin: AdminClient, group: str):
    """DescribeGroups of a deleted group before v6 (librdkafka's version): Dead, no members, no error."""
    described = admin.describe_consumer_groups([group])[group].result(timeout=20)
    assert described.state.name == "DEAD" and described.members == []


def test_delete_removes_the_group_and_its_offsets(dagent):
    b = dagent.bootstrap
    topic = unique_topic("gdel")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    _consume_commit_close(b, topic, group, 6)
    # A joiner that was handed a member id (KIP-394) but never came back: the coordinator keeps the group,
    # still without members, until that id expires. Deleting the group must forget it too.
    with RawConn(b) as conn:
        assert join_group(conn, group)["error_code"] == MEMBER_ID_REQUIRED
    admin = AdminClient({"bootstrap.servers": b})
    assert _listed(admin, group)
    described = admin.describe_consumer_groups([group])[group].result(timeout=20)
    assert described.state.name == "EMPTY"
    _alter_then_delete(admin, topic, group)


def test_a_group_known_only_by_its_offsets_after_a_restart_is_listed_and_deleted(agent_factory):
    a = agent_factory("--group-initial-rebalance-delay-ms", "0")
    topic = unique_topic("gdel-restart")
    group = f"g-{topic}"
    create_topic(a.bootstrap, topic, partitions=2)
    _consume_commit_close(a.bootstrap, topic, group, 4)
    a.restart()
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    assert _listed(admin, group)
    assert sum(_committed(admin, group).values()) == 4
    _alter_then_delete(admin, topic, group)


def test_kafka_python_delete_groups(dagent):
    from kafka.admin import KafkaAdminClient
    b = dagent.bootstrap
    topic = unique_topic("gdel-kp")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    _consume_commit_close(b, topic, group, 2)
    ka = KafkaAdminClient(bootstrap_servers=b, request_timeout_ms=20000)
    try:
        assert group in {g["group_id"] for g in ka.list_groups()}
        never = f"{group}-never-existed"
        assert ka.delete_groups([group, never]) == {group: "OK", never: "GroupIdNotFoundError"}
        assert group not in {g["group_id"] for g in ka.list_groups()}
        assert ka.list_group_offsets({group: None})[group] == {}
        # DescribeGroups v6 (Kafka 4): an unknown group is an error, not just a Dead group.
        described = ka.describe_groups([group])[group]
        assert described["group_state"] == "Dead" and "GroupIdNotFoundError" in (described["error"] or ""), described
    finally:
        ka.close()


def test_a_group_with_a_member_is_not_deleted(dagent):
    b = dagent.bootstrap
    topic = unique_topic("gdel-busy")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    c.subscribe([topic])
    admin = AdminClient({"bootstrap.servers": b})
    try:
        wait_for(lambda: c.poll(0.2) is None and len(c.assignment()) == 2, timeout=TIMEOUT, desc="assignment")
        c.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
        with pytest.raises(KafkaException) as busy:
            admin.delete_consumer_groups([group])[group].result(timeout=20)
        assert busy.value.args[0].code() == KafkaError.NON_EMPTY_GROUP
        assert _listed(admin, group)
        assert _committed(admin, group)[(topic, 0)] == 3
    finally:
        c.close()


def test_delete_a_kip848_consumer_group(dagent):
    """group.protocol=consumer: refused while a member heartbeats, removed with its offsets once it left."""
    b = dagent.bootstrap
    topic = unique_topic("gdel-848")
    group = f"g-{topic}"
    create_topic(b, topic, partitions=2)
    c = Consumer({"bootstrap.servers": b, "group.id": group, "group.protocol": "consumer",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    admin = AdminClient({"bootstrap.servers": b})
    try:
        wait_for(lambda: c.poll(0.2) is None and len(c.assignment()) == 2, timeout=TIMEOUT, desc="assignment")
        c.commit(offsets=[TopicPartition(topic, 1, 4)], asynchronous=False)
        with pytest.raises(KafkaException) as busy:
            admin.delete_consumer_groups([group])[group].result(timeout=20)
        assert busy.value.args[0].code() == KafkaError.NON_EMPTY_GROUP
    finally:
        c.close()
    assert _committed(admin, group)[(topic, 1)] == 4
    assert admin.delete_consumer_groups([group])[group].result(timeout=20) is None
    assert not _listed(admin, group)
    assert _committed(admin, group) == {}
    _assert_dead(admin, group)
