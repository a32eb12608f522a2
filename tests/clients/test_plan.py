"""`weft plan` against a running agent process: confluent-kafka produces and consumes between the
planner's two scrapes of /metrics, and the plan's workload is what was observed; bad input is refused
with the input's name and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import time

from clientutil import Rec, consume_confluent, create_topic, produce_confluent, unique_topic

RECORDS = 300
VALUE = b"p" * 1000


def test_plan_from_metrics_observes_the_traffic(agent, weft_bin):
    topic = unique_topic("plan")
    create_topic(agent.bootstrap, topic, partitions=2)
    planner = subprocess.Popen(
        [weft_bin, "plan", "--from-metrics", f"http://{agent.admin}/metrics", "--sample-secs", "8", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # after the first scrape
        recs = [Rec(partition=i % 2, key=None, value=VALUE) for i in range(RECORDS)]
        results = produce_confluent(agent.bootstrap, topic, recs, **{"compression.type": "none"})
        assert all(err is None for err, _, _ in results)
        got = consume_confluent(agent.bootstrap, topic, [0, 1], min_count=RECORDS)
        assert len(got) == RECORDS
        out, err = planner.communicate(timeout=60)
    finally:
        if planner.poll() is None:
            planner.kill()
    assert planner.returncode == 0, err
    report = json.loads(out)
    observed = report["observed"]
    secs = observed["sample_secs"]
    assert 8 <= secs < 30
    assert abs(observed["records_in_per_sec"] * secs - RECORDS) < 1e-6 * RECORDS
    bytes_in = observed["bytes_in_per_sec"] * secs
    # Each record's 1000-byte value, plus its record and batch framing.
    assert RECORDS * len(VALUE) < bytes_in < RECORDS * len(VALUE) * 1.1
    # Everything produced was read once inside the window: fan-out 1.
    assert abs(observed["bytes_out_per_sec"] * secs - bytes_in) < 1e-6 * bytes_in
    workload = report["workload"]
    assert abs(workload["write_bytes_per_sec"] - observed["bytes_in_per_sec"]) < 1e-9 * bytes_in
    assert abs(workload["fan_out"] - 1.0) < 1e-9
    assert abs(report["inputs"]["record_bytes"] - bytes_in / RECORDS) < 1e-6


def test_plan_refuses_bad_input(weft_bin):
    r = subprocess.run([weft_bin, "plan", "--write-mb-per-sec", "50", "--fan-out", "-1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "invalid input: fan-out -1 must be a finite number >= 0" in r.stderr
    r = subprocess.run([weft_bin, "plan", "--write-mb-per-sec", "50", "--partitions", "0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "invalid input: partitions 0 must be at least 1" in r.stderr


def test_plan_warns_when_other_zones_segments_fill_an_agent(weft_bin):
    # 300 MB/s over 3 zones: every agent takes in 200 MB/s of the other zones' segments whatever the
    # agent count, more than the 136.5 MB/s its 195 MB/s network carries with 30% headroom.
    r = subprocess.run([weft_bin, "plan", "--write-mb-per-sec", "300", "--zones", "3", "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    agents = plan["weft"]["agents"]
    assert agents["network_load"] is None
    assert abs(agents["segment_in_bytes_per_sec"] - 200e6) < 1.0
    assert any(w.startswith("weft: each agent takes in 200000000 B/s of the other zones' segments")
               for w in plan["warnings"]), plan["warnings"]
    # In one zone nothing comes from another zone: no warning, and the network has a load.
    r = subprocess.run([weft_bin, "plan", "--write-mb-per-sec", "300", "--zones", "1", "--json"],
                       capture_output=True, text=True, timeout=30)
    plan = json.loads(r.stdout)
    assert plan["weft"]["agents"]["network_load"] > 0
    assert not any("other zones' segments" in w for w in plan["warnings"])
