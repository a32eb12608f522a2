"""`weft produce` and `weft consume` end to end: the real binary against a real agent, cross-checked with
confluent-kafka (librdkafka) on the other side."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from confluent_kafka import Producer

from cliutil import failure, json_lines, run, run_json
from clientutil import (
    Rec,
    consume_confluent,
    create_topic,
    produce_confluent,
    unique_topic,
    watermarks,
)


def _consume_all(b, topic, partitions, n):
    got = consume_confluent(b, topic, range(partitions), min_count=n)
    return sorted(got, key=lambda r: (r.partition, r.offset))


def _java_partition(b, topic, key):
    """Where a Java client (murmur2) puts `key`: librdkafka with the murmur2_random partitioner agrees."""
    out = []
    p = Producer({"bootstrap.servers": b, "partitioner": "murmur2_random"})
    p.produce(topic, key=key, value=b"probe", on_delivery=lambda err, msg: out.append(msg.partition()))
    assert p.flush(30) == 0
    return out[0]


# --------------------------------------------------------------------------
# produce
# --------------------------------------------------------------------------


def test_produce_lines_with_key_delimiter_and_headers(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-prod")
    create_topic(b, topic, partitions=3)
    lines = b"".join(b"key-%d:value %d:with colon\n" % (i, i) for i in range(20)) + b"\nno-delimiter\r\n"
    out = run_json(weft_bin, b, "produce", topic, "--key-delimiter", ":", "-H", "src=cli", "-H", "n=1",
                   input=lines)
    assert (out["produced"], out["failed"], out["errors"]) == (21, 0, [])
    got = _consume_all(b, topic, 3, 21)
    assert sorted((r.key or b"", r.value) for r in got) == sorted(
        [(b"key-%d" % i, b"value %d:with colon" % i) for i in range(20)] + [(b"", b"no-delimiter")])
    assert all(r.headers == [("src", b"cli"), ("n", b"1")] for r in got)
    assert [r.key for r in got if r.value == b"no-delimiter"] == [None]
    # the summary names where records went, which the log confirms
    for p in out["partitions"]:
        assert watermarks(b, topic, p["partition"]) == (0, p["last_offset"] + 1)
        assert p["first_offset"] == 0 and p["records"] == p["last_offset"] + 1
    # keys are hashed as Java clients hash them
    by_key = {r.key: r.partition for r in got if r.key is not None}
    for k in (b"key-0", b"key-7", b"key-13"):
        assert by_key[k] == _java_partition(b, topic, k)


def test_produce_value_key_partition_and_verbose(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-prod-one")
    create_topic(b, topic, partitions=3)
    out = run_json(weft_bin, b, "produce", topic, "--value", "solo", "-k", "k1", "-p", "2", "-v")
    assert out["records"] == [{"line": 1, "partition": 2, "offset": 0}]
    text = run(weft_bin, b, "produce", topic, "-p", "2", "-v", input=b"a\nb\n").stdout.decode()
    assert text.splitlines()[-1] == f"produced 2 records to {topic} (partition 2 offsets 1-2)"
    assert "| LINE | PARTITION | OFFSET |" in text
    got = _consume_all(b, topic, 3, 3)
    assert [(r.partition, r.offset, r.key, r.value) for r in got] == [
        (2, 0, b"k1", b"solo"), (2, 1, None, b"a"), (2, 2, None, b"b")]
    err = failure(run(weft_bin, b, "produce", topic, "-p", "5", "--value", "x", ok=False))
    assert err == f"error: topic {topic} has no partition 5 (it has 3)"


def test_produce_json_lines(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-prod-json")
    create_topic(b, topic, partitions=2)
    ts = int(time.time() * 1000) - 5000
    records = [
        {"key": "a", "value": "1", "headers": [{"key": "h", "value": "x"}], "partition": 1, "timestamp": ts},
        {"value": {"nested": True}, "headers": {"k": "v"}, "partition": 0},
        {"key": "b", "value": None, "headers": [["z", None]], "partition": 1},
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    run(weft_bin, b, "produce", topic, "--format", "json", "-H", "common=1", input=text.encode())
    got = _consume_all(b, topic, 2, 3)
    assert [(r.partition, r.key, r.value, r.headers) for r in got] == [
        (0, None, b'{"nested":true}', [("common", b"1"), ("k", b"v")]),
        (1, b"a", b"1", [("common", b"1"), ("h", b"x")]),
        (1, b"b", None, [("common", b"1"), ("z", None)]),
    ]
    assert got[1].timestamp == ts


def test_produce_stops_at_bad_input_and_fails(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-prod-bad")
    create_topic(b, topic, partitions=1)
    cp = run(weft_bin, b, "produce", topic, "-f", "json", input=b'{"value":"ok"}\n{"value":\n{"value":"no"}\n',
             ok=False)
    err = failure(cp)
    assert "line 2" in err and "invalid JSON" in err and "after 1 records" in err, err
    assert cp.stdout.decode().strip() == f"produced 1 records to {topic} (partition 0 offsets 0-0)"
    assert watermarks(b, topic, 0) == (0, 1)
    # records the cluster refuses fail the command
    create_topic(b, small := unique_topic("cli-prod-small"), partitions=1, config={"max.message.bytes": "1000"})
    cp = run(weft_bin, b, "produce", small, "--json", "--value", "x" * 5000, ok=False)
    out = json.loads(cp.stdout)
    assert (out["produced"], out["failed"], len(out["errors"])) == (0, 1, 1)
    assert "record from line 1" in out["errors"][0] and "too large" in out["errors"][0].lower()
    assert f"1 of 1 records were not produced to {small}" in failure(cp)


# --------------------------------------------------------------------------
# consume
# --------------------------------------------------------------------------


def _seed(b, topic, partitions=2, per_partition=5):
    """`per_partition` records in each partition, key k<p>-<i>, value v<p>-<i>, header i, timestamps 1 s apart."""
    create_topic(b, topic, partitions=partitions)
    t0 = int(time.time() * 1000) - 3_600_000
    recs = [Rec(p, b"k%d-%d" % (p, i), b"v%d-%d" % (p, i), headers=[("i", b"%d" % i)], timestamp=t0 + i * 1000)
            for p in range(partitions) for i in range(per_partition)]
    produce_confluent(b, topic, recs, acks="all")
    return t0


def test_consume_json_and_template(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-cons")
    t0 = _seed(b, topic)
    got = json_lines(run(weft_bin, b, "consume", topic, "-e", "--json"))
    want = [{"topic": topic, "partition": p, "offset": i, "timestamp": t0 + i * 1000, "key": f"k{p}-{i}",
             "value": f"v{p}-{i}", "headers": [{"key": "i", "value": str(i)}]} for p in range(2) for i in range(5)]
    assert sorted(got, key=lambda r: (r["partition"], r["offset"])) == want
    out = run(weft_bin, b, "consume", topic, "-e", "-p", "1", "-f", r"%t|%p|%o|%k|%s|%h|%T|%K|%S\n").stdout
    assert out.decode().splitlines() == [f"{topic}|1|{i}|k1-{i}|v1-{i}|i={i}|{t0 + i * 1000}|4|4" for i in range(5)]
    default = run(weft_bin, b, "consume", topic, "-e", "-p", "0").stdout.decode()
    assert default == "".join(f"v0-{i}\n" for i in range(5))
    assert "unknown format field %x" in failure(run(weft_bin, b, "consume", topic, "-f", "%x", ok=False))


def test_consume_from_offsets_and_times(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-cons-from")
    t0 = _seed(b, topic)

    def values(*args):
        cp = run(weft_bin, b, "consume", topic, "-e", *args)
        return sorted(cp.stdout.decode().split())
    assert values("-o", "3") == ["v0-3", "v0-4", "v1-3", "v1-4"]
    assert values("-o", "-2", "-p", "1") == ["v1-3", "v1-4"]
    assert values("-o", "-99", "-p", "1") == [f"v1-{i}" for i in range(5)]
    assert values("-o", "end") == []
    assert values("-o", "beginning", "-p", "0") == [f"v0-{i}" for i in range(5)]
    assert values("--from-timestamp", str(t0 + 4000)) == ["v0-4", "v1-4"]
    rfc = datetime.fromtimestamp((t0 + 2500) / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert values("--from-timestamp", rfc, "-p", "0") == ["v0-3", "v0-4"]
    assert values("--from-timestamp", str(t0 + 60_000)) == []
    assert "invalid offset" in run(weft_bin, b, "consume", topic, "-o", "middle", ok=False).stderr.decode()


def test_consume_count_stops_without_end_of_partition(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-cons-count")
    _seed(b, topic, partitions=1, per_partition=10)
    cp = run(weft_bin, b, "consume", topic, "-c", "3", "--json", timeout=60)
    assert [r["offset"] for r in json_lines(cp)] == [0, 1, 2]
    assert cp.stderr == b"", "status goes to stderr only when there is something to say"


def test_consume_exit_at_end_over_topics_sharing_partition_numbers(agent_module, weft_bin):
    b = agent_module.bootstrap
    t1, t2, t3 = unique_topic("cli-eof-a"), unique_topic("cli-eof-b"), unique_topic("cli-eof-c")
    _seed(b, t1, partitions=3, per_partition=2)
    create_topic(b, t2, partitions=3)
    produce_confluent(b, t2, [Rec(1, None, b"only")], acks="all")
    create_topic(b, t3, partitions=2)  # empty
    got = json_lines(run(weft_bin, b, "consume", t1, t2, t3, "-e", "--json", timeout=60))
    assert sorted((r["topic"], r["partition"], r["offset"]) for r in got) == sorted(
        [(t1, p, i) for p in range(3) for i in range(2)] + [(t2, 1, 0)])


def test_consume_group_commits_what_it_printed(agent_module, weft_bin):
    b = agent_module.bootstrap
    topic = unique_topic("cli-cons-group")
    _seed(b, topic, partitions=2, per_partition=5)
    group = f"g-{topic}"
    first = json_lines(run(weft_bin, b, "consume", topic, "-g", group, "-c", "4", "--json", timeout=60))
    assert len(first) == 4
    desc = run_json(weft_bin, b, "group", "describe", group)
    committed = {p["partition"]: p["committed"] for p in desc["partitions"]}
    printed = {}
    for r in first:
        printed[r["partition"]] = max(printed.get(r["partition"], 0), r["offset"] + 1)
    assert committed == printed and sum(committed.values()) == 4
    rest = json_lines(run(weft_bin, b, "consume", topic, "-g", group, "-e", "--json", timeout=60))
    seen = [(r["partition"], r["offset"]) for r in first + rest]
    assert sorted(seen) == [(p, i) for p in range(2) for i in range(5)], "each record exactly once"
    lags = {p["partition"]: p["lag"] for p in run_json(weft_bin, b, "group", "describe", group)["partitions"]}
    assert lags == {0: 0, 1: 0}
    err = failure(run(weft_bin, b, "consume", topic, "-g", group, "-o", "3", ok=False))
    assert "--group" in err


def test_consume_json_feeds_produce_json(agent_module, weft_bin):
    """`weft consume --json | weft produce --format json` copies keys, values, headers, partitions and times."""
    b = agent_module.bootstrap
    src, dst = unique_topic("cli-copy-src"), unique_topic("cli-copy-dst")
    _seed(b, src, partitions=2, per_partition=3)
    create_topic(b, dst, partitions=2)
    dump = run(weft_bin, b, "consume", src, "-e", "--json").stdout
    run(weft_bin, b, "produce", dst, "-f", "json", input=dump)
    a = _consume_all(b, src, 2, 6)
    c = _consume_all(b, dst, 2, 6)
    assert [(r.partition, r.key, r.value, r.headers, r.timestamp) for r in c] == \
        [(r.partition, r.key, r.value, r.headers, r.timestamp) for r in a]
