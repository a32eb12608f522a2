"""The runbooks (docs/runbooks/) and the alert rules that link them (deploy/prometheus/weft-alerts.yml).

- promtool accepts the rules and its unit tests fire every alert;
- every alert links an existing runbook, every runbook is linked by an alert and names it, and the index lists
  every runbook and alert;
- every command in the runbooks' shell blocks is a `weft` or `curl` command: every `weft` command parses with the
  real CLI, and every command but `weft agent` runs successfully against a real agent, placeholders set as the
  runbooks' README says;
- every PromQL query parses (promtool) and names only metrics the agent exports;
- every SQL query runs on a real agent's metastore, and finds what it looks for.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from clientutil import Rec, create_topic, produce_confluent, unique_topic

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
RULES = ROOT / "deploy" / "prometheus" / "weft-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "weft-alerts.test.yml"
METRICS_SOURCE = ROOT / "crates" / "agent" / "src" / "metrics.rs"
INCIDENT_SECTIONS = ("## What it means", "## Impact", "## Diagnose", "## Mitigate", "## Confirm recovery")
PROCEDURES = {"rolling-upgrade.md", "scaling.md"}


# --------------------------------------------------------------------------
# reading the files
# --------------------------------------------------------------------------


def runbook_files() -> list:
    return sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


def code_blocks(path: Path) -> list:
    """[(info string, text)] of the fenced blocks of a markdown file, indentation (list items) removed."""
    blocks, info, indent, lines = [], None, 0, []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if info is None:
            if stripped.startswith("```"):
                info, indent, lines = stripped[3:].strip(), len(line) - len(line.lstrip()), []
            continue
        if stripped == "```":
            blocks.append((info, "\n".join(lines)))
            info = None
            continue
        lines.append(line[indent:] if line[:indent].strip() == "" else line)
    assert info is None, f"{path.name}: unclosed code block"
    return blocks


def blocks_of(kind: str, paths=None) -> list:
    """[(file name, text)] of the blocks whose info string is exactly `kind`."""
    paths = paths if paths is not None else [RUNBOOKS / "README.md", *runbook_files()]
    return [(p.name, text) for p in paths for info, text in code_blocks(p) if info == kind]


def shell_lines(path: Path) -> list:
    """The commands of a file's `sh` blocks, in order (comments and blank lines left out)."""
    out = []
    for info, text in code_blocks(path):
        if info == "sh":
            out += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return out


def alerts() -> dict:
    """{alert name: its rule text} from the rules file, each rule checked to be counted by promtool."""
    text = RULES.read_text()
    parts = re.split(r"^\s*- alert: (\w+)\s*$", text, flags=re.M)
    found = {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}
    assert len(found) == len(parts) // 2, "an alert name is used twice"
    return found


def runbook_url(rule: str) -> str:
    m = re.search(r'^\s*runbook_url: "([^"]+)"\s*$', rule, re.M)
    return m.group(1) if m else ""


def described_metrics() -> set:
    """Metrics the agent declares; counters of failures appear in a scrape only from their first event."""
    text = METRICS_SOURCE.read_text()
    return set(re.findall(r'describe_(?:counter|gauge|histogram)!\(\s*"([a-z_]+)"', text))


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: scripts/setup-test-deps.sh installs Debian's prometheus package"
    return path


# --------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------


def test_promtool_checks_the_rules_and_their_unit_tests_pass():
    r = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"SUCCESS: (\d+) rules found", r.stdout)
    assert m and int(m.group(1)) == len(alerts()), (r.stdout, sorted(alerts()))
    r = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                       timeout=120, cwd=RULE_TESTS.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_every_alert_fires_in_a_unit_test():
    text = RULE_TESTS.read_text()
    fired = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels:", text))
    assert fired, "no firing case in the unit tests"
    assert not sorted(set(alerts()) - fired), "alerts no unit test fires"
    assert not sorted(fired - set(alerts())), "unit tests of alerts that do not exist"


def test_every_alert_links_an_existing_runbook_and_every_runbook_is_linked():
    linked = {}
    for name, rule in alerts().items():
        url = runbook_url(rule)
        assert url.startswith("docs/runbooks/") and url.endswith(".md"), f"{name}: runbook_url {url!r}"
        path = ROOT / url
        assert path.is_file(), f"{name}: {url} does not exist"
        assert path.name != "README.md", f"{name} links the index, not a runbook"
        assert name in path.read_text(), f"{url} does not name {name}, which links it"
        linked.setdefault(path.name, []).append(name)
    unlinked = [p.name for p in runbook_files() if p.name not in linked]
    assert not unlinked, f"runbooks no alert links: {unlinked}"
    index = (RUNBOOKS / "README.md").read_text()
    for page, names in linked.items():
        assert f"]({page})" in index, f"README.md does not list {page}"
        for n in names:
            assert n in index, f"README.md does not list {n}"


def test_runbooks_have_their_sections():
    for p in runbook_files():
        text = p.read_text()
        want = ("## Confirm",) if p.name in PROCEDURES else INCIDENT_SECTIONS
        for heading in want:
            assert heading in text, f"{p.name} lacks {heading!r}"
        assert "README.md" in text, f"{p.name} does not point at the placeholders"


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------


def all_shell_lines() -> list:
    return [(p.name, line) for p in [RUNBOOKS / "README.md", *runbook_files()] for line in shell_lines(p)]


def test_shell_blocks_hold_only_weft_and_curl_commands():
    lines = all_shell_lines()
    assert len(lines) >= 40, len(lines)
    odd = [(f, ln) for f, ln in lines if not re.match(r"(weft|curl|export) ", ln)]
    assert not odd, odd
    placeholders = {m for _, ln in lines for m in re.findall(r"\$([A-Z_]+)", ln)}
    assert placeholders <= {"BOOTSTRAP", "ADMIN", "TOPIC", "GROUP", "PARTITION"}, placeholders


PLACEHOLDER_VALUES = {"BOOTSTRAP": "127.0.0.1:1", "ADMIN": "127.0.0.1:1", "TOPIC": "orders", "GROUP": "orders-app",
                      "PARTITION": "0", "METASTORE": "postgres://weft@127.0.0.1:1/weft"}


def test_every_weft_command_parses(weft_bin):
    """Arguments before `--help` are parsed and checked (names, values) by clap; a bad one exits with 2."""
    commands = [ln for _, ln in all_shell_lines() if ln.startswith("weft ")]
    assert len(commands) >= 30, len(commands)
    for line in commands:
        head = line.split(" | ")[0]
        argv = shlex.split(re.sub(r"\$([A-Z_]+)", lambda m: PLACEHOLDER_VALUES[m.group(1)], head))
        r = subprocess.run([weft_bin, *argv[1:], "--help"], capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
        assert r.returncode == 0 and not r.stderr, (line, r.returncode, r.stderr)
        assert "Usage: weft" in r.stdout or r.stdout.startswith("weft "), (line, r.stdout[:300])


@pytest.fixture(scope="module")
def cli_path(weft_bin, tmp_path_factory) -> str:
    """A PATH on which `weft` is the binary under test."""
    d = tmp_path_factory.mktemp("bin")
    os.symlink(weft_bin, d / "weft")
    return f"{d}:/usr/bin:/bin"


def run_line(line: str, env: dict, path: str) -> subprocess.CompletedProcess:
    full = {"PATH": path, "NO_COLOR": "1", "HOME": os.environ.get("HOME", "/root"), **env}
    return subprocess.run(["bash", "-c", f"set -euo pipefail; {line}"], capture_output=True, text=True,
                          timeout=90, env=full)


@pytest.fixture(scope="module")
def readme_done(agent_module, cli_path):
    """Runs the README's commands (the canary topic) once."""
    env = {"BOOTSTRAP": agent_module.bootstrap, "ADMIN": agent_module.admin}
    for line in shell_lines(RUNBOOKS / "README.md"):
        if line.startswith("export "):
            continue
        r = run_line(line, env, cli_path)
        assert r.returncode == 0, (line, r.stdout[-2000:], r.stderr[-2000:])
    return env


def setup_cluster_state(bootstrap: str) -> dict:
    """A topic with keyed records on two of three partitions and a group with committed offsets behind them."""
    topic, group = unique_topic("rb"), unique_topic("rb-g")
    create_topic(bootstrap, topic, partitions=3)
    recs = [Rec(0, f"k{i % 3}".encode(), f"v{i}".encode()) for i in range(40)]
    recs += [Rec(1, b"k9", f"w{i}".encode()) for i in range(5)]
    produce_confluent(bootstrap, topic, recs, acks="all")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 2)], asynchronous=False)
    c.close()
    return {"TOPIC": topic, "GROUP": group, "PARTITION": "0"}


@pytest.mark.parametrize("page", [p.name for p in runbook_files()])
def test_runbook_commands_run_against_a_live_agent(agent_module, readme_done, cli_path, page):
    env = {**readme_done, **setup_cluster_state(agent_module.bootstrap)}
    ran = 0
    for line in shell_lines(RUNBOOKS / page):
        if line.startswith("export ") or line.startswith("weft agent "):
            continue
        r = run_line(line, env, cli_path)
        assert r.returncode == 0, (line, r.stdout[-2000:], r.stderr[-2000:])
        assert r.stdout.strip(), f"{line}: printed nothing"
        if line.startswith("curl "):
            assert "not ready" not in r.stdout, (line, r.stdout)
        ran += 1
    assert ran >= 2, f"{page}: {ran} commands"


def test_hot_partition_key_count_names_the_hot_key(agent_module, readme_done, cli_path):
    """The runbook's key-frequency pipeline puts the most frequent key of the partition first."""
    env = {**readme_done, **setup_cluster_state(agent_module.bootstrap)}
    produce_confluent(agent_module.bootstrap, env["TOPIC"], [Rec(0, b"hot", b"x") for _ in range(50)], acks="all")
    line = next(ln for ln in shell_lines(RUNBOOKS / "hot-partition.md") if "uniq -c" in ln)
    r = run_line(line, env, cli_path)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0].split()
    assert first == ["50", "hot"], r.stdout


# --------------------------------------------------------------------------
# PromQL
# --------------------------------------------------------------------------


def promql_queries() -> list:
    return blocks_of("promql")


def test_promql_queries_parse(tmp_path):
    """Each query becomes a recording rule, which promtool parses."""
    queries = promql_queries()
    assert len(queries) >= 25, len(queries)
    lines = ["groups:", "  - name: runbooks", "    rules:"]
    for i, (_, q) in enumerate(queries):
        # A single-quoted YAML scalar: a quote inside is doubled.
        lines += [f"      - record: runbook_query_{i}", "        expr: '" + q.strip().replace("'", "''") + "'"]
    path = tmp_path / "queries.yml"
    path.write_text("\n".join(lines) + "\n")
    r = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + path.read_text()
    assert f"SUCCESS: {len(queries)} rules found" in r.stdout, r.stdout


def scrape(agent) -> set:
    with urllib.request.urlopen(f"http://{agent.admin}/metrics", timeout=10) as r:
        text = r.read().decode()
    names = set()
    for line in text.splitlines():
        # A sample, or a family's type line (a family the agent renders with no sample at the moment).
        m = re.match(r"(?:# TYPE )?([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if m and (line.startswith("# TYPE ") or not line.startswith("#")):
            name = m.group(1)
            names.add(name)
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix):
                    names.add(name[: -len(suffix)])
    return names


def test_promql_names_only_metrics_the_agent_exports(agent_module, readme_done):
    setup_cluster_state(agent_module.bootstrap)
    exported, described = scrape(agent_module), described_metrics()
    used = set()
    for _, q in promql_queries():
        used |= set(re.findall(r"\b((?:weft|process)_[a-z_]+)", q))
    assert len(used) >= 20, used
    unknown = sorted(m for m in used if m not in exported and m not in described)
    assert not unknown, f"named in runbooks, neither exported nor declared by the agent: {unknown}"
    # Most of them are in a scrape of a fresh agent with a little traffic.
    assert len(used & exported) >= len(used) - 6, sorted(used - exported)


# --------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------


def sql_text(query: str, env: dict) -> str:
    return re.sub(r"\$([A-Z_]+)", lambda m: env[m.group(1)].replace("'", "''"), query)


def run_sqlite(agent, query: str) -> subprocess.CompletedProcess:
    """The query on the agent's SQLite metastore, read-only, as the `sqlite3` shell would answer it."""
    db = Path(agent.data_dir) / "meta.db"
    assert db.is_file(), db
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            rows = conn.execute(query).fetchall()
    except sqlite3.Error as e:
        return subprocess.CompletedProcess(query, 1, "", str(e))
    out = "".join("|".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    return subprocess.CompletedProcess(query, 0, out, "")


def check_sql_queries(agent, run) -> None:
    """Runs every `sql` block through `run(query)` on `agent`'s metastore with an open transaction and a group's
    offsets in it, and checks the queries find them."""
    env = setup_cluster_state(agent.bootstrap)
    tid = unique_topic("rb-tid")
    p = Producer({"bootstrap.servers": agent.bootstrap, "transactional.id": tid})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(env["TOPIC"], value=b"open", partition=2)
    assert p.flush(30) == 0
    try:
        queries = blocks_of("sql")
        assert len(queries) >= 10, len(queries)
        outputs = {}
        for page, q in queries:
            r = run(sql_text(q, env))
            assert r.returncode == 0 and not r.stderr, (page, q, r.stderr)
            outputs[q] = r.stdout
    finally:
        p.abort_transaction(30)
    for q, out in outputs.items():
        if "'$GROUP'" in q:
            assert env["TOPIC"] in out, (q, out)
        if "FROM transactions" in q:
            assert tid in out and "Ongoing" in out, (q, out)
        if "FROM open_txns" in q:
            assert env["TOPIC"] in out, (q, out)
        if "FROM agents" in q or "FROM leases" in q or "FROM weft_schema" in q or "FROM objects" in q:
            assert out.strip(), (q, "no rows")


def test_sql_queries_run_on_the_sqlite_metastore(agent_module, readme_done):
    check_sql_queries(agent_module, lambda q: run_sqlite(agent_module, q))


def postgres_url() -> str:
    url = os.environ.get("WEFT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("WEFT_TEST_POSTGRES_URL not set")
    assert shutil.which("psql"), "psql missing"
    return url


def run_psql(url: str, query: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-c", query], capture_output=True,
                          text=True, timeout=30)


def test_sql_queries_run_on_a_postgresql_metastore(agent_factory):
    server = postgres_url()
    db = unique_topic("runbooks").replace("-", "_")
    r = run_psql(server, f"CREATE DATABASE {db}")
    assert r.returncode == 0, r.stderr
    url = server.rsplit("/", 1)[0] + "/" + db
    agent = agent_factory("--metastore", url)
    check_sql_queries(agent, lambda q: run_psql(url, q))


def test_postgres_only_queries_run_on_postgresql():
    queries = blocks_of("sql postgres")
    assert queries
    url = postgres_url()
    for page, q in queries:
        r = run_psql(url, q)
        assert r.returncode == 0 and r.stdout.strip(), (page, q, r.stderr)
