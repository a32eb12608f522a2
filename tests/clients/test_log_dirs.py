"""DescribeLogDirs, which kafka-ui and AKHQ call to show sizes: one log dir
named by the object store, each partition's stored bytes, unknown volume sizes."""

from __future__ import annotations

from clientutil import Rec, create_topic, kp_admin, produce_confluent, unique_topic


def _partitions(result) -> dict:
    """{(topic, partition): size} from kafka-python's describe_log_dirs answer."""
    out = {}
    for broker in result:
        for d in broker["log_dirs"]:
            for t in d["topics"]:
                for p in t["partitions"]:
                    out[(t["name"], p["partition_index"])] = p["partition_size"]
    return out


def test_log_dirs_report_stored_bytes_per_partition(agent_module):
    b = agent_module.bootstrap
    topic = unique_topic("logdirs")
    create_topic(b, topic, partitions=2)
    produce_confluent(b, topic, [Rec(0, None, b"x" * 1000) for _ in range(20)], acks="all")
    admin = kp_admin(b)
    try:
        everything = admin.describe_log_dirs()
        dirs = [d for broker in everything for d in broker["log_dirs"]]
        assert len(dirs) == 1 and dirs[0]["error_code"] == 0
        assert dirs[0]["log_dir"].startswith("file://"), dirs[0]["log_dir"]
        sizes = _partitions(everything)
        assert sizes[(topic, 0)] > 20 * 1000, sizes
        assert sizes[(topic, 1)] == 0
        only = _partitions(admin.describe_log_dirs({topic: [1]}))
        assert only == {(topic, 1): 0}
    finally:
        admin.close()
