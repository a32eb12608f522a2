"""kafka-python 3.0 pinned to old brokers (``api_version=(0, 8, 1)`` ... ``(0, 11, 0)``) sends the request
versions Kafka 4 removed (KIP-896) and Kafka 3.9 served: CreateTopics v0, DescribeConfigs v0, ListOffsets v0,
OffsetCommit v0-1, OffsetFetch v0, DeleteTopics v0. The agent's request counters prove those versions were
the ones used. (Sarama 1.22 is in test_sarama.py.)"""

from __future__ import annotations

import re
import urllib.request

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from clientutil import Rec, produce_confluent, unique_topic

import pytest


def requests_by_version(agent) -> dict:
    """{(api, version): count} from the agent's weft_requests_total."""
    with urllib.request.urlopen(f"http://{agent.admin}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r'^weft_requests_total\{api="(\w+)",version="(\d+)"\} (\d+)', text, re.M):
        out[(m.group(1), int(m.group(2)))] = int(m.group(3))
    return out


def test_kafka_python_pinned_to_old_brokers(agent):
    b, t = agent.bootstrap, unique_topic("old-versions")
    admin = KafkaAdminClient(bootstrap_servers=b, api_version=(0, 10, 1))
    try:
        admin.create_topics([NewTopic(t, 1, 1, topic_configs={"retention.ms": "3600000"})])
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(t, 1, 1)], raise_errors=True)
    finally:
        admin.close()

    admin = KafkaAdminClient(bootstrap_servers=b, api_version=(0, 11, 0))
    try:
        # The default filter keeps the values that are not defaults: v0's is_default must be right.
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t)])
        assert set(described["topic"][t]) == {"retention.ms"}, described
        assert described["topic"][t]["retention.ms"]["value"] == "3600000"
    finally:
        admin.close()

    for err, _, _ in produce_confluent(b, t, [Rec(partition=0, key=None, value=b"%d" % i) for i in range(7)]):
        assert err is None, err
    tp = TopicPartition(t, 0)
    c = KafkaConsumer(bootstrap_servers=b, api_version=(0, 10, 0), group_id=unique_topic("g"),
                      enable_auto_commit=False)
    try:
        assert c.end_offsets([tp]) == {tp: 7}
        assert c.beginning_offsets([tp]) == {tp: 0}
    finally:
        c.close()

    for api_version, offset in (((0, 8, 1), 3), ((0, 8, 2), 5)):
        c = KafkaConsumer(bootstrap_servers=b, api_version=api_version, group_id=f"old-group-{api_version[2]}",
                          enable_auto_commit=False)
        try:
            c.commit({tp: OffsetAndMetadata(offset, "meta", -1)})
            assert c.committed(tp) == offset
        finally:
            c.close()

    admin = KafkaAdminClient(bootstrap_servers=b, api_version=(0, 10, 1))
    try:
        admin.delete_topics([t])
    finally:
        admin.close()
    assert t not in KafkaAdminClient(bootstrap_servers=b).list_topics()

    used = requests_by_version(agent)
    for api, version in [("CreateTopics", 0), ("DescribeConfigs", 0), ("ListOffsets", 0), ("OffsetCommit", 0),
                         ("OffsetFetch", 0), ("OffsetCommit", 1), ("DeleteTopics", 0)]:
        assert used.get((api, version), 0) >= 1, f"{api} v{version} not used: {sorted(used)}"
