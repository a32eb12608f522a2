"""Bounded resources and honest readiness, with real processes.

- connections.max.idle.ms closes an idle connection, never one with a long-poll fetch in flight;
- a half-sent request frame is closed after the request read timeout;
- queued.max.request.bytes bounds the memory of frames being read (VmSize, from /proc);
- the admin HTTP port, flooded, cannot starve the Kafka port of file descriptors;
- /readyz reflects whether writes work (uploads failing, a read-only metastore, a deleted -wal file),
  and nothing acknowledged is lost when the -wal file is deleted under a running agent.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import KafkaException

import rawkafka
from clientutil import (
    Rec,
    consume_confluent,
    consumer,
    create_topic,
    produce_confluent,
    producer,
    unique_topic,
    wait_for,
)
from conftest import Agent


def _readyz(agent, timeout=5.0):
    try:
        with urllib.request.urlopen(f"http://{agent.admin}/readyz", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def _kib(pid: int, field: str) -> int:
    return int(_status(pid)[field].split()[0])


def _produce_one(bootstrap, topic, value=b"v", timeout=20.0, **conf):
    """One record with acks=all; returns the delivery error (None when acknowledged)."""
    p = producer(bootstrap, **{"message.timeout.ms": int(timeout * 1000), **conf})
    out = []
    p.produce(topic, value=value, on_delivery=lambda err, msg: out.append((err, msg.offset())))
    p.flush(timeout + 5)
    assert out, "no delivery report"
    return out[0][0]


# ---------------------------------------------------------------------------
# connections.max.idle.ms and the request read timeout
# ---------------------------------------------------------------------------


def test_idle_connection_is_closed_but_a_long_polling_consumer_is_not(agent_factory):
    a = agent_factory("--connections-max-idle-ms", "2000")
    topic = unique_topic("idle")
    create_topic(a.bootstrap, topic)

    idle = rawkafka.RawConn(a.bootstrap)
    rawkafka.api_versions(idle)

    stats = []
    c = consumer(a.bootstrap, **{"fetch.wait.max.ms": 5000, "statistics.interval.ms": 500,
                                 "stats_cb": lambda s: stats.append(json.loads(s)),
                                 "enable.partition.eof": False})
    from confluent_kafka import TopicPartition
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    started = time.monotonic()
    sent = 0
    closed_at = None
    p = producer(a.bootstrap)
    while time.monotonic() - started < 9:
        if time.monotonic() - started > sent * 2:
            p.produce(topic, value=f"m{sent}".encode())
            p.flush(10)
            sent += 1
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value())
        if closed_at is None and idle.wait_closed(0.01):
            closed_at = time.monotonic() - started
    c.poll(1.0)
    assert closed_at is not None and closed_at < 6, f"idle connection still open after 9 s (closed at {closed_at})"
    wait_for(lambda: "closing idle connection" in a.log_text(), timeout=5)

    # The consumer's broker connection always had a fetch in flight (fetch.wait.max.ms > idle timeout):
    # it was never closed, and every record produced meanwhile arrived.
    brokers = stats[-1]["brokers"]
    node = [b for name, b in brokers.items() if name.endswith("/0")]
    assert node, brokers.keys()
    assert node[0]["disconnects"] == 0, node[0]
    deadline = time.monotonic() + 10
    while len(got) < sent and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    assert got == [f"m{i}".encode() for i in range(sent)]
    c.close()


def test_half_sent_frame_is_closed_after_the_request_read_timeout(agent_factory):
    a = agent_factory("--request-read-timeout-ms", "1500")
    conn = rawkafka.RawConn(a.bootstrap)
    conn.send(struct.pack(">i", 100) + b"\x00\x12")  # 2 of 100 body bytes, then nothing
    started = time.monotonic()
    assert conn.wait_closed(10), "a connection that stopped mid-frame was still open after 10 s"
    assert time.monotonic() - started < 6
    wait_for(lambda: "request frame not completed in time" in a.log_text(), timeout=5)
    # A prompt client on another connection is unaffected.
    with rawkafka.RawConn(a.bootstrap) as ok:
        assert rawkafka.api_versions(ok)["error_code"] == 0


def test_frames_streamed_back_to_back_each_get_the_full_read_timeout(agent_factory):
    # Each send finishes one frame and starts the next, so part of a frame is always buffered; the read
    # timeout applies per frame, not to the stream.
    a = agent_factory("--request-read-timeout-ms", "1000")
    conn = rawkafka.RawConn(a.bootstrap)
    req = rawkafka.frame(rawkafka.request_header(rawkafka.API_VERSIONS, 0, 7) + b"")
    conn.send(req[:3])
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < 3.5:
        time.sleep(0.25)
        conn.send(req[3:] + req[:3])
        conn.sock.settimeout(5)
        conn.recv_frame()
        answered += 1
    assert answered >= 10
    conn.send(req[3:])
    conn.recv_frame()
    conn.close()


# ---------------------------------------------------------------------------
# queued.max.request.bytes
# ---------------------------------------------------------------------------


def test_huge_announced_frames_do_not_reserve_memory_beyond_the_budget(agent_factory):
    budget = 200 * 1024 * 1024
    a = agent_factory("--queued-max-request-bytes", str(budget))
    pid = a.proc.pid
    topic = unique_topic("budget")
    create_topic(a.bootstrap, topic)
    assert _produce_one(a.bootstrap, topic) is None
    before = _kib(pid, "VmSize")

    hogs = []
    for _ in range(40):
        host, port = a.bootstrap.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
        s.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\x00" * 16)
        hogs.append(s)
    time.sleep(1.5)
    grown_mib = (_kib(pid, "VmSize") - before) / 1024
    # Before the budget: 40 x 100 MiB = 4000 MiB of address space reserved at once.
    assert grown_mib < budget / 1024 / 1024 + 300, f"VmSize grew by {grown_mib:.0f} MiB"

    # Small requests never wait behind large ones: a producer works while the budget is exhausted.
    assert _produce_one(a.bootstrap, topic, b"while-hogged") is None
    for s in hogs:
        s.close()
    # Once they are gone a large request (above the 64 KiB read without reservation) goes through.
    big = b"x" * 300_000
    assert _produce_one(a.bootstrap, topic, big) is None
    got = consume_confluent(a.bootstrap, topic, [0], min_count=3)
    assert [r.value for r in got] == [b"v", b"while-hogged", big]


def test_frame_larger_than_the_whole_budget_is_refused(agent_factory):
    a = agent_factory("--queued-max-request-bytes", "1000000")
    conn = rawkafka.RawConn(a.bootstrap)
    conn.send(struct.pack(">i", 2_000_000) + b"\x00" * 8)
    assert conn.wait_closed(10)
    wait_for(lambda: "exceeds queued.max.request.bytes" in a.log_text(), timeout=5)


# ---------------------------------------------------------------------------
# admin listener bounds, and EMFILE on the Kafka listener
# ---------------------------------------------------------------------------


class LowFdAgent(Agent):
    """An agent started with a small RLIMIT_NOFILE (like `ulimit -n`)."""

    nofile = 128

    def _launch(self, kafka_port, admin_port):
        # As conftest.Agent._launch, with the limit applied in the child before exec.
        import threading
        self._ready.clear()
        log = open(self.log_path, "ab")
        limit = (self.nofile, self.nofile)
        self.proc = subprocess.Popen(
            self._argv(kafka_port, admin_port), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self._env(), cwd=self.data_dir,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
        self._pump = threading.Thread(target=self._pump_output, args=(self.proc, log), daemon=True)
        self._pump.start()


def _raise_own_nofile(want: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _flood(addr: str, n: int) -> list:
    host, port = addr.rsplit(":", 1)
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(0.05)
        try:
            s.connect((host, int(port)))
            socks.append(s)
        except OSError:
            s.close()
    return socks


@pytest.fixture
def low_fd_agent(weft_bin, tmp_path_factory):
    made = []

    def make(*args):
        a = LowFdAgent(weft_bin, tmp_path_factory.mktemp("weft-data"), args)
        made.append(a)
        return a.start()

    yield make
    for a in made:
        a.stop()


def test_flooded_admin_port_cannot_starve_kafka_of_descriptors(low_fd_agent):
    assert _raise_own_nofile(8192) >= 2000
    a = low_fd_agent("--admin-max-connections", "16", "--admin-header-timeout-ms", "60000")
    topic = unique_topic("adminflood")
    create_topic(a.bootstrap, topic)
    flood = _flood(a.admin, 300)
    try:
        assert len(flood) > LowFdAgent.nofile, "the flood must outnumber the agent's descriptors"
        time.sleep(0.5)
        results = produce_confluent(a.bootstrap, topic, [Rec(0, b"k", b"v%d" % i) for i in range(20)],
                                    timeout=30)
        assert all(e is None for e, _p, _o in results), results
        assert a.running()
        assert "Too many open files" not in a.log_text()
        assert 'http listener at its connection limit; not accepting until one closes listener="admin"' in a.log_text()
    finally:
        for s in flood:
            s.close()
    wait_for(lambda: a.healthz(timeout=2) == 200, timeout=30)


def test_admin_connections_that_send_nothing_are_closed_after_the_header_timeout(agent_factory):
    a = agent_factory("--admin-header-timeout-ms", "1000")
    host, port = a.admin.rsplit(":", 1)
    silent = socket.create_connection((host, int(port)))
    keep_alive = socket.create_connection((host, int(port)))
    keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    keep_alive.settimeout(5)
    assert b"200 OK" in keep_alive.recv(4096)
    for s in (silent, keep_alive):
        s.settimeout(6)
        started = time.monotonic()
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 5, "an idle admin connection stayed open"
        s.close()


def test_kafka_listener_survives_running_out_of_descriptors(low_fd_agent):
    assert _raise_own_nofile(8192) >= 2000
    a = low_fd_agent()
    pid = a.proc.pid
    topic = unique_topic("emfile")
    create_topic(a.bootstrap, topic)

    def cpu_ticks():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    flood = _flood(a.bootstrap, 300)
    try:
        time.sleep(1)
        t0 = cpu_ticks()
        time.sleep(3)
        spent = (cpu_ticks() - t0) / os.sysconf("SC_CLK_TCK")
        assert spent < 1.0, f"the agent used {spent:.2f} s of CPU in 3 s while out of descriptors (spinning)"
        assert a.running()
        assert "accept failed" in a.log_text()
    finally:
        for s in flood:
            s.close()
    assert _produce_one(a.bootstrap, topic) is None


# ---------------------------------------------------------------------------
# readiness
# ---------------------------------------------------------------------------


def _chattr(flag, path):
    return subprocess.run(["chattr", flag, path], capture_output=True).returncode == 0


def test_readyz_is_503_while_uploads_fail_and_200_after_recovery(agent_factory):
    a = agent_factory("--health-check-interval-ms", "200")
    topic = unique_topic("ready")
    create_topic(a.bootstrap, topic)
    assert _readyz(a)[0] == 200
    # Immutable folders: listing still works (the old check, a list, said ready), but no object can be
    # created, as on a read-only or full disk. chmod does not stop root; chattr +i does.
    folders = [os.path.join(a.data_dir, "objects", "v1", d) for d in ("segments", "probes")]
    if shutil.which("chattr") is None or not _chattr("+i", folders[0]):
        pytest.skip("chattr +i is not available here")
    try:
        os.makedirs(folders[1], exist_ok=True)
        assert _chattr("+i", folders[1])
        wait_for(lambda: _readyz(a)[0] == 503, timeout=10)
        code, body = _readyz(a)
        assert "object store" in body, body
        assert _produce_one(a.bootstrap, topic, b"lost", timeout=3) is not None, "a failed upload was acked"
    finally:
        for f in folders:
            _chattr("-i", f)
    wait_for(lambda: _readyz(a)[0] == 200, timeout=10)
    assert _produce_one(a.bootstrap, topic, b"after") is None
    assert "writes fail; not ready" in a.log_text()


def test_started_on_a_read_only_metastore_is_not_ready(agent_factory):
    a = agent_factory()
    a.stop()
    db = os.path.join(a.data_dir, "meta.db")
    if shutil.which("chattr") is None or not _chattr("+i", db):
        pytest.skip("chattr +i is not available here")
    try:
        a.start()
        code, body = _readyz(a)
        assert code == 503 and "metastore" in body, (code, body)
        assert "writes fail; not ready" in a.log_text()
        topic = unique_topic("ro")
        admin_err = None
        try:
            create_topic(a.bootstrap, topic)
        except (KafkaException, AssertionError, Exception) as e:  # noqa: BLE001 - any refusal will do
            admin_err = e
        assert admin_err is not None, "CreateTopics succeeded on a read-only metastore"
    finally:
        a.stop()
        _chattr("-i", db)


def test_deleted_wal_stops_acks_and_loses_nothing_acknowledged(agent_factory):
    a = agent_factory("--health-check-interval-ms", "200")
    b = a.bootstrap
    topic = unique_topic("wal")
    create_topic(b, topic)
    recs = [Rec(0, b"k%d" % i, b"v%d" % i) for i in range(200)]
    results = produce_confluent(b, topic, recs, acks="all")
    assert all(e is None for e, _p, _o in results)
    assert _readyz(a)[0] == 200

    os.remove(os.path.join(a.data_dir, "meta.db-wal"))
    # Produces after the removal are refused (KAFKA_STORAGE_ERROR), not acknowledged.
    late = []
    p = producer(b, **{"message.timeout.ms": 4000, "acks": "all"})
    for i in range(50):
        p.produce(topic, value=b"late%d" % i, on_delivery=lambda err, msg: late.append((err, msg.offset())))
    p.flush(15)
    acked_late = [o for e, o in late if e is None]
    assert not acked_late, f"{len(acked_late)} records acknowledged after the -wal file was removed"
    wait_for(lambda: _readyz(a)[0] == 503, timeout=10)
    assert "removed" in _readyz(a)[1]
    assert "metastore files changed" in a.log_text()
    from confluent_kafka.admin import NewTopic
    from clientutil import admin_client, future_error
    fut = admin_client(b).create_topics([NewTopic(unique_topic("wal-admin"), 1)])
    assert future_error(list(fut.values())[0]) is not None, "CreateTopics acknowledged without a write-ahead log"

    a.kill9()
    a.start()
    assert _readyz(a)[0] == 200
    got = consume_confluent(a.bootstrap, topic, [0], min_count=len(recs))
    assert [(r.offset, r.value) for r in got[:len(recs)]] == [(o, r.value) for r, (_e, _p, o) in zip(recs, results)]
