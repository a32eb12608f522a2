"""`weft bench --scenario` end to end: the real binary runs the shipped `steady-1k` scenario, shortened, against
a real agent, and the report it leaves (report.json, report.html) is read back; plus `weft bench scenarios`,
`weft bench compare` and the error a bad scenario file gives. Only counts are asserted, never timings."""

from __future__ import annotations

import json

from cliutil import failure, run
from clientutil import list_topics

TIMEOUT = 180


def _sum(report, field):
    return sum(i[field] for i in report["intervals"])


def test_scenarios_lists_the_shipped_ones(weft_bin):
    out = run(weft_bin, None, "bench", "scenarios").stdout.decode()
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    for name in ["steady-1k", "fan-out", "many-partitions", "large-records", "latency-slo"]:
        assert name in names, out
    assert all(len(line.split(None, 1)) == 2 for line in out.splitlines()), "every scenario has a description"


def test_steady_1k_runs_short_and_writes_its_report(weft_bin, agent, tmp_path):
    out_dir = tmp_path / "steady"
    cp = run(weft_bin, None, "bench", "--bootstrap-servers", agent.bootstrap, "--scenario", "steady-1k",
             "--duration-secs", "3", "--warmup-secs", "1", "--report-dir", str(out_dir),
             "--metrics-url", f"http://{agent.admin}/metrics", "--json", timeout=TIMEOUT)
    printed = json.loads(cp.stdout)
    report = json.loads((out_dir / "report.json").read_text())
    assert printed == report, "--json prints the report"
    assert (out_dir / "report.html").read_text().lower().startswith("<!doctype html")

    assert report["version"] == 2 and report["scenario"] == "steady-1k"
    assert report["target"]["bootstrap_servers"] == agent.bootstrap
    assert report["target"]["metrics_url"] == f"http://{agent.admin}/metrics"
    assert report["settings"]["duration_secs"] == "3" and report["settings"]["producers[0].rate"] == "5000"
    assert len(report["intervals"]) >= 4, "one interval a second, warmup included"
    produced, consumed = _sum(report, "produced_records"), _sum(report, "consumed_records")
    assert produced > 0 and consumed == produced, (produced, consumed)
    assert _sum(report, "produced_bytes") >= produced * 1024
    assert _sum(report, "produce_errors") == 0
    assert report["histograms"]["produce_ack"] and report["histograms"]["end_to_end"]
    assert report["steps"] == [] and report["sustainable_records_per_sec"] is None, "no ramp"
    assert report["bottleneck"] is not None
    topic = report["settings"]["topics[0].created_as"]
    assert topic.startswith("weft-bench-steady-1k-steady-")
    assert topic not in list_topics(agent.bootstrap), "the run's topic is deleted at the end"

    compare_html = tmp_path / "compare.html"
    run(weft_bin, None, "bench", "compare", str(out_dir / "report.json"), str(out_dir / "report.json"),
        "--html", str(compare_html))
    assert compare_html.exists()


def test_a_bad_scenario_file_names_the_file_and_key(weft_bin, agent, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\nname = "bad"\nduration_secs = 5\n[[topics]]\nname = "t"\n'
                   '[[producers]]\nrate = 0\n')
    err = failure(run(weft_bin, None, "bench", "--bootstrap-servers", agent.bootstrap, "--scenario", str(bad),
                      ok=False))
    assert "bad.toml" in err and "producers[0].rate" in err, err
    bad.write_text('version = 1\nname = "bad"\nduration_secs = 5\nspeed = 3\n')
    err = failure(run(weft_bin, None, "bench", "--scenario", str(bad), ok=False))
    assert "bad.toml" in err and "speed" in err, err
    err = failure(run(weft_bin, None, "bench", "--scenario", "no-such-scenario", ok=False))
    assert "no-such-scenario" in err and "steady-1k" in err, err
