"""/metrics under real client traffic, and the shipped dashboard and alert rules.

Scrapes the agent's admin listener before and after confluent-kafka traffic
(produce, consume, a consumer group, a transaction, an out-of-range fetch) and
checks that the counters moved by what was done; then checks that every metric
the Grafana dashboard and the Prometheus rules reference is really exported, and
that promtool accepts the rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from clientutil import consume_confluent, create_topic, produce_confluent, Rec, unique_topic, wait_for

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "weft-overview.json"
RULES = ROOT / "deploy" / "prometheus" / "weft-alerts.yml"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def scrape(agent) -> dict:
    """{(name, frozenset(labels)): value} from the agent's /metrics."""
    with urllib.request.urlopen(f"http://{agent.admin}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unparseable exposition line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def total(samples: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def names(samples: dict) -> set:
    out = set()
    for n, _ in samples:
        out.add(n)
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix):
                out.add(n[: -len(suffix)])
    return out


@pytest.fixture(scope="module")
def traffic(agent_module):
    """Runs a little of everything once; returns (before, after, topic, group, live group)."""
    b = agent_module.bootstrap
    before = scrape(agent_module)
    topic = unique_topic("metrics")
    group = unique_topic("metrics-g")
    create_topic(b, topic, partitions=2)
    produce_confluent(b, topic, [Rec(i % 2, None, f"v{i}".encode()) for i in range(100)], acks="all")
    got = consume_confluent(b, topic, [0, 1], min_count=100)
    assert len(got) == 100
    # A group that commits half of partition 0: lag must show the rest.
    c = Consumer({"bootstrap.servers": b, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
    c.close()
    # One committed transaction.
    p = Producer({"bootstrap.servers": b, "transactional.id": unique_topic("metrics-tid")})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, value=b"txn", partition=1)
    p.commit_transaction(30)
    # A fetch beyond the end: OFFSET_OUT_OF_RANGE (error code 1) is counted.
    oor = Consumer({"bootstrap.servers": b, "group.id": unique_topic("oor"), "auto.offset.reset": "earliest"})
    oor.assign([TopicPartition(topic, 0, 1_000_000)])
    for _ in range(10):
        oor.poll(0.3)
    oor.close()
    # A live group member (classic protocol): members and rebalances are exported while it is joined.
    live = unique_topic("metrics-live")
    member = Consumer({"bootstrap.servers": b, "group.id": live, "auto.offset.reset": "earliest"})
    member.subscribe([topic])
    wait_for(lambda: member.poll(0.2) is not None or member.assignment(), timeout=30, desc="group assignment")
    try:
        after = wait_for(lambda: _scrape_when_counted(agent_module), timeout=15, desc="fetch error counted")
    finally:
        member.close()
    return before, after, topic, group, live


def _scrape_when_counted(agent):
    s = scrape(agent)
    return s if total(s, "weft_request_errors_total", api="Fetch", code="1") > 0 else None


def test_counters_move_with_client_traffic(traffic):
    before, after, topic, group, _live = traffic
    assert total(after, "weft_records_in_total", topic=topic) == 101
    assert total(after, "weft_bytes_in_total", topic=topic) > 100 * 2
    assert total(after, "weft_records_out_total", topic=topic) >= 100
    assert total(after, "weft_bytes_out_total", topic=topic) > 0
    for api in ("Produce", "Fetch", "Metadata", "CreateTopics", "OffsetCommit", "InitProducerId", "EndTxn"):
        assert total(after, "weft_requests_total", api=api) > total(before, "weft_requests_total", api=api), api
    assert total(after, "weft_request_duration_seconds_count", api="Produce") > 0
    assert total(after, "weft_connections_total") > total(before, "weft_connections_total")
    assert total(after, "weft_flush_size_bytes_count") > total(before, "weft_flush_size_bytes_count")
    assert total(after, "weft_object_store_requests_total", op="put", result="ok") > \
        total(before, "weft_object_store_requests_total", op="put", result="ok")
    assert total(after, "weft_metastore_transaction_duration_seconds_count", op="commit_segment") > 0
    assert total(after, "weft_cache_requests_total") > 0
    assert total(after, "weft_transactions_total", result="committed") >= 1
    assert total(after, "weft_request_errors_total", api="Fetch", code="1") >= 1


def test_consumer_lag_is_high_watermark_minus_committed(traffic):
    _before, after, topic, group, _live = traffic
    assert total(after, "weft_consumer_group_lag", group=group, topic=topic, partition="0") == 50 - 10


def test_topic_storage_and_offsets_are_exported(traffic):
    _before, after, topic, _group, _live = traffic
    assert total(after, "weft_partition_log_end_offset", topic=topic, partition="0") == 50
    assert total(after, "weft_partition_log_start_offset", topic=topic, partition="0") == 0
    assert total(after, "weft_topic_stored_bytes", topic=topic) > 50 * 10
    assert total(after, "weft_topic_objects", topic=topic) >= 1
    assert total(after, "weft_maintenance_runs_total", job="gc", result="ok") >= 1


def test_group_membership_metrics(agent_module, traffic):
    _before, after, _topic, _group, live = traffic
    assert total(after, "weft_consumer_group_members", group=live) == 1
    assert total(after, "weft_consumer_group_rebalances_total", group=live) >= 1
    # Once the member has left, the group is no longer reported at its last value.
    wait_for(lambda: total(scrape(agent_module), "weft_consumer_group_members", group=live) == 0,
             timeout=15, desc="departed member no longer counted")


def test_process_metrics(traffic):
    _before, after, _topic, _group, _live = traffic
    assert total(after, "process_resident_memory_bytes") > 1_000_000
    assert total(after, "process_cpu_seconds_total") > 0
    assert total(after, "process_open_fds") > 0


def referenced_metrics(text: str) -> set:
    return set(re.findall(r"\b((?:weft|process)_[a-z_]+)", text))


def declared_metrics() -> set:
    """Metrics the agent declares (crates/agent/src/metrics.rs): counters of failures (metastore errors, accept
    errors) and gauges such as the registry's agent count appear in a scrape only from their first event."""
    text = (ROOT / "crates" / "agent" / "src" / "metrics.rs").read_text()
    return set(re.findall(r'describe_(?:counter|gauge|histogram)!\(\s*"([a-z_]+)"', text))


def test_dashboard_and_rules_reference_only_exported_metrics(traffic):
    _before, after, _topic, _group, _live = traffic
    exported = names(after)
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    graphed, alerted = referenced_metrics(exprs), referenced_metrics(RULES.read_text())
    assert len(graphed | alerted) >= 15, graphed | alerted
    missing = sorted(m for m in graphed if m not in exported)
    assert not missing, f"graphed but not exported: {missing}"
    # Alerts also watch series that exist only once something failed; the agent must declare those.
    missing = sorted(m for m in alerted if m not in exported and m not in declared_metrics())
    assert not missing, f"alerted on but neither exported nor declared: {missing}"
    assert len(alerted & exported) >= len(alerted) - 6, sorted(alerted - exported)


def test_exposition_passes_promtool_lint(agent_module, traffic):
    """Every family has help text and a valid type; names follow Prometheus conventions."""
    with urllib.request.urlopen(f"http://{agent_module.admin}/metrics", timeout=10) as r:
        text = r.read()
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-test-deps.sh installs Debian's prometheus package"
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert res.returncode == 0, (res.stdout + res.stderr).decode()


def test_promtool_accepts_the_rules():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-test-deps.sh installs Debian's prometheus package"
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
