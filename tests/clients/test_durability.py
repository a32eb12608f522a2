"""Durability across a graceful restart (SIGTERM) and across kill -9 while a
producer is writing: nothing acknowledged may be lost or move."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from clientutil import (
    Rec,
    consume_confluent,
    consume_kcat,
    create_topic,
    produce_confluent,
    read_ack_log,
    unique_topic,
    wait_for,
    watermarks,
)

HERE = os.path.dirname(os.path.abspath(__file__))
PARTITIONS = 3


def _records(n, tag):
    return [Rec(i % PARTITIONS, f"{tag}-k{i}".encode(), f"{tag}-v{i}".encode()) for i in range(n)]


def _acked(results):
    assert all(e is None for e, _p, _o in results), [e for e, _p, _o in results if e]
    return {(p, o) for _e, p, o in results}


def _check_exact(b, topic, recs, results):
    """Every acked record is at its acked offset; nothing else is there."""
    want = {(p, o): (r.key, r.value) for r, (_e, p, o) in zip(recs, results)}
    got = consume_confluent(b, topic, range(PARTITIONS), min_count=len(recs))
    assert {(r.partition, r.offset): (r.key, r.value) for r in got} == want
    assert len(got) == len(want)


def test_graceful_restart_keeps_acked_records(agent):
    b = agent.bootstrap
    topic = unique_topic("dur-restart")
    create_topic(b, topic, partitions=PARTITIONS)
    recs = _records(300, "a")
    results = produce_confluent(b, topic, recs, acks="all")
    _acked(results)
    hws = [watermarks(b, topic, p)[1] for p in range(PARTITIONS)]

    rc = agent.restart()
    assert rc == 0, f"SIGTERM shutdown exit code {rc}"
    b = agent.bootstrap

    assert [watermarks(b, topic, p) for p in range(PARTITIONS)] == [(0, h) for h in hws]
    _check_exact(b, topic, recs, results)
    # kcat sees the same thing
    assert len(consume_kcat(b, topic)) == len(recs)

    # appends continue right after the old end
    more = produce_confluent(b, topic, [Rec(p, b"after", b"restart") for p in range(PARTITIONS)],
                             acks="all")
    assert [(p, o) for _e, p, o in more] == [(p, hws[p]) for p in range(PARTITIONS)]


def test_kill9_after_acks_keeps_acked_records(agent):
    b = agent.bootstrap
    topic = unique_topic("dur-kill9")
    create_topic(b, topic, partitions=PARTITIONS)
    recs = _records(200, "k")
    results = produce_confluent(b, topic, recs, acks="all")
    _acked(results)

    agent.kill9()
    agent.start()
    assert agent.bootstrap == b  # same port

    _check_exact(b, topic, recs, results)
    # the topic itself (metadata) survived too, and still takes writes
    more = produce_confluent(b, topic, [Rec(0, b"x", b"y")], acks="all")
    assert more[0][0] is None and more[0][2] == len([r for r in recs if r.partition == 0])


@pytest.mark.timeout(300)
def test_kill9_during_produce_loses_no_acked_record(agent, tmp_path):
    b = agent.bootstrap
    topic = unique_topic("dur-crash")
    create_topic(b, topic, partitions=PARTITIONS)
    out = tmp_path / "acks.log"
    stop = tmp_path / "stop"
    prod_log = open(tmp_path / "producer.log", "wb")
    prod = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "crash_producer.py"), "--bootstrap", b,
         "--topic", topic, "--partitions", str(PARTITIONS), "--out", str(out),
         "--stop-file", str(stop), "--max-seconds", "150"],
        stdout=prod_log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        wait_for(lambda: len(read_ack_log(out)[0]) >= 50, 30, desc="producer's first 50 acks")
        time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))

        agent.kill9()
        acked_at_crash = len(read_ack_log(out)[0])
        time.sleep(0.5)
        agent.start()
        assert agent.bootstrap == b

        # the producer reconnects on its own and keeps getting acks
        wait_for(lambda: len(read_ack_log(out)[0]) >= acked_at_crash + 100, 60,
                 desc="acks after the restart")
        stop.touch()
        prod.wait(timeout=90)
    finally:
        if prod.poll() is None:
            prod.kill()
            prod.wait(timeout=10)
        prod_log.close()
    prod_out = (tmp_path / "producer.log").read_bytes()

    acks, errs, _other, done = read_ack_log(out)
    assert done is not None, f"producer did not finish cleanly:\n{prod_out.decode()[-3000:]}"

    consumed = consume_confluent(b, topic, range(PARTITIONS), min_count=len(acks), timeout=60)
    by_pos = {(r.partition, r.offset): r.value.decode() for r in consumed}

    # 1. every acknowledged record is exactly where it was acknowledged
    lost = [(p, o, v) for p, o, v in acks if by_pos.get((p, o)) != v]
    assert not lost, (f"{len(lost)} of {len(acks)} acked records missing or moved, e.g. "
                      f"{[(p, o, v, by_pos.get((p, o))) for p, o, v in lost[:10]]}")

    # 2. offsets are dense from 0 in every partition and match the watermarks
    for p in range(PARTITIONS):
        offs = sorted(o for (pp, o) in by_pos if pp == p)
        assert offs == list(range(len(offs))), f"partition {p}: gaps in offsets"
        assert watermarks(b, topic, p) == (0, len(offs))

    # 3. nothing that was never produced appears (duplicates from retries are allowed)
    produced_values = {f"seq-{i:09d}" for i in range(int(done.split()[1].split("=")[1]))}
    assert set(by_pos.values()) <= produced_values

    # 4. with the agent back, every record was eventually acknowledged
    assert not errs, f"{len(errs)} records failed: {errs[:5]}"
    assert prod.returncode == 0, done
    assert {v for _p, _o, v in acks} == produced_values
