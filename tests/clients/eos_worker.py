#!/usr/bin/env python3
"""Client processes for the exactly-once crash tests (test_eos.py).

One mode (kept as a subcommand for future ones), using confluent-kafka (librdkafka):

``ctp``  -- a consume-transform-produce worker. It consumes the input topic as
            a member of a consumer group (read_committed, no auto commit) and,
            one transaction per polled batch, produces ``out-<input value>`` to
            the same partition of the output topic and commits the consumed
            offsets inside the transaction (send_offsets_to_transaction). It
            exits 0 once the group's committed offsets reach --ends.

            Every step is appended to --log *before* the call it announces
            (one line each, flushed), so a kill -9 leaves a usable history:
                START <incarnation> <pid>
                INIT <incarnation>
                BEGIN <tag>
                PRODUCE <tag> <json [[partition, value], ...]>
                COMMITTING <tag>
                COMMITTED <tag> <json {partition: next offset}>
                TXNERR <tag> <json error details>
                ABORTED <tag>
                REWIND <incarnation> <json {partition: offset}>
                DONE <incarnation>
                FATAL <incarnation> <message>
            <tag> is "<incarnation>-<n>"; it is also the key of every output
            record of that transaction, so a record read back can be tied to
            the transaction (and its outcome) that wrote it.
            Outcome of a transaction from the log: COMMITTED -> committed,
            ABORTED -> aborted, COMMITTING without either -> unknown (the
            process died inside commit_transaction), no COMMITTING -> must be
            aborted (commit was never requested).
            Exit codes: 0 done, 2 fatal error (e.g. fenced), 3 ran out of
            time, 4 a client call hung (see Ctp.watchdog).

(The idempotent producer of the crash tests is crash_producer.py --idempotent.)
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import threading
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)


API_TIMEOUT = 15  # seconds, for every blocking transactional call


class Fatal(Exception):
    pass


def _err_info(err: KafkaError) -> dict:
    return {"name": err.name(), "str": err.str(), "fatal": err.fatal(),
            "retriable": err.retriable(), "abortable": err.txn_requires_abort()}


# --------------------------------------------------------------------------
# consume-transform-produce
# --------------------------------------------------------------------------


class Ctp:
    def __init__(self, args):
        self.a = args
        self.log = open(args.log, "a", buffering=1)
        self.inc = args.incarnation
        self.ends = [int(x) for x in args.ends.split(",")]
        self.deadline = time.monotonic() + args.max_seconds
        self.producer = None
        self.consumer = None
        self.in_call = None  # (name, monotonic start) of the client call in progress
        threading.Thread(target=self.watchdog, daemon=True).start()

    def watchdog(self):
        """librdkafka can block in a transactional call far past its timeout
        (confluentinc/librdkafka#5456, #5511: send_offsets_to_transaction()
        waits forever for a decommissioned group coordinator). Turn such a
        hang into a non-zero exit so the caller restarts the worker with the
        same transactional.id, which fences this incarnation anyway."""
        while True:
            time.sleep(0.5)
            call = self.in_call
            if call is not None and time.monotonic() - call[1] > self.a.hang_seconds:
                self.ev("FATAL", self.inc, f"HUNG in {call[0]} for more than "
                        f"{self.a.hang_seconds}s; exiting")
                os._exit(4)

    def ev(self, *parts):
        self.log.write(" ".join(str(p) for p in parts) + "\n")
        self.log.flush()

    def retrying(self, what, fn):
        """Call fn, retrying while it fails with a retriable, non-abortable,
        non-fatal error (librdkafka allows retrying these txn calls)."""
        while True:
            self.in_call = (what, time.monotonic())
            try:
                return fn()
            except KafkaException as e:
                err = e.args[0]
                if err.retriable() and not err.fatal() and not err.txn_requires_abort() \
                        and time.monotonic() < self.deadline:
                    self.ev("RETRY", what, json.dumps(_err_info(err)))
                    time.sleep(0.2)
                    continue
                raise
            finally:
                self.in_call = None

    def make_producer(self):
        self.producer = Producer({
            "bootstrap.servers": self.a.bootstrap,
            "transactional.id": self.a.txn_id,
            "metadata.recovery.strategy": self.a.recovery,
            "transaction.timeout.ms": self.a.txn_timeout_ms,
            "linger.ms": 5,
            "socket.timeout.ms": 10000,
            "request.timeout.ms": 10000,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 500,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500,
            **({"debug": self.a.debug} if self.a.debug else {}),
        })
        self.retrying("init", lambda: self.producer.init_transactions(API_TIMEOUT))
        self.ev("INIT", self.inc)

    def make_consumer(self):
        self.consumer = Consumer({
            "bootstrap.servers": self.a.bootstrap,
            "group.id": self.a.group,
            "metadata.recovery.strategy": self.a.recovery,
            "group.instance.id": self.a.instance_id,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "socket.timeout.ms": 10000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500,
        })
        self.consumer.subscribe([self.a.in_topic])

    def done(self) -> bool:
        tps = [TopicPartition(self.a.in_topic, p) for p in range(len(self.ends))]
        try:
            got = self.consumer.committed(tps, timeout=10)
        except KafkaException:
            return False
        return all(tp.offset >= self.ends[tp.partition] for tp in got)

    def rewind(self):
        """After an abort, go back to the group's committed offsets."""
        try:
            assignment = self.consumer.assignment()
            committed = self.consumer.committed(assignment, timeout=15)
            pos = {}
            for tp in committed:
                off = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                self.consumer.seek(TopicPartition(tp.topic, tp.partition, off))
                pos[tp.partition] = off
            self.ev("REWIND", self.inc, json.dumps(pos))
        except KafkaException as e:
            # e.g. a partition whose fetcher is not started yet: rebuild the
            # consumer, which starts from the committed offsets anyway
            self.ev("REWIND", self.inc, json.dumps({"rebuild": str(e)}))
            self.consumer.close()
            self.make_consumer()

    def one_batch(self, n: int, msgs: list):
        tag = f"{self.inc}-{n}"
        p = self.producer
        try:
            p.begin_transaction()
            self.ev("BEGIN", tag)
            out = [[m.partition(), "out-" + m.value().decode()] for m in msgs]
            self.ev("PRODUCE", tag, json.dumps(out))
            offsets = {}
            for m, (part, value) in zip(msgs, out):
                while True:
                    try:
                        p.produce(self.a.out_topic, key=tag.encode(), value=value.encode(),
                                  partition=part)
                        break
                    except BufferError:
                        p.poll(0.1)
                p.poll(0)
                offsets[m.partition()] = m.offset() + 1
            if self.a.in_txn_sleep > 0:
                time.sleep(self.a.in_txn_sleep)
            tps = [TopicPartition(self.a.in_topic, q, o) for q, o in sorted(offsets.items())]
            meta = self.consumer.consumer_group_metadata()
            self.retrying("send_offsets",
                          lambda: p.send_offsets_to_transaction(tps, meta, API_TIMEOUT))
            self.ev("COMMITTING", tag)
            self.retrying("commit", lambda: p.commit_transaction(API_TIMEOUT))
            self.ev("COMMITTED", tag, json.dumps(offsets))
        except KafkaException as e:
            err = e.args[0]
            self.ev("TXNERR", tag, json.dumps(_err_info(err)))
            if err.fatal():
                raise Fatal(f"fatal error in transaction {tag}: {err}")
            try:
                self.retrying("abort", lambda: p.abort_transaction(API_TIMEOUT))
            except KafkaException as e2:
                raise Fatal(f"abort of {tag} failed: {e2.args[0]}")
            self.ev("ABORTED", tag)
            self.rewind()

    def run(self) -> int:
        self.ev("START", self.inc, os.getpid())
        try:
            self.make_producer()
            self.make_consumer()
            n = 0
            while time.monotonic() < self.deadline:
                msgs = self.consumer.consume(self.a.batch, timeout=0.5)
                good = []
                for m in msgs:
                    if m.error() is None:
                        good.append(m)
                    elif m.error().fatal():
                        raise Fatal(f"consumer: {m.error()}")
                    else:
                        self.ev("CONSUMER_ERR", self.inc, json.dumps(_err_info(m.error())))
                if not good:
                    if self.done():
                        self.ev("DONE", self.inc)
                        return 0
                    continue
                n += 1
                self.one_batch(n, good)
            self.ev("FATAL", self.inc, "out of time")
            return 3
        except Fatal as e:
            self.ev("FATAL", self.inc, str(e).replace("\n", " "))
            return 2
        except KafkaException as e:
            self.ev("FATAL", self.inc, str(e.args[0]).replace("\n", " "))
            return 2
        finally:
            if self.consumer is not None:
                try:
                    self.consumer.close()
                except Exception:  # noqa: BLE001 - exiting anyway
                    pass


def main() -> int:
    # `kill -USR1 <pid>` dumps every thread's Python stack to stderr (the
    # tests do this before giving up on a stuck worker)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("ctp")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--in-topic", required=True)
    c.add_argument("--out-topic", required=True)
    c.add_argument("--ends", required=True, help="comma-separated end offsets of the input")
    c.add_argument("--txn-id", required=True)
    c.add_argument("--group", required=True)
    c.add_argument("--instance-id", required=True)
    c.add_argument("--incarnation", required=True)
    c.add_argument("--log", required=True)
    c.add_argument("--batch", type=int, default=50)
    c.add_argument("--in-txn-sleep", type=float, default=0.0)
    c.add_argument("--txn-timeout-ms", type=int, default=10_000)
    c.add_argument("--max-seconds", type=float, default=100.0)
    c.add_argument("--debug", default="", help="librdkafka debug contexts")
    c.add_argument("--hang-seconds", type=float, default=30.0,
                   help="exit 4 if one client call blocks this long")
    c.add_argument("--recovery", default="none", choices=["none", "rebootstrap"],
                   help="metadata.recovery.strategy; the default rebootstrap decommissions "
                        "every broker when all are down, which triggers librdkafka#5511")
    args = ap.parse_args()
    return Ctp(args).run()


if __name__ == "__main__":
    sys.exit(main())
