"""Shared helpers for the real-client integration tests.

Everything here talks to a running agent through a real client library
(confluent-kafka / librdkafka, kafka-python) or the ``kcat`` CLI. All waits
are bounded; every helper raises (or returns something the caller asserts
on) instead of silently succeeding.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigSource, NewTopic

DEFAULT_TIMEOUT = 30.0
KCAT = shutil.which("kcat") or "kcat"

# librdkafka errors that are about the connection, not about our data. They
# can show up transiently (e.g. right after an agent restart) and are ignored
# by the consume loops, which are bounded by a deadline anyway.
_TRANSIENT_CONSUMER_ERRORS = {
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
    KafkaError._TIMED_OUT,
}


# --------------------------------------------------------------------------
# generic
# --------------------------------------------------------------------------


def unique_topic(prefix: str = "t") -> str:
    """A topic name that no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_for(predicate: Callable[[], object], timeout: float = DEFAULT_TIMEOUT,
             interval: float = 0.2, desc: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; return that value.

    Raises AssertionError after ``timeout`` seconds. Exceptions raised by the
    predicate are remembered and reported if the wait times out.
    """
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    last_val = None
    while True:
        try:
            last_val = predicate()
            if last_val:
                return last_val
        except Exception as exc:  # noqa: BLE001 - reported below
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {desc}; "
                f"last value={last_val!r} last error={last_exc!r}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------


@dataclass
class Rec:
    """A record to produce, or a record that was consumed (normalized)."""

    partition: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: list = field(default_factory=list)  # [(str, bytes)]
    timestamp: Optional[int] = None  # ms; None = let the client choose
    offset: Optional[int] = None
    tstype: Optional[str] = None  # "create" | "append" | None

    def content(self):
        """What must survive a round trip regardless of client."""
        return (self.partition, self.key, self.value, list(self.headers))


def read_ack_log(path) -> tuple:
    """Parses crash_producer.py's delivery log: ``(acks, errors, other, done)``
    where ``acks`` is a list of ``(partition, offset, value)``, ``errors`` and
    ``other`` (e.g. FATAL) are raw lines, and ``done`` the final DONE line or None."""
    acks, errs, other, done = [], [], [], None
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return acks, errs, other, done
    for line in lines:
        parts = line.split(" ")
        if parts[0] == "ACK" and len(parts) == 4:
            acks.append((int(parts[1]), int(parts[2]), parts[3]))
        elif parts[0] == "ERR":
            errs.append(line)
        elif parts[0] == "DONE":
            done = line
        else:
            other.append(line)
    return acks, errs, other, done


def by_partition(recs: Iterable[Rec]) -> dict:
    out: dict = {}
    for r in recs:
        out.setdefault(r.partition, []).append(r)
    return out


def assert_same_records(expected: list, got: list, *, check_offsets: bool = True,
                        check_timestamps: bool = True, client: str = "") -> None:
    """Per partition: same records, same order; optionally dense offsets from 0
    and exact CreateTime timestamps."""
    exp_p = by_partition(expected)
    got_p = by_partition(got)
    assert sorted(got_p) == sorted(exp_p), (
        f"[{client}] partitions with data differ: expected {sorted(exp_p)} got {sorted(got_p)}")
    for p, exp in exp_p.items():
        g = got_p[p]
        assert [r.content() for r in g] == [r.content() for r in exp], (
            f"[{client}] partition {p}: records differ\nexpected={[r.content() for r in exp]}\n"
            f"got={[r.content() for r in g]}")
        offsets = [r.offset for r in g]
        if check_offsets:
            assert offsets == list(range(len(exp))), (
                f"[{client}] partition {p}: offsets not dense from 0: {offsets}")
        else:
            assert offsets == sorted(set(offsets)), (
                f"[{client}] partition {p}: offsets not strictly increasing: {offsets}")
        if check_timestamps:
            for e, r in zip(exp, g):
                assert r.tstype == "create", f"[{client}] p{p} o{r.offset}: tstype {r.tstype}"
                assert r.timestamp == e.timestamp, (
                    f"[{client}] p{p} o{r.offset}: timestamp {r.timestamp} != {e.timestamp}")


# --------------------------------------------------------------------------
# confluent-kafka
# --------------------------------------------------------------------------


def admin_client(bootstrap: str, **conf) -> AdminClient:
    """A new AdminClient. Keep a reference to it until every future it returned
    has resolved: a garbage-collected client fails them with _DESTROY."""
    base = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 15000}
    base.update(conf)
    return AdminClient(base)


def future_error(fut, timeout: float = DEFAULT_TIMEOUT) -> Optional[KafkaError]:
    """Wait for an admin future; return its KafkaError or None on success."""
    try:
        fut.result(timeout=timeout)
        return None
    except KafkaException as exc:
        return exc.args[0]


def list_topics(bootstrap: str, timeout: float = 15.0) -> dict:
    """name -> TopicMetadata for every topic (all-topics metadata request,
    which never auto-creates)."""
    md = admin_client(bootstrap).list_topics(timeout=timeout)
    return dict(md.topics)


def partition_count(bootstrap: str, topic: str) -> Optional[int]:
    t = list_topics(bootstrap).get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def create_topic(bootstrap: str, topic: str, partitions: int = 1,
                 config: Optional[dict] = None, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Create a topic with the confluent AdminClient and wait until metadata
    lists it with all its partitions."""
    a = admin_client(bootstrap)
    fs = a.create_topics([NewTopic(topic, num_partitions=partitions, config=config or {})],
                         operation_timeout=timeout, request_timeout=timeout)
    err = future_error(fs[topic], timeout)
    assert err is None, f"create_topics({topic}) failed: {err}"
    wait_for(lambda: partition_count(bootstrap, topic) == partitions, timeout,
             desc=f"topic {topic} with {partitions} partitions in metadata")


def config_source_name(entry) -> str:
    s = entry.source
    if hasattr(s, "name"):
        return s.name
    return ConfigSource(s).name


def producer(bootstrap: str, **conf) -> Producer:
    base = {
        "bootstrap.servers": bootstrap,
        "message.timeout.ms": 30000,
        "enable.idempotence": False,
        "linger.ms": 5,
    }
    base.update(conf)
    return Producer(base)


def produce_confluent(bootstrap: str, topic: str, recs: list, timeout: float = DEFAULT_TIMEOUT,
                      before_close: Optional[Callable[[], object]] = None, **conf) -> list:
    """Produce ``recs`` in order; flush; return one delivery result per record:
    ``(err: KafkaError|None, partition, offset)``.

    ``before_close`` runs while the producer (and its connection) is still
    open -- with acks=0 a flush only means "written to the socket", so wait
    for the data there rather than racing the connection close."""
    p = producer(bootstrap, **conf)
    results: list = [None] * len(recs)

    def cb_for(i):
        def cb(err, msg):
            results[i] = (err, msg.partition(), msg.offset())
        return cb

    for i, r in enumerate(recs):
        kw = {"value": r.value, "key": r.key, "on_delivery": cb_for(i)}
        if r.partition is not None and r.partition >= 0:
            kw["partition"] = r.partition
        if r.headers:
            kw["headers"] = list(r.headers)
        if r.timestamp is not None:
            kw["timestamp"] = r.timestamp
        p.produce(topic, **kw)
        p.poll(0)
    remaining = p.flush(timeout)
    assert remaining == 0, f"{remaining} messages still undelivered after {timeout}s"
    missing = [i for i, res in enumerate(results) if res is None]
    assert not missing, f"no delivery report for records {missing}"
    if before_close is not None:
        before_close()
    return results


def consumer(bootstrap: str, **conf) -> Consumer:
    # Consumer groups are not implemented by the agent: a dummy group.id is
    # required by the client, but we only ever use assign() with explicit
    # offsets and never commit.
    base = {
        "bootstrap.servers": bootstrap,
        "group.id": "weft-tests-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "socket.timeout.ms": 15000,
    }
    base.update(conf)
    return Consumer(base)


def _norm_confluent(msg) -> Rec:
    ts_type, ts = msg.timestamp()
    tstype = {TIMESTAMP_CREATE_TIME: "create", TIMESTAMP_LOG_APPEND_TIME: "append"}.get(ts_type)
    return Rec(partition=msg.partition(), key=msg.key(), value=msg.value(),
               headers=list(msg.headers() or []), timestamp=ts if tstype else None,
               offset=msg.offset(), tstype=tstype)


def consume_confluent(bootstrap: str, topic: str, partitions: Iterable[int],
                      start: int = OFFSET_BEGINNING, min_count: int = 0,
                      timeout: float = DEFAULT_TIMEOUT, c: Optional[Consumer] = None,
                      **conf) -> list:
    """Assign ``partitions`` at ``start`` and read until every partition hit
    end-of-partition and at least ``min_count`` records arrived."""
    own = c is None
    if own:
        c = consumer(bootstrap, **conf)
    parts = list(partitions)
    try:
        c.assign([TopicPartition(topic, p, start) for p in parts])
        return drain_confluent(c, topic, parts, min_count=min_count, timeout=timeout)
    finally:
        if own:
            c.close()


def drain_confluent(c: Consumer, topic: str, partitions: Iterable[int], min_count: int = 0,
                    timeout: float = DEFAULT_TIMEOUT) -> list:
    """Poll an already-assigned consumer until all ``partitions`` are at EOF and
    at least ``min_count`` records were received."""
    parts = set(partitions)
    out: list = []
    eof: set = set()
    errors: list = []
    deadline = time.monotonic() + timeout
    while not (eof >= parts and len(out) >= min_count):
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"consume {topic}: timed out after {timeout}s with {len(out)} records "
                f"(wanted >= {min_count}), eof={sorted(eof)} of {sorted(parts)}, errors={errors}")
        msg = c.poll(0.5)
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                eof.add(msg.partition())
                continue
            if err.fatal() or (msg.topic() == topic and err.code() not in _TRANSIENT_CONSUMER_ERRORS):
                raise KafkaException(err)
            errors.append(str(err))
            continue
        eof.discard(msg.partition())
        out.append(_norm_confluent(msg))
    return out


def watermarks(bootstrap: str, topic: str, partition: int, timeout: float = 15.0):
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout, cached=False)
    finally:
        c.close()


def wait_high_watermarks(bootstrap: str, topic: str, expected: dict,
                         timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until the high watermark of every partition p equals expected[p]."""
    def ok():
        return all(watermarks(bootstrap, topic, p)[1] == n for p, n in expected.items())
    wait_for(ok, timeout, interval=0.3, desc=f"high watermarks {expected} on {topic}")


# --------------------------------------------------------------------------
# kafka-python
# --------------------------------------------------------------------------


def kp_admin(bootstrap: str):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)


def kp_producer(bootstrap: str, **conf):
    from kafka import KafkaProducer
    base = dict(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5,
                request_timeout_ms=20000, max_block_ms=30000)
    base.update(conf)
    return KafkaProducer(**base)


def produce_kafka_python(bootstrap: str, topic: str, recs: list,
                         timeout: float = DEFAULT_TIMEOUT,
                         before_close: Optional[Callable[[], object]] = None, **conf) -> list:
    """Produce with kafka-python; return ``(exc|None, partition, offset)`` per
    record. ``before_close`` as for produce_confluent."""
    p = kp_producer(bootstrap, **conf)
    try:
        futs = []
        for r in recs:
            futs.append(p.send(topic, value=r.value, key=r.key, headers=list(r.headers),
                               partition=r.partition, timestamp_ms=r.timestamp))
        p.flush(timeout=timeout)
        out = []
        for f in futs:
            try:
                md = f.get(timeout=timeout)
                out.append((None, md.partition, md.offset))
            except Exception as exc:  # noqa: BLE001 - returned to the caller
                out.append((exc, None, None))
        if before_close is not None:
            before_close()
        return out
    finally:
        p.close(timeout=10)


def kp_consumer(bootstrap: str, **conf):
    from kafka import KafkaConsumer
    base = dict(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", request_timeout_ms=20000)
    base.update(conf)
    return KafkaConsumer(**base)


def _norm_kp(r) -> Rec:
    tstype = {0: "create", 1: "append"}.get(r.timestamp_type)
    return Rec(partition=r.partition, key=r.key, value=r.value,
               headers=[(k, v) for k, v in (r.headers or [])],
               timestamp=r.timestamp if tstype else None, offset=r.offset, tstype=tstype)


def consume_kafka_python(bootstrap: str, topic: str, partitions: Iterable[int],
                         start="earliest", timeout: float = DEFAULT_TIMEOUT, **conf) -> list:
    """Assign partitions, seek to ``start`` ("earliest" or an offset) and read up
    to the end offsets observed at the start."""
    from kafka import TopicPartition as KTP
    c = kp_consumer(bootstrap, **conf)
    try:
        tps = [KTP(topic, p) for p in partitions]
        c.assign(tps)
        if start == "earliest":
            c.seek_to_beginning(*tps)
        else:
            for tp in tps:
                c.seek(tp, int(start))
        ends = c.end_offsets(tps)
        out: list = []
        deadline = time.monotonic() + timeout
        while not all(c.position(tp) >= ends[tp] for tp in tps):
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"kafka-python consume {topic}: timed out with {len(out)} records; "
                    f"positions={ {tp.partition: c.position(tp) for tp in tps} } ends={ends}")
            for _tp, batch in c.poll(timeout_ms=500).items():
                out.extend(_norm_kp(r) for r in batch)
        return out
    finally:
        c.close(autocommit=False)


# --------------------------------------------------------------------------
# kcat
# --------------------------------------------------------------------------


def kcat(bootstrap: str, *args: str, input: Optional[bytes] = None,
         timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [KCAT, "-b", bootstrap, *args]
    cp = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    if check:
        assert cp.returncode == 0, (
            f"{' '.join(cmd)} exited {cp.returncode}\nstdout={cp.stdout[-2000:]!r}\n"
            f"stderr={cp.stderr[-4000:]!r}")
    return cp


def kcat_metadata(bootstrap: str, topic: Optional[str] = None) -> dict:
    args = ["-L", "-J"] + (["-t", topic] if topic else [])
    return json.loads(kcat(bootstrap, *args).stdout)


def _b(s) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def _norm_kcat(d: dict) -> Rec:
    hdrs = d.get("headers") or []
    pairs = [(hdrs[i], _b(hdrs[i + 1])) for i in range(0, len(hdrs), 2)]
    tstype = {"create": "create", "logappend": "append"}.get(d.get("tstype"))
    return Rec(partition=d["partition"], key=_b(d.get("key")), value=_b(d.get("payload")),
               headers=pairs, timestamp=d.get("ts") if tstype else None,
               offset=d["offset"], tstype=tstype)


def consume_kcat(bootstrap: str, topic: str, partition: Optional[int] = None,
                 offset: str = "beginning", extra: Iterable[str] = (),
                 timeout: float = 60.0) -> list:
    """``kcat -C -J -e``: read to the end of the partition(s), return Recs.

    kcat prints keys/payloads as JSON strings, so only use this for records
    whose keys, values and header values are UTF-8 text."""
    args = ["-C", "-t", topic, "-o", str(offset), "-e", "-J", "-q", *extra]
    if partition is not None:
        args += ["-p", str(partition)]
    cp = kcat(bootstrap, *args, timeout=timeout)
    return [_norm_kcat(json.loads(line)) for line in cp.stdout.decode().splitlines()
            if line.strip()]
