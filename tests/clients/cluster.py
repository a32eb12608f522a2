"""Several ``weft agent`` processes sharing one PostgreSQL metastore and one S3 bucket, and the load and
history tools the cluster tests drive them with.

* ``Cluster``: N agents on ``--metastore postgres://... --object-store s3://...``, each with its own node id
  and (unused) data directory; ``kill9(i)``, ``start(i)``, ``bootstrap()``.
* ``LoadProducer``: a background idempotent librdkafka producer that writes numbered records and logs every
  acknowledgement, so a test can check that no acknowledged record was lost or duplicated.
* ``read_all`` and ``check_log``: read every partition from the beginning and check the stored log against
  the acknowledgements (no loss, no duplicates, each producer's records in order within a partition).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

from clientutil import admin_client, consume_confluent, producer, wait_for
from conftest import Agent

# Short cluster timings so failover is quick in tests: agents heartbeat every 500 ms and are declared dead
# after 3 s (also the coordinator lease time).
FAST_CLUSTER_ARGS = (
    "--broker-heartbeat-interval-ms", "500",
    "--broker-session-timeout-ms", "3000",
)


class Cluster:
    def __init__(self, weft_bin: str, tmp: Path, metastore_url: str, object_store_url: str, n: int,
                 extra_args=(), per_agent_args=None):
        self.agents: list = []
        self.metastore_url = metastore_url
        self.object_store_url = object_store_url
        for i in range(n):
            d = tmp / f"agent-{i}"
            d.mkdir(parents=True, exist_ok=True)
            own = list(per_agent_args[i]) if per_agent_args else []
            # An agent's own --metastore (e.g. through a proxy) replaces the shared one.
            metastore = [] if "--metastore" in own else ["--metastore", metastore_url]
            args = [*metastore, "--object-store", object_store_url,
                    "--node-id", str(i + 1), *FAST_CLUSTER_ARGS, *extra_args, *own]
            self.agents.append(Agent(weft_bin, d, args))

    def start(self, i: Optional[int] = None) -> "Cluster":
        for a in ([self.agents[i]] if i is not None else self.agents):
            a.start()
        return self

    def wait_formed(self, timeout: float = 15.0):
        """Waits until every running agent lists every running agent as a broker (each re-reads the registry
        once per heartbeat interval)."""
        want = sorted(i + 1 for i, a in enumerate(self.agents) if a.running())
        for a in self.agents:
            if a.running():
                wait_for(lambda a=a: sorted(_broker_ids(a.bootstrap)) == want, timeout=timeout,
                         desc=f"{a} to list agents {want}")

    def kill9(self, i: int):
        return self.agents[i].kill9()

    def stop(self):
        for a in self.agents:
            a.stop()

    def bootstrap(self, only: Optional[list] = None) -> str:
        picked = [self.agents[i] for i in only] if only is not None else self.agents
        return ",".join(a.bootstrap for a in picked if a.running())

    def log_tails(self) -> str:
        return "\n".join(f"--- agent {i} ---\n{a.log_tail(40)}" for i, a in enumerate(self.agents))


class LoadProducer:
    """Produces records ``<tag>-<n>`` (n = 0, 1, ...) round-robin over partitions from a background thread,
    idempotent with acks=all, and keeps the acknowledgements: ``acked`` maps record id -> (partition, offset).
    Failed deliveries are kept in ``failed`` (never acknowledged, so they may or may not be stored)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, tag: str = "r", rate: float = 400.0,
                 **conf):
        self.topic = topic
        self.partitions = partitions
        self.tag = tag
        self.rate = rate
        self.acked: dict = {}
        self.failed: dict = {}
        self.sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        base = {"enable.idempotence": True, "acks": "all", "message.timeout.ms": 120000,
                "linger.ms": 5, "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 1000}
        base.update(conf)
        self.producer = producer(bootstrap, **base)
        self.fatal: Optional[str] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "LoadProducer":
        self.thread.start()
        return self

    def _callback(self, rid: str):
        def cb(err, msg):
            with self._lock:
                if err is None:
                    self.acked[rid] = (msg.partition(), msg.offset())
                else:
                    self.failed[rid] = str(err)
                    if err.fatal():
                        self.fatal = str(err)
        return cb

    def _run(self):
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            rid = f"{self.tag}-{self.sent}"
            try:
                self.producer.produce(self.topic, key=rid.encode(), value=(rid * 8).encode(),
                                      partition=self.sent % self.partitions, on_delivery=self._callback(rid))
                self.sent += 1
            except BufferError:
                self.producer.poll(0.1)
                continue
            self.producer.poll(0)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def stop(self, flush_timeout: float = 150.0) -> int:
        """Stops producing and waits for every outstanding delivery; returns how many remain undelivered."""
        self._stop.set()
        self.thread.join(30)
        return self.producer.flush(flush_timeout)


def read_all(bootstrap: str, topic: str, partitions: int, min_count: int = 0, timeout: float = 90.0) -> list:
    return consume_confluent(bootstrap, topic, range(partitions), min_count=min_count, timeout=timeout)


def check_log(acked: dict, stored: list) -> dict:
    """Checks the stored records against the acknowledgements. Returns a summary; raises AssertionError on
    a lost acknowledged record, a record stored twice, an acknowledged record at another position than its
    acknowledgement said, or one producer's records out of order within a partition."""
    seen = defaultdict(list)
    for r in stored:
        seen[r.key.decode()].append((r.partition, r.offset))
    lost = [rid for rid in acked if rid not in seen]
    dup = {rid: where for rid, where in seen.items() if len(where) > 1}
    moved = [(rid, acked[rid], seen[rid]) for rid in acked if rid in seen and acked[rid] not in seen[rid]]
    by_part = defaultdict(list)
    for r in sorted(stored, key=lambda r: (r.partition, r.offset)):
        by_part[r.partition].append(int(r.key.decode().rsplit("-", 1)[1]))
    disorder = [(p, ns) for p, ns in by_part.items() if ns != sorted(ns)]
    problems = {k: v for k, v in
                {"lost": lost, "duplicate": dup, "moved": moved, "disorder": disorder}.items() if v}
    assert not problems, f"log check failed: { {k: (len(v), list(v)[:5]) for k, v in problems.items()} }"
    return {"acked": len(acked), "stored": len(stored)}


def _broker_ids(bootstrap: str) -> list:
    return [b.id for b in admin_client(bootstrap).list_topics(timeout=15).brokers.values()]
