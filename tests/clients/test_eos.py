"""Exactly-once with real clients under crashes.

* a consume-transform-produce pipeline (eos_worker.py, confluent-kafka
  transactions with offsets committed inside the transaction) whose worker
  process is killed with -9, frozen and replaced (a zombie that must be
  fenced when it wakes up), or whose agent is killed with -9 mid-transaction
  or mid-commit: every input record must show up exactly once in the
  read_committed output;
* an idempotent producer while the agent is killed with -9: no duplicates, no
  lost acknowledged record, send order kept;
* a seeded randomized commit/abort history checked by ``check_history``.

``check_history`` is the history checker shared by these tests: it takes what
was produced (with the outcome of the transaction that wrote each record) and
what read_committed consumers read, and reports loss, duplication, reads of
aborted records, reads of records nobody produced and per-partition reordering.

Client caveat: with librdkafka's default metadata.recovery.strategy
(rebootstrap), an agent crash makes the worker's send_offsets_to_transaction()
block forever (confluentinc/librdkafka#5511, #5456: a decommissioned group
coordinator stays cached and the call ignores its timeout). The workers
therefore run with metadata.recovery.strategy=none (WEFT_EOS_RECOVERY=rebootstrap
to use the default) and a watchdog that exits 4 on a hung call, after which the
test restarts the worker with the same transactional.id.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Optional

import pytest
from confluent_kafka import Producer, TopicPartition

from history import ABORTED, COMMITTED, UNKNOWN, HistoryError, check_history
from clientutil import (
    Rec,
    consume_confluent,
    consumer,
    create_topic,
    produce_confluent,
    read_ack_log,
    unique_topic,
    wait_for,
    watermarks,
)

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "eos_worker.py")
CRASH_PRODUCER = os.path.join(HERE, "crash_producer.py")
TIMEOUT = 30


AGENT_ARGS = ("--group-initial-rebalance-delay-ms", "0",
              "--transaction-check-interval-ms", "200")


def test_check_history_detects_each_kind_of_failure():
    good = [(0, "a", COMMITTED), (0, "b", ABORTED), (1, "c", COMMITTED), (0, "d", UNKNOWN),
            (1, "e", UNKNOWN), (0, "f", COMMITTED)]
    ok = check_history(good, [(0, "a"), (0, "d"), (0, "f"), (1, "c")])
    assert ok["committed"] == 3 and ok["aborted"] == 1 and ok["unknown_read"] == 1
    # unknown outcomes may also be absent
    check_history(good, [(0, "a"), (1, "c"), (0, "f")])

    cases = {
        "loss": [(0, "a"), (0, "f")],                                 # c never read
        "duplicate": [(0, "a"), (0, "a"), (1, "c"), (0, "f")],
        "aborted": [(0, "a"), (0, "b"), (1, "c"), (0, "f")],
        "phantom": [(0, "a"), (1, "c"), (0, "f"), (0, "zzz")],
        "order": [(0, "f"), (0, "a"), (1, "c")],
    }
    for kind, consumed in cases.items():
        with pytest.raises(HistoryError) as ei:
            check_history(good, consumed)
        assert kind in ei.value.problems, (kind, ei.value.problems)
        assert kind in str(ei.value)
    # a record read from the wrong partition is a phantom (and its own loss)
    with pytest.raises(HistoryError) as ei:
        check_history(good, [(0, "a"), (0, "c"), (0, "f")])
    assert {"phantom", "loss"} <= set(ei.value.problems)
    # a duplicated unknown record is still a duplicate
    with pytest.raises(HistoryError) as ei:
        check_history(good, [(0, "a"), (0, "d"), (0, "d"), (1, "c"), (0, "f")])
    assert set(ei.value.problems) == {"duplicate"}
    # order checking can be switched off
    check_history(good, cases["order"], check_order=False)
    # malformed histories are rejected outright
    with pytest.raises(ValueError):
        check_history([(0, "a", COMMITTED), (0, "a", ABORTED)], [])
    with pytest.raises(ValueError):
        check_history([(0, "a", "maybe")], [])


# --------------------------------------------------------------------------
# consume-transform-produce pipeline
# --------------------------------------------------------------------------


def parse_ctp_log(path) -> dict:
    """Turn an eos_worker ctp log into a history (see eos_worker.py)."""
    txns: dict = {}
    order: list = []
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    for line in lines:
        parts = line.split(" ", 2)
        kind = parts[0]
        if kind == "PRODUCE":
            tag = parts[1]
            txns[tag] = {"recs": json.loads(parts[2]), "state": "open"}
            order.append(tag)
        elif kind in ("COMMITTING", "COMMITTED", "ABORTED") and parts[1] in txns:
            t = txns[parts[1]]
            if kind == "COMMITTING":
                t["state"] = "committing"
            elif kind == "COMMITTED":
                t["state"] = COMMITTED
            else:
                t["state"] = ABORTED
    produced = []
    states = Counter()
    for tag in order:
        t = txns[tag]
        out = {COMMITTED: COMMITTED, ABORTED: ABORTED, "committing": UNKNOWN,
               "open": ABORTED}[t["state"]]
        states[t["state"]] += 1
        for part, value in t["recs"]:
            produced.append((part, (tag, value), out))
    return {"produced": produced, "states": states, "lines": lines,
            "last_kind": lines[-1].split(" ", 1)[0] if lines else None}


def _count(log, kind) -> int:
    try:
        with open(log) as f:
            return sum(1 for line in f if line.startswith(kind + " "))
    except FileNotFoundError:
        return 0


def _last_kind(log) -> Optional[str]:
    try:
        with open(log) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    return lines[-1].split(" ", 1)[0] if lines else None


class Pipeline:
    """Input/output topics plus worker processes sharing one transactional.id
    and one consumer group."""

    PARTITIONS = 3

    def __init__(self, agent, tmp_path, n: int):
        self.agent = agent
        self.tmp = tmp_path
        self.n = n
        b = agent.bootstrap
        self.in_topic = unique_topic("eos-in")
        self.out_topic = unique_topic("eos-out")
        create_topic(b, self.in_topic, partitions=self.PARTITIONS)
        create_topic(b, self.out_topic, partitions=self.PARTITIONS)
        self.inputs = [f"in-{i:06d}" for i in range(n)]
        res = produce_confluent(b, self.in_topic,
                                [Rec(i % self.PARTITIONS, None, v.encode())
                                 for i, v in enumerate(self.inputs)], acks="all")
        assert all(e is None for e, _p, _o in res)
        self.ends = [len(range(p, n, self.PARTITIONS)) for p in range(self.PARTITIONS)]
        self.txn_id = unique_topic("eos-tid")
        self.group = unique_topic("eos-group")
        self.log = str(tmp_path / "worker-events.log")
        self.incarnations = 0
        self.procs: list = []
        self.exits: list = []

    def start_worker(self, *, in_txn_sleep: float = 0.0, batch: int = 40) -> subprocess.Popen:
        self.incarnations += 1
        inc = f"w{self.incarnations}"
        out = open(self.tmp / f"worker-{inc}.out", "wb")
        p = subprocess.Popen(
            [sys.executable, WORKER, "ctp", "--bootstrap", self.agent.bootstrap,
             "--in-topic", self.in_topic, "--out-topic", self.out_topic,
             "--ends", ",".join(map(str, self.ends)), "--txn-id", self.txn_id,
             "--group", self.group, "--instance-id", "eos-worker", "--incarnation", inc,
             "--log", self.log, "--batch", str(batch), "--in-txn-sleep", str(in_txn_sleep),
             "--max-seconds", "90",
             "--recovery", os.environ.get("WEFT_EOS_RECOVERY", "none")],
            stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)

    def run_to_completion(self, timeout: float, *, max_restarts: int = 5, **kw) -> None:
        """Wait for the current worker to exit 0; restart it (same
        transactional.id) whenever it exits non-zero."""
        deadline = time.monotonic() + timeout
        p = self.procs[-1]
        while True:
            rc = p.poll()
            if rc == 0:
                self.exits.append(0)
                return
            if rc is not None:
                self.exits.append(rc)
                assert len(self.exits) <= max_restarts, (
                    f"worker keeps failing: exits={self.exits}\n{self.worker_tail()}")
                p = self.start_worker(**kw)
            assert time.monotonic() < deadline, (
                f"pipeline did not finish in {timeout}s (exits={self.exits})\n"
                f"{self.worker_tail()}")
            time.sleep(0.2)

    def worker_tail(self, n: int = 40) -> str:
        out = []
        for f in sorted(self.tmp.glob("worker-w*.out")):
            txt = f.read_text(errors="replace").splitlines()[-15:]
            out.append(f"--- {f.name} ---\n" + "\n".join(txt))
        try:
            ev = open(self.log).read().splitlines()[-n:]
        except FileNotFoundError:
            ev = []
        out.append("--- events ---\n" + "\n".join(line[:300] for line in ev))
        return "\n".join(out)

    def read_output(self, isolation: str, timeout: float = 20.0) -> list:
        """Read the whole output topic (to the LSO for read_committed); re-read
        for a while if fewer than n records are visible, so that a loss is
        reported as such rather than as a consumer timeout."""
        deadline = time.monotonic() + timeout
        while True:
            recs = consume_confluent(self.agent.bootstrap, self.out_topic,
                                     range(self.PARTITIONS), timeout=30,
                                     **{"isolation.level": isolation})
            if len(recs) >= self.n or time.monotonic() >= deadline:
                return recs
            time.sleep(0.5)

    def verify(self) -> dict:
        b = self.agent.bootstrap
        parts = range(self.PARTITIONS)
        committed = self.read_output("read_committed")
        # exactly once: each input value transformed and visible exactly once
        got = Counter(r.value.decode() for r in committed)
        want = Counter("out-" + v for v in self.inputs)
        missing = sorted(set(want) - set(got))
        dups = sorted(v for v, c in got.items() if c > 1)
        extra = sorted(set(got) - set(want))
        assert not missing and not dups and not extra, (
            f"exactly-once violated: {len(missing)} missing e.g. {missing[:5]}, "
            f"{len(dups)} duplicated e.g. {dups[:5]}, {len(extra)} unexpected e.g. "
            f"{extra[:5]}\n{self.worker_tail()}")
        # each output record sits in the partition of its input record
        for r in committed:
            i = int(r.value.decode().rsplit("-", 1)[1])
            assert r.partition == i % self.PARTITIONS, (r.partition, r.value)
        # the history as logged by the workers
        hist = parse_ctp_log(self.log)
        summary = check_history(
            hist["produced"],
            [(r.partition, (r.key.decode(), r.value.decode())) for r in committed])
        # read_uncommitted also sees what aborted transactions wrote
        uncommitted = self.read_output("read_uncommitted")
        assert len(uncommitted) >= len(committed)
        produced_ids = {rid for _p, rid, _o in hist["produced"]}
        assert {(r.key.decode(), r.value.decode()) for r in uncommitted} <= produced_ids
        # the group's offsets (committed inside the transactions) cover the input
        c = consumer(b, **{"group.id": self.group})
        try:
            offs = c.committed([TopicPartition(self.in_topic, p) for p in parts], timeout=15)
        finally:
            c.close()
        assert [tp.offset for tp in offs] == self.ends
        summary.update(uncommitted=len(uncommitted), txn_states=dict(hist["states"]),
                       exits=list(self.exits))
        return summary


def _wait_last_event(log: str, kind: str, timeout: float = 5.0) -> bool:
    """Best effort: wait until the worker's last event is ``kind`` -- PRODUCE
    (inside a transaction, commit not requested yet) or COMMITTING (EndTxn in
    flight) -- so that the crash lands in that phase."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _last_kind(log) == kind:
            return True
        time.sleep(0.002)
    return False


@pytest.mark.timeout(120)
@pytest.mark.parametrize("phase", ["PRODUCE", "COMMITTING"], ids=["in_txn", "in_commit"])
def test_consume_transform_produce_survives_producer_kill9(agent_factory, tmp_path, phase):
    """The worker dies inside a transaction (in_txn: the next incarnation must
    abort it) or while its commit is in flight (in_commit: the transaction
    either committed with its offsets or not at all)."""
    agent = agent_factory(*AGENT_ARGS)
    pl = Pipeline(agent, tmp_path, n=3000)
    w1 = pl.start_worker(in_txn_sleep=0.05)
    try:
        wait_for(lambda: _count(pl.log, "COMMITTED") >= 10, 45, interval=0.05,
                 desc=f"10 committed transactions\n{pl.worker_tail()}")
        mid_txn = _wait_last_event(pl.log, phase)
        w1.send_signal(signal.SIGKILL)
        w1.wait(timeout=10)
        assert _count(pl.log, "DONE") == 0, "worker finished before it was killed"
        before = parse_ctp_log(pl.log)["states"]
        # the second incarnation fences the zombie's epoch and aborts its
        # open transaction, then resumes from the offsets committed with it
        pl.start_worker()
        pl.run_to_completion(70)
        summary = pl.verify()
    finally:
        pl.kill_all()
    print(f"worker killed in phase {phase}: {mid_txn} states-at-kill={dict(before)} "
          f"summary={summary}")


@pytest.mark.timeout(120)
def test_consume_transform_produce_fences_a_paused_zombie(agent_factory, tmp_path):
    """A worker frozen (SIGSTOP) inside a transaction is replaced by a new
    incarnation with the same transactional.id and group.instance.id. When
    the zombie wakes up it must be fenced: none of its transactions may
    commit after that, and the output is still exactly-once."""
    agent = agent_factory(*AGENT_ARGS)
    pl = Pipeline(agent, tmp_path, n=3000)
    zombie = pl.start_worker(in_txn_sleep=0.05)
    try:
        wait_for(lambda: _count(pl.log, "COMMITTED") >= 10, 45, interval=0.05,
                 desc=f"10 committed transactions\n{pl.worker_tail()}")
        mid_txn = _wait_last_event(pl.log, "PRODUCE")
        zombie.send_signal(signal.SIGSTOP)
        frozen = parse_ctp_log(pl.log)
        zombie_committed = _count(pl.log, "COMMITTED")
        pl.start_worker(in_txn_sleep=0.03)
        wait_for(lambda: _count(pl.log, "COMMITTED") >= zombie_committed + 5, 45, interval=0.05,
                 desc=f"5 transactions of the new incarnation\n{pl.worker_tail()}")
        zombie.send_signal(signal.SIGCONT)
        zrc = zombie.wait(timeout=40)
        pl.run_to_completion(70)
        summary = pl.verify()
    finally:
        if zombie.poll() is None:
            zombie.send_signal(signal.SIGCONT)
        pl.kill_all()
    hist = parse_ctp_log(pl.log)
    zombie_lines = [line for line in hist["lines"][len(frozen["lines"]):]
                    if line.split(" ")[1].startswith("w1")]
    # after waking up, the zombie never commits anything again
    assert not [line for line in zombie_lines if line.startswith("COMMITTED ")], zombie_lines
    assert zrc != 0, f"the zombie was not fenced (exit {zrc}):\n{zombie_lines[-5:]}"
    print(f"frozen mid-transaction={mid_txn} zombie exit={zrc} zombie events="
          f"{[line[:160] for line in zombie_lines]} summary={summary}")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("phase", ["PRODUCE", "COMMITTING"], ids=["in_txn", "in_commit"])
def test_consume_transform_produce_survives_agent_kill9(agent_factory, tmp_path, phase):
    """The agent dies while the worker is inside a transaction (in_txn) or
    while its EndTxn(commit) is in flight (in_commit)."""
    agent = agent_factory(*AGENT_ARGS)
    pl = Pipeline(agent, tmp_path, n=3000)
    pl.start_worker(in_txn_sleep=0.04)
    try:
        wait_for(lambda: _count(pl.log, "COMMITTED") >= 10, 45, interval=0.05,
                 desc=f"10 committed transactions\n{pl.worker_tail()}")
        mid_txn = _wait_last_event(pl.log, phase)
        committed_at_kill = _count(pl.log, "COMMITTED")
        agent.kill9()
        time.sleep(0.5)
        agent.start()
        # keep going (restarting the worker, same transactional.id, whenever
        # it dies of a fatal error) until the whole input is processed
        pl.run_to_completion(80, in_txn_sleep=0.0)
        assert _count(pl.log, "COMMITTED") > committed_at_kill
        summary = pl.verify()
    finally:
        pl.kill_all()
    hung = [line for line in parse_ctp_log(pl.log)["lines"] if "HUNG" in line]
    print(f"agent killed in phase {phase}: {mid_txn} summary={summary} client hangs={hung}")


# --------------------------------------------------------------------------
# idempotent producer across an agent crash
# --------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_idempotent_producer_across_agent_kill9(agent_factory, tmp_path):
    agent = agent_factory()
    b = agent.bootstrap
    topic = unique_topic("eos-idem")
    create_topic(b, topic, partitions=1)
    m = 3000
    out = tmp_path / "acks.log"
    plog = open(tmp_path / "producer.out", "wb")
    prod = subprocess.Popen(
        [sys.executable, CRASH_PRODUCER, "--idempotent", "--bootstrap", b, "--topic", topic,
         "--partitions", "1", "--count", str(m), "--out", str(out), "--interval", "0.002"],
        stdout=plog, stderr=subprocess.STDOUT)
    plog.close()
    try:
        wait_for(lambda: len(read_ack_log(out)[0]) >= 300, 30, interval=0.05,
                 desc="producer's first 300 acks")
        agent.kill9()
        acked_at_crash = len(read_ack_log(out)[0])
        time.sleep(0.5)
        agent.start()
        assert agent.bootstrap == b
        prod.wait(timeout=100)
    finally:
        if prod.poll() is None:
            prod.kill()
            prod.wait(timeout=10)
    acks, errs, other, done = read_ack_log(out)
    log_txt = (tmp_path / "producer.out").read_text(errors="replace")[-3000:]
    assert done is not None, f"producer did not finish:\n{log_txt}"
    assert acked_at_crash < m, "the crash came after the last ack; nothing was tested"

    consumed = consume_confluent(b, topic, [0], min_count=len(acks), timeout=60)
    values = [r.value.decode() for r in consumed]
    offsets = [r.offset for r in consumed]
    # no duplicates
    dups = [v for v, c in Counter(values).items() if c > 1]
    assert not dups, f"{len(dups)} duplicated values, e.g. {dups[:10]}"
    # every acked record is where it was acked
    by_off = dict(zip(offsets, values))
    lost = [(o, v, by_off.get(o)) for _p, o, v in acks if by_off.get(o) != v]
    assert not lost, f"{len(lost)} of {len(acks)} acked records missing or moved: {lost[:10]}"
    # the log is in send order, and nothing acked is missing in between
    seqs = [int(v.split("-")[1]) for v in values]
    assert seqs == sorted(seqs), "records out of send order"
    assert offsets == list(range(len(offsets))), "offsets not dense"
    acked_seqs = sorted(int(v.split("-")[1]) for _p, _o, v in acks)
    if acked_seqs:
        assert seqs[:acked_seqs[-1] + 1] == list(range(acked_seqs[-1] + 1)), \
            "gap before the last acknowledged record"
    # with the agent back, every record got through exactly once
    assert not errs, f"{len(errs)} records failed: {errs[:5]}\n{other[:5]}"
    assert not other, other[:10]
    assert prod.returncode == 0, done
    assert seqs == list(range(m))
    print(f"acked before crash={acked_at_crash} total={len(acks)} {done}")


# --------------------------------------------------------------------------
# randomized transactions
# --------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_randomized_transactions_history(agent_factory):
    agent = agent_factory(*AGENT_ARGS)
    b = agent.bootstrap
    parts = 3
    topic = unique_topic("eos-rand")
    create_topic(b, topic, partitions=parts)
    seed = int(os.environ.get("WEFT_EOS_SEED", "20240611"))
    rng = random.Random(seed)

    delivery_errors: list = []

    def on_delivery(err, msg):
        if err is not None:
            delivery_errors.append((msg.value().decode(), err.name()))

    p = Producer({"bootstrap.servers": b, "transactional.id": unique_topic("eos-rtid"),
                  "transaction.timeout.ms": 20000, "linger.ms": rng.choice([0, 5, 20])})
    p.init_transactions(TIMEOUT)
    produced: list = []          # (partition, value, outcome) in produce order
    flushed_aborted: set = set()  # aborted records known to have reached the log
    stats = Counter()
    for it in range(40):
        p.begin_transaction()
        use = rng.sample(range(parts), rng.randint(1, parts))
        n = rng.choice([0, 1, 2, 5, 10, 30, 80]) if rng.random() < 0.9 else 300
        recs = []
        for j in range(n):
            part = rng.choice(use)
            value = f"it{it:03d}-r{j:03d}"
            p.produce(topic, value=value.encode(), key=str(it).encode(), partition=part,
                      on_delivery=on_delivery)
            recs.append((part, value))
            if rng.random() < 0.05:
                p.poll(0)
        action = rng.random()
        if action < 0.5:
            if rng.random() < 0.3:
                assert p.flush(TIMEOUT) == 0
            p.commit_transaction(TIMEOUT)
            out = COMMITTED
        elif action < 0.8:
            # flushed first: the records are surely in the log when we abort
            assert p.flush(TIMEOUT) == 0
            p.abort_transaction(TIMEOUT)
            flushed_aborted.update(v for _p, v in recs)
            out = ABORTED
        else:
            p.abort_transaction(TIMEOUT)
            out = ABORTED
        stats[out] += 1
        produced.extend((part, v, out) for part, v in recs)
    p.poll(0)
    committed_values = {v for _p, v, o in produced if o == COMMITTED}
    bad_deliveries = [(v, e) for v, e in delivery_errors if v in committed_values]
    assert not bad_deliveries, bad_deliveries[:5]

    # one more transaction left open: read_committed must stop before it
    p.begin_transaction()
    open_recs = [(q, f"open-r{q}") for q in range(parts)]
    for q, v in open_recs:
        p.produce(topic, value=v.encode(), partition=q)
    assert p.flush(TIMEOUT) == 0

    def read(isolation):
        return consume_confluent(b, topic, range(parts), timeout=60,
                                 **{"isolation.level": isolation})

    rc = read("read_committed")
    summary = check_history(produced, [(r.partition, r.value.decode()) for r in rc])
    assert not any(r.value.decode().startswith("open-") for r in rc)

    ru = read("read_uncommitted")
    ru_values = [r.value.decode() for r in ru]
    assert len(ru_values) == len(set(ru_values)), "duplicates in read_uncommitted"
    all_values = {v for _p, v, _o in produced} | {v for _q, v in open_recs}
    assert set(ru_values) <= all_values
    missing = (committed_values | flushed_aborted | {v for _q, v in open_recs}) - set(ru_values)
    assert not missing, f"read_uncommitted misses {len(missing)} records: {sorted(missing)[:10]}"
    # offsets also hold the control records: the log is longer than the data
    ends = [watermarks(b, topic, q)[1] for q in range(parts)]
    assert sum(ends) > len(ru)

    # committing the open transaction releases it to read_committed readers
    p.commit_transaction(TIMEOUT)
    produced.extend((q, v, COMMITTED) for q, v in open_recs)
    rc2 = read("read_committed")
    check_history(produced, [(r.partition, r.value.decode()) for r in rc2])
    print(f"seed={seed} txns={dict(stats)} summary={summary} "
          f"flushed_aborted={len(flushed_aborted)} read_uncommitted={len(ru)}")
