"""Transactions with real clients: commit and abort, read_committed versus
read_uncommitted, the last stable offset, timeouts, zombie fencing and offsets
committed inside a transaction (confluent-kafka / librdkafka and kafka-python)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import IsolationLevel, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import OffsetSpec

from clientutil import (
    admin_client,
    consume_confluent,
    consume_kafka_python,
    consumer,
    create_topic,
    unique_topic,
    wait_for,
)

TIMEOUT = 30


def txn_producer(bootstrap: str, txn_id: str, **conf) -> Producer:
    base = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    base.update(conf)
    p = Producer(base)
    p.init_transactions(TIMEOUT)
    return p


def values(recs) -> list:
    return sorted(r.value.decode() for r in recs)


def read(bootstrap: str, topic: str, partitions, isolation: str) -> list:
    return consume_confluent(bootstrap, topic, partitions, timeout=TIMEOUT, **{"isolation.level": isolation})


def list_offset(bootstrap: str, topic: str, partition: int, isolation: IsolationLevel) -> int:
    a = admin_client(bootstrap)
    tp = TopicPartition(topic, partition)
    futs = a.list_offsets({tp: OffsetSpec.latest()}, isolation_level=isolation, request_timeout=TIMEOUT)
    return futs[tp].result(TIMEOUT).offset


def test_commit_and_abort_visibility(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("txn")
    create_topic(b, topic, partitions=2)
    p = txn_producer(b, unique_topic("tid"))
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, key=str(i), value=f"commit-{i}", partition=i % 2)
    p.commit_transaction(TIMEOUT)
    p.begin_transaction()
    for i in range(6):
        p.produce(topic, key=str(i), value=f"abort-{i}", partition=i % 2)
    p.flush(TIMEOUT)  # the aborted records really are in the log
    p.abort_transaction(TIMEOUT)
    p.begin_transaction()
    p.produce(topic, value="last", partition=0)
    p.commit_transaction(TIMEOUT)

    committed = read(b, topic, [0, 1], "read_committed")
    assert values(committed) == sorted([f"commit-{i}" for i in range(10)] + ["last"])
    everything = read(b, topic, [0, 1], "read_uncommitted")
    assert values(everything) == sorted([f"commit-{i}" for i in range(10)] + [f"abort-{i}" for i in range(6)] + ["last"])
    # Markers take offsets: partition 0 holds 5 + marker + 3 + marker + 1 + marker.
    assert max(r.offset for r in everything if r.partition == 0) == 10
    # kafka-python's read_committed consumer skips the aborted records too.
    kp = consume_kafka_python(b, topic, [0, 1], isolation_level="read_committed")
    assert values(kp) == values(committed)


def test_open_transaction_holds_back_the_last_stable_offset(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("txn-lso")
    create_topic(b, topic, partitions=1)
    plain = Producer({"bootstrap.servers": b})
    plain.produce(topic, value="before", partition=0)
    plain.flush(TIMEOUT)
    p = txn_producer(b, unique_topic("tid"))
    p.begin_transaction()
    p.produce(topic, value="pending", partition=0)
    p.flush(TIMEOUT)
    plain.produce(topic, value="after", partition=0)
    plain.flush(TIMEOUT)

    assert list_offset(b, topic, 0, IsolationLevel.READ_UNCOMMITTED) == 3
    assert list_offset(b, topic, 0, IsolationLevel.READ_COMMITTED) == 1, "LSO is the open transaction's first offset"
    assert values(read(b, topic, [0], "read_committed")) == ["before"]

    # A read_committed consumer waiting at the LSO gets the rest as soon as the transaction commits.
    c = consumer(b, **{"isolation.level": "read_committed", "enable.partition.eof": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value().decode())
    assert got == ["before"]
    p.commit_transaction(TIMEOUT)
    wait_for(lambda: _poll_into(c, got) and len(got) >= 3, timeout=TIMEOUT, desc="records after commit")
    c.close()
    assert got == ["before", "pending", "after"]
    assert list_offset(b, topic, 0, IsolationLevel.READ_COMMITTED) == 4


def _poll_into(c, out: list) -> bool:
    m = c.poll(0.2)
    if m is not None and not m.error():
        out.append(m.value().decode())
    return True


def test_timed_out_transaction_is_aborted_and_the_lso_advances(agent_factory):
    agent = agent_factory("--transaction-check-interval-ms", "200")
    b = agent.bootstrap
    topic = unique_topic("txn-timeout")
    create_topic(b, topic, partitions=1)
    p = txn_producer(b, unique_topic("tid"), **{"transaction.timeout.ms": 1500})
    p.begin_transaction()
    p.produce(topic, value="doomed", partition=0)
    p.flush(TIMEOUT)
    assert list_offset(b, topic, 0, IsolationLevel.READ_COMMITTED) == 0
    # The coordinator aborts on its own: the partition must not stay stuck behind the open transaction.
    wait_for(lambda: list_offset(b, topic, 0, IsolationLevel.READ_COMMITTED) == 2, timeout=15,
             desc="LSO past the abort marker")
    assert read(b, topic, [0], "read_committed") == []
    assert values(read(b, topic, [0], "read_uncommitted")) == ["doomed"]
    with pytest.raises(KafkaException):
        p.commit_transaction(TIMEOUT)
    assert "transaction timed out; aborting" in agent.log_text()


def test_a_new_producer_fences_the_zombie_and_aborts_its_transaction(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("txn-zombie")
    create_topic(b, topic, partitions=1)
    tid = unique_topic("tid")
    zombie = txn_producer(b, tid)
    zombie.begin_transaction()
    zombie.produce(topic, value="zombie", partition=0)
    zombie.flush(TIMEOUT)

    fresh = txn_producer(b, tid)  # same transactional.id: bumps the epoch
    fresh.begin_transaction()
    fresh.produce(topic, value="fresh", partition=0)
    fresh.commit_transaction(TIMEOUT)

    with pytest.raises(KafkaException) as err:
        zombie.produce(topic, value="zombie-2", partition=0)
        zombie.commit_transaction(TIMEOUT)
    kerr = err.value.args[0]
    assert kerr.fatal() or kerr.txn_requires_abort(), kerr
    assert values(read(b, topic, [0], "read_committed")) == ["fresh"]
    assert "zombie-2" not in values(read(b, topic, [0], "read_uncommitted"))


def test_offsets_sent_to_a_transaction_commit_with_it(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("txn-offsets")
    create_topic(b, topic, partitions=1)
    group = unique_topic("g")
    c = consumer(b, **{"group.id": group, "isolation.level": "read_committed"})
    meta = c.consumer_group_metadata()
    p = txn_producer(b, unique_topic("tid"))

    p.begin_transaction()
    p.send_offsets_to_transaction([TopicPartition(topic, 0, 7)], meta, TIMEOUT)
    p.abort_transaction(TIMEOUT)
    assert c.committed([TopicPartition(topic, 0)], timeout=TIMEOUT)[0].offset < 0, "aborted offsets are dropped"

    p.begin_transaction()
    p.send_offsets_to_transaction([TopicPartition(topic, 0, 42)], meta, TIMEOUT)
    p.commit_transaction(TIMEOUT)
    assert c.committed([TopicPartition(topic, 0)], timeout=TIMEOUT)[0].offset == 42
    c.close()


def test_kafka_python_transactional_producer(agent_module):
    from kafka import KafkaProducer

    b = agent_module.bootstrap
    topic = unique_topic("txn-kp")
    create_topic(b, topic, partitions=1)
    p = KafkaProducer(bootstrap_servers=b, transactional_id=unique_topic("tid"), request_timeout_ms=20000)
    try:
        p.init_transactions()
        p.begin_transaction()
        p.send(topic, value=b"kp-commit", partition=0)
        p.commit_transaction()
        p.begin_transaction()
        p.send(topic, value=b"kp-abort", partition=0)
        p.flush()
        p.abort_transaction()
    finally:
        p.close(timeout=10)
    assert values(read(b, topic, [0], "read_committed")) == ["kp-commit"]
    assert values(read(b, topic, [0], "read_uncommitted")) == ["kp-abort", "kp-commit"]
    assert values(consume_kafka_python(b, topic, [0], isolation_level="read_committed")) == ["kp-commit"]
