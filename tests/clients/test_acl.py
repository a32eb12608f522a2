"""The ACL authorizer with real clients: confluent-kafka's admin client
creates, describes and deletes ACLs; produce and consume are allowed and
denied by them. Every client here is User:ANONYMOUS (plaintext listener): the
agent first runs with ANONYMOUS as a super user to write the ACLs, then is
restarted on the same data without super users, so the stored ACLs decide."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                   AclPermissionType, ResourcePatternType,
                                   ResourceType)

from clientutil import (Rec, admin_client, consumer, create_topic, future_error,
                        list_topics, produce_confluent, unique_topic)

ANON = "User:ANONYMOUS"
ACL = ("--authorizer", "acl")
TIMEOUT = 30


def _binding(rtype, name, principal, op, perm=AclPermissionType.ALLOW,
             pattern=ResourcePatternType.LITERAL):
    return AclBinding(rtype, name, pattern, principal, "*", op, perm)


def _all_filter():
    return AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                            None, None, AclOperation.ANY, AclPermissionType.ANY)


def _create(admin, bindings):
    fs = admin.create_acls(bindings, request_timeout=TIMEOUT)
    for b, f in fs.items():
        assert future_error(f, TIMEOUT) is None, b


def _restart_without_super_users(agent):
    agent.extra_args = list(ACL)
    agent.restart()


def test_admin_client_creates_describes_and_deletes_acls(agent_factory):
    a = agent_factory(*ACL, "--super-users", ANON)
    admin = admin_client(a.bootstrap)
    topic = unique_topic("acl-admin")
    _create(admin, [
        _binding(ResourceType.TOPIC, topic, "User:alice", AclOperation.READ),
        _binding(ResourceType.TOPIC, topic[:6], "User:*", AclOperation.WRITE,
                 AclPermissionType.DENY, ResourcePatternType.PREFIXED),
        _binding(ResourceType.GROUP, "g", "User:alice", AclOperation.READ),
    ])
    everything = admin.describe_acls(_all_filter(), request_timeout=TIMEOUT).result(TIMEOUT)
    assert len(everything) == 3, everything
    assert {(b.restype, b.name, b.resource_pattern_type) for b in everything} == {
        (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL),
        (ResourceType.TOPIC, topic[:6], ResourcePatternType.PREFIXED),
        (ResourceType.GROUP, "g", ResourcePatternType.LITERAL),
    }
    match = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.MATCH,
                             None, None, AclOperation.ANY, AclPermissionType.ANY)
    applying = admin.describe_acls(match, request_timeout=TIMEOUT).result(TIMEOUT)
    assert {b.principal for b in applying} == {"User:alice", "User:*"}, applying

    topics_only = AclBindingFilter(ResourceType.TOPIC, None, ResourcePatternType.ANY,
                                   None, None, AclOperation.ANY, AclPermissionType.ANY)
    fs = admin.delete_acls([topics_only], request_timeout=TIMEOUT)
    deleted = fs[topics_only].result(TIMEOUT)
    assert len(deleted) == 2, deleted
    left = admin.describe_acls(_all_filter(), request_timeout=TIMEOUT).result(TIMEOUT)
    assert [(b.restype, b.name) for b in left] == [(ResourceType.GROUP, "g")]

    # ResourceType.BROKER is code 4, Kafka's CLUSTER.
    bad = _binding(ResourceType.BROKER, "not-kafka-cluster", "User:alice", AclOperation.ALTER)
    err = future_error(admin.create_acls([bad], request_timeout=TIMEOUT)[bad], TIMEOUT)
    assert err is not None and err.code() == KafkaError.INVALID_REQUEST, err


def _produce_error(bootstrap, topic):
    results = produce_confluent(bootstrap, topic, [Rec(0, None, b"v")], acks="all",
                                **{"message.timeout.ms": 10000})
    return results[0][0]


def test_produce_and_consume_are_allowed_and_denied_by_acls(agent_factory):
    a = agent_factory(*ACL, "--super-users", ANON)
    mine, theirs = unique_topic("acl-mine"), unique_topic("acl-theirs")
    group = unique_topic("acl-group")
    create_topic(a.bootstrap, mine)
    create_topic(a.bootstrap, theirs)
    admin = admin_client(a.bootstrap)
    _create(admin, [
        _binding(ResourceType.TOPIC, mine, ANON, AclOperation.WRITE),
        _binding(ResourceType.TOPIC, mine, ANON, AclOperation.READ),
        _binding(ResourceType.GROUP, group, ANON, AclOperation.READ),
    ])
    _restart_without_super_users(a)
    b = a.bootstrap

    assert _produce_error(b, mine) is None
    err = _produce_error(b, theirs)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    assert set(list_topics(b)) == {mine}, "Metadata hides topics ANONYMOUS may not describe"

    c = consumer(b, **{"group.id": group, "enable.partition.eof": False})
    try:
        c.subscribe([mine])
        got = []
        deadline = time.time() + TIMEOUT
        while not got and time.time() < deadline:
            m = c.poll(1.0)
            if m is not None:
                assert m.error() is None, m.error()
                got.append(m)
        assert [m.value() for m in got] == [b"v"]
        c.commit(message=got[0], asynchronous=False)
    finally:
        c.close()

    denied = consumer(b, **{"group.id": unique_topic("acl-other-group")})
    try:
        with_error = None
        denied.subscribe([mine])
        deadline = time.time() + TIMEOUT
        while with_error is None and time.time() < deadline:
            m = denied.poll(1.0)
            if m is not None and m.error() is not None:
                with_error = m.error()
        assert with_error is not None and with_error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, with_error
    finally:
        denied.close()

    plain = consumer(b, **{"group.id": group})
    try:
        plain.subscribe([theirs])
        with_error = None
        deadline = time.time() + TIMEOUT
        while with_error is None and time.time() < deadline:
            m = plain.poll(1.0)
            if m is not None and m.error() is not None and m.error().code() != KafkaError._PARTITION_EOF:
                with_error = m.error()
        assert with_error is not None and with_error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, with_error
    finally:
        plain.close()

    # Changing ACLs needs ALTER on the cluster. (librdkafka drops DescribeAcls' top-level error code, so a
    # refused listing reaches it as an empty one; the Rust tests check that code.)
    admin = admin_client(b)
    grant = _binding(ResourceType.TOPIC, theirs, ANON, AclOperation.WRITE)
    err = future_error(admin.create_acls([grant], request_timeout=TIMEOUT)[grant], TIMEOUT)
    assert err is not None and err.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED, err
    assert admin.describe_acls(_all_filter(), request_timeout=TIMEOUT).result(TIMEOUT) == []


def test_regex_subscription_assigns_only_topics_the_principal_may_describe(agent_factory):
    """KIP-848 regex subscription (librdkafka group.protocol=consumer): a matching topic the principal may not
    DESCRIBE is never assigned, as in Kafka 4."""
    a = agent_factory(*ACL, "--super-users", ANON, "--group-consumer-heartbeat-interval-ms", "500")
    prefix = unique_topic("acl-rx")
    allowed, hidden = f"{prefix}-allowed", f"{prefix}-hidden"
    group = f"g-{prefix}"
    for t in (allowed, hidden):
        create_topic(a.bootstrap, t)
        assert _produce_error(a.bootstrap, t) is None
    admin = admin_client(a.bootstrap)
    _create(admin, [
        _binding(ResourceType.TOPIC, allowed, ANON, AclOperation.READ),
        _binding(ResourceType.GROUP, group, ANON, AclOperation.READ),
    ])
    a.extra_args = [*ACL, "--group-consumer-heartbeat-interval-ms", "500"]
    a.restart()
    c = consumer(a.bootstrap, **{"group.id": group, "group.protocol": "consumer",
                                 "enable.partition.eof": False})
    try:
        c.subscribe([f"^{prefix}-.*"])
        got = []
        deadline = time.time() + TIMEOUT
        while not got and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None:
                assert m.error() is None, m.error()
                got.append(m)
        assert [(m.topic(), m.value()) for m in got] == [(allowed, b"v")]
        # A few more heartbeats: the hidden topic is still not assigned, nothing from it arrives.
        end = time.time() + 3
        while time.time() < end:
            m = c.poll(0.5)
            assert m is None or (m.error() is None and m.topic() == allowed), m
        assert {tp.topic for tp in c.assignment()} == {allowed}
    finally:
        c.close()


def test_authorized_operations_are_reported_to_admin_clients(agent_factory):
    """describe_topics / describe_cluster / describe_consumer_groups with include_authorized_operations
    report what the ACLs allow (KIP-430), as Kafka."""
    from confluent_kafka import TopicCollection
    a = agent_factory(*ACL, "--super-users", ANON)
    topic = unique_topic("acl-ops")
    group = f"g-{topic}"
    create_topic(a.bootstrap, topic)
    admin = admin_client(a.bootstrap)
    _create(admin, [
        _binding(ResourceType.TOPIC, topic, ANON, AclOperation.READ),
        _binding(ResourceType.TOPIC, topic, ANON, AclOperation.DESCRIBE_CONFIGS),
        _binding(ResourceType.GROUP, group, ANON, AclOperation.READ),
        _binding(ResourceType.BROKER, "kafka-cluster", ANON, AclOperation.DESCRIBE),
    ])
    _restart_without_super_users(a)
    admin = admin_client(a.bootstrap)

    def ops(described):
        return {op.name for op in (described.authorized_operations or [])}

    fs = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=True,
                               request_timeout=TIMEOUT)
    assert ops(fs[topic].result(TIMEOUT)) == {"READ", "DESCRIBE", "DESCRIBE_CONFIGS"}
    plain = admin.describe_topics(TopicCollection([topic]), request_timeout=TIMEOUT)[topic].result(TIMEOUT)
    assert plain.authorized_operations is None, "not asked for"

    cluster = admin.describe_cluster(include_authorized_operations=True, request_timeout=TIMEOUT).result(TIMEOUT)
    assert ops(cluster) == {"DESCRIBE"}

    # The group exists once an offset is committed in it.
    committer = consumer(a.bootstrap, **{"group.id": group})
    try:
        committer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        committer.close()
    fs = admin.describe_consumer_groups([group], include_authorized_operations=True, request_timeout=TIMEOUT)
    assert ops(fs[group].result(TIMEOUT)) == {"READ", "DESCRIBE"}
