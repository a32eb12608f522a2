"""Fixtures that run the real ``weft`` agent binary for client tests.

The binary is taken from $WEFT_BIN, defaulting to
$CARGO_TARGET_DIR/release/weft (CARGO_TARGET_DIR defaults to
~/.cache/weft-target), i.e. what ``cargo build --release -p weft`` produces.

Fixtures:
  agent          function-scoped agent in a fresh data dir
  agent_module   module-scoped agent shared by a test module (use unique topics)
  agent_factory  function-scoped factory: agent_factory("--flag", "value", ...)
Every agent is stopped at teardown (SIGTERM, SIGKILL after 10 s). Its combined
stdout/stderr is written to <data_dir>/agent.log and the tail is attached to
the report of any failing test that used it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
KAFKA_ADDR_RE = re.compile(r"kafka_addr=(\S+)")
ADMIN_ADDR_RE = re.compile(r"admin_addr=(\S+)")
DATA_DIR_RE = re.compile(r"data_dir=(\S+)")


def default_weft_bin() -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/weft-target")
    return os.path.join(target, "release", "weft")


def weft_bin_path() -> str:
    return os.environ.get("WEFT_BIN") or default_weft_bin()


def strip_ansi(s: str) -> str:
    return ANSI_RE.sub("", s)


def _clean_value(v: str) -> str:
    return v.strip().strip(",;").strip("\"'")


def _port(addr: Optional[str]) -> int:
    return int(addr.rsplit(":", 1)[1]) if addr else 0


class AgentStartError(RuntimeError):
    pass


class Agent:
    """One ``weft agent`` process bound to one data directory."""

    def __init__(self, binary: str, data_dir: Path, extra_args=(), env: Optional[dict] = None):
        self.binary = binary
        self.data_dir = str(data_dir)
        self.extra_args = [str(a) for a in extra_args]
        self.extra_env = dict(env or {})
        self.log_path = os.path.join(self.data_dir, "agent.log")
        self.proc: Optional[subprocess.Popen] = None
        self.bootstrap: Optional[str] = None
        self.admin: Optional[str] = None
        self.reported_data_dir: Optional[str] = None
        self.starts = 0
        self._pump: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- process management -------------------------------------------------

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
        env["NO_COLOR"] = "1"
        env.setdefault("RUST_BACKTRACE", "1")
        env["RUST_LOG"] = os.environ.get("WEFT_TEST_RUST_LOG", "info")
        env.update(self.extra_env)
        return env

    def _argv(self, kafka_port: int, admin_port: int) -> list:
        # An extra `--listeners` value may name the agent's Kafka port as `{port}`; it then replaces --listen.
        extra = [a.replace("{port}", str(kafka_port)) for a in self.extra_args]
        listen = [] if "--listeners" in extra else ["--listen", f"127.0.0.1:{kafka_port}"]
        # The schema registry's default port (8081) would clash between agents; tests that want it pass it.
        registry = [] if "--schema-registry-listen" in extra else ["--schema-registry-listen", "off"]
        return [self.binary, "agent", *listen, *registry,
                "--admin-listen", f"127.0.0.1:{admin_port}",
                "--data-dir", self.data_dir, *extra]

    def _pump_output(self, proc: subprocess.Popen, log):
        for raw in iter(proc.stdout.readline, b""):
            # Keep draining even when the log cannot be written (a full disk): an undrained pipe would block
            # the agent on its next log line and stall it.
            try:
                log.write(raw)
                log.flush()
            except OSError:
                pass
            if self._ready.is_set():
                continue
            line = strip_ansi(raw.decode("utf-8", "replace"))
            if "agent ready" in line:
                k = KAFKA_ADDR_RE.search(line)
                a = ADMIN_ADDR_RE.search(line)
                d = DATA_DIR_RE.search(line)
                with self._lock:
                    self.bootstrap = _clean_value(k.group(1)) if k else None
                    self.admin = _clean_value(a.group(1)) if a else None
                    self.reported_data_dir = _clean_value(d.group(1)) if d else None
                self._ready.set()
        log.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, kafka_port: Optional[int] = None, admin_port: Optional[int] = None) -> "Agent":
        """Start the agent and wait for its ready line. The first start binds
        free ports; later starts (after stop/kill9) reuse the previous ports so
        clients can reconnect to the same address."""
        if self.running():
            raise AgentStartError("agent already running")
        kp = kafka_port if kafka_port is not None else _port(self.bootstrap)
        ap = admin_port if admin_port is not None else _port(self.admin)
        fixed_ports = kp != 0 or ap != 0
        deadline = time.monotonic() + READY_TIMEOUT
        attempt = 0
        while True:
            attempt += 1
            self._launch(kp, ap)
            outcome = self._wait_ready(deadline)
            if outcome == "ready":
                break
            if outcome == "exited" and fixed_ports and time.monotonic() + 1 < deadline \
                    and self._recently_logged_addr_in_use():
                # The previous incarnation's port can take a moment to free up.
                time.sleep(0.5)
                continue
            rc = self.proc.poll() if self.proc else None
            if outcome == "timeout":
                self._hard_kill()
            raise AgentStartError(
                f"weft agent did not become ready ({outcome}, attempt {attempt}, exit={rc}); "
                f"argv={self._argv(kp, ap)}\n--- agent log tail ---\n{self.log_tail()}")
        self.starts += 1
        if not self.bootstrap:
            raise AgentStartError(f"ready line had no kafka_addr=\n{self.log_tail()}")
        return self

    def _launch(self, kafka_port: int, admin_port: int):
        self._ready.clear()
        log = open(self.log_path, "ab")
        log.write(f"\n===== [test harness] starting agent (start #{self.starts + 1}) "
                  f"at {time.strftime('%H:%M:%S')} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self._argv(kafka_port, admin_port), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self._env(),
            cwd=self.data_dir)
        self._pump = threading.Thread(target=self._pump_output, args=(self.proc, log), daemon=True)
        self._pump.start()

    def _wait_ready(self, deadline: float) -> str:
        while time.monotonic() < deadline:
            if self._ready.wait(0.1):
                return "ready"
            if self.proc.poll() is not None:
                self._join_pump()
                return "ready" if self._ready.is_set() else "exited"
        return "timeout"

    def _recently_logged_addr_in_use(self) -> bool:
        tail = self.log_tail(20).lower()
        return "address already in use" in tail or "addrinuse" in tail

    def _join_pump(self):
        if self._pump is not None:
            self._pump.join(timeout=5)

    def _hard_kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._join_pump()

    def stop(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM; SIGKILL if still alive after ``timeout`` s. Returns the exit
        code (negative = killed by that signal), or None if not running."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._append_log(f"[test harness] agent ignored SIGTERM for {timeout}s; killing")
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._join_pump()
        rc = self.proc.returncode
        self._append_log(f"[test harness] agent exited with {rc}")
        self.proc = None
        return rc

    def kill9(self) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._join_pump()
        rc = self.proc.returncode
        self._append_log(f"[test harness] agent SIGKILLed (exit {rc})")
        self.proc = None
        return rc

    def restart(self) -> Optional[int]:
        """Graceful stop + start on the same data dir and ports. Returns the
        exit code of the stopped incarnation."""
        rc = self.stop()
        self.start()
        return rc

    # -- helpers ------------------------------------------------------------

    def _append_log(self, msg: str):
        try:
            with open(self.log_path, "ab") as f:
                f.write(f"===== {msg} =====\n".encode())
        except OSError:
            pass

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return strip_ansi(f.read().decode("utf-8", "replace"))
        except OSError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def healthz(self, timeout: float = 5.0) -> int:
        with urllib.request.urlopen(f"http://{self.admin}/healthz", timeout=timeout) as r:
            return r.status

    def __repr__(self):
        return f"Agent(bootstrap={self.bootstrap}, admin={self.admin}, data_dir={self.data_dir})"


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def weft_bin() -> str:
    path = weft_bin_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.exit(
            f"weft binary not found at {path}: run `cargo build --release -p weft` "
            f"or set WEFT_BIN", returncode=3)
    return path


def _make_agent(weft_bin, tmp_path_factory, extra_args=(), env=None) -> Agent:
    d = tmp_path_factory.mktemp("weft-data")
    return Agent(weft_bin, d, extra_args, env)


@pytest.fixture
def agent_factory(weft_bin, tmp_path_factory, request):
    """Factory for agents with extra CLI args: ``agent_factory("--x", "1")``.
    Pass ``start=False`` to get an unstarted Agent."""
    made: list = []
    request.node._weft_agents = made

    def make(*extra_args, env=None, start=True) -> Agent:
        a = _make_agent(weft_bin, tmp_path_factory, extra_args, env)
        made.append(a)
        if start:
            a.start()
        return a

    yield make
    for a in made:
        a.stop()


@pytest.fixture
def agent(agent_factory) -> Agent:
    return agent_factory()


@pytest.fixture(scope="module")
def agent_module(weft_bin, tmp_path_factory):
    a = _make_agent(weft_bin, tmp_path_factory)
    a.start()
    yield a
    a.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    agents = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Agent)]
    agents += [a for a in getattr(item, "_weft_agents", []) if a not in agents]
    for a in agents:
        rep.sections.append((f"weft agent log tail ({a.data_dir})", a.log_tail()))
