"""Metadata listing and cluster description with every client."""

from __future__ import annotations

from clientutil import (
    admin_client,
    create_topic,
    kcat_metadata,
    kp_admin,
    kp_consumer,
    unique_topic,
)


def _host_port(bootstrap: str):
    host, port = bootstrap.rsplit(":", 1)
    return host, int(port)


def test_kcat_metadata_lists_topic_and_broker(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("md-kcat")
    create_topic(b, topic, partitions=3)

    md = kcat_metadata(b)
    brokers = md["brokers"]
    assert len(brokers) == 1, brokers
    assert brokers[0]["id"] == 0
    # kcat prints the broker as "host:port"
    assert brokers[0]["name"].split("/")[0] == b

    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics, sorted(topics)
    parts = topics[topic]["partitions"]
    assert sorted(p["partition"] for p in parts) == [0, 1, 2]
    assert all(p["leader"] == 0 for p in parts), parts

    # Single-topic query returns just that topic, same shape.
    one = kcat_metadata(b, topic)
    assert [t["topic"] for t in one["topics"]] == [topic]
    assert len(one["topics"][0]["partitions"]) == 3


def test_confluent_list_topics(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("md-cfl")
    create_topic(b, topic, partitions=2)

    md = admin_client(b).list_topics(timeout=15)
    assert topic in md.topics
    t = md.topics[topic]
    assert t.error is None
    assert sorted(t.partitions) == [0, 1]
    for p in t.partitions.values():
        assert p.error is None
        assert p.leader == 0
        assert p.replicas == [0]
        assert p.isrs == [0]

    assert list(md.brokers) == [0]
    host, port = _host_port(b)
    assert (md.brokers[0].host, md.brokers[0].port) == (host, port)
    assert md.cluster_id, "metadata has no cluster id"

    # Topic-specific query
    md1 = admin_client(b).list_topics(topic=topic, timeout=15)
    assert md1.topics[topic].error is None
    assert len(md1.topics[topic].partitions) == 2


def test_kafka_python_admin_and_consumer_topics(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("md-kp")
    create_topic(b, topic, partitions=4)

    admin = kp_admin(b)
    try:
        assert topic in admin.list_topics()
        described = {t["name"]: t for t in admin.describe_topics([topic])}
        assert described[topic]["error_code"] == 0
        assert sorted(p["partition_index"] for p in described[topic]["partitions"]) == [0, 1, 2, 3]
        assert all(p["leader_id"] == 0 for p in described[topic]["partitions"])
    finally:
        admin.close()

    c = kp_consumer(b)
    try:
        assert topic in c.topics()
        assert c.partitions_for_topic(topic) == {0, 1, 2, 3}
    finally:
        c.close(autocommit=False)


def test_confluent_describe_cluster(agent_module):
    b = agent_module.bootstrap
    a = admin_client(b)  # must outlive its future
    res = a.describe_cluster(request_timeout=15).result(timeout=30)
    assert res.cluster_id, "no cluster id"
    assert len(res.nodes) == 1, res.nodes
    node = res.nodes[0]
    host, port = _host_port(b)
    assert node.id == 0
    assert (node.host, node.port) == (host, port)
    assert res.controller is not None and res.controller.id == 0


def test_cluster_id_consistent_across_clients(agent_module):
    b = agent_module.bootstrap
    a = admin_client(b)
    cfl = a.describe_cluster(request_timeout=15).result(timeout=30)
    admin = kp_admin(b)
    try:
        kp = admin.describe_cluster()
    finally:
        admin.close()
    assert kp["cluster_id"] == cfl.cluster_id
    host, port = _host_port(b)
    assert [(x["broker_id"], x["host"], x["port"]) for x in kp["brokers"]] == [(0, host, port)]
