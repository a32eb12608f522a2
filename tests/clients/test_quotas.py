"""Client quotas with real clients: `weft quota` sets, lists and removes them (neither confluent-kafka 2.16
nor kafka-python 3.0 has the client-quota admin calls, so the CLI is the admin client here), a librdkafka
producer at a producer_byte_rate and a consumer at a consumer_byte_rate are held to about that rate and see
throttle time in their statistics. Rates are measured over several seconds after the first burst (the
10-second minimum window lets a new client send about ten seconds' worth at first, as in Kafka), with a
generous tolerance."""

from __future__ import annotations

import json
import time

from cliutil import failure, run, run_json
from clientutil import consumer, create_topic, producer, unique_topic
from confluent_kafka import TopicPartition

RATE = 200_000  # bytes per second
MEASURE_FROM, MEASURE_TO = 5.0, 15.0  # seconds after the producer starts
CONSUME_FOR = 24.0


def _quota(weft_bin, b, *args, ok=True):
    return run(weft_bin, b, "quota", *args, ok=ok)


def test_quota_commands_set_list_and_remove(weft_bin, agent):
    b = agent.bootstrap
    _quota(weft_bin, b, "set", "--client", "app", "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152")
    _quota(weft_bin, b, "set", "--user", "alice", "--client-defaults", "--add-config", "request_percentage=50")
    _quota(weft_bin, b, "set", "--user-defaults", "--add-config", "controller_mutation_rate=10")
    rows = run_json(weft_bin, b, "quota", "list")
    got = sorted((r["user"] or "", r["client_id"] or "", r["key"], r["value"]) for r in rows)
    assert got == sorted([
        ("", "app", "consumer_byte_rate", 2097152.0),
        ("", "app", "producer_byte_rate", 1048576.0),
        ("alice", "<default>", "request_percentage", 50.0),
        ("<default>", "", "controller_mutation_rate", 10.0),
    ]), rows
    only_app = run_json(weft_bin, b, "quota", "list", "--client", "app")
    assert {r["key"] for r in only_app} == {"producer_byte_rate", "consumer_byte_rate"}

    # Kafka's refusals: keys user/client-id entities do not have, fractional byte rates.
    err = failure(_quota(weft_bin, b, "set", "--client", "app", "--add-config", "connection_creation_rate=5", ok=False))
    assert "invalid configuration key connection_creation_rate" in err, err
    err = failure(_quota(weft_bin, b, "set", "--client", "app", "--add-config", "producer_byte_rate=1.5", ok=False))
    assert "must be a long" in err, err
    _quota(weft_bin, b, "set", "--client", "other", "--add-config", "producer_byte_rate=5", "--validate-only")
    assert not run_json(weft_bin, b, "quota", "list", "--client", "other"), "validate-only stores nothing"

    _quota(weft_bin, b, "remove", "--client", "app", "--delete-config", "producer_byte_rate,consumer_byte_rate")
    _quota(weft_bin, b, "remove", "--user", "alice", "--client-defaults", "--delete-config", "request_percentage")
    _quota(weft_bin, b, "remove", "--user-defaults", "--delete-config", "controller_mutation_rate")
    assert run_json(weft_bin, b, "quota", "list") == []


class _Stats:
    """librdkafka statistics: the largest broker throttle time seen."""

    def __init__(self):
        self.throttle_max = 0

    def __call__(self, text):
        for broker in json.loads(text).get("brokers", {}).values():
            self.throttle_max = max(self.throttle_max, broker.get("throttle", {}).get("max", 0))


def _rate(events, start, end):
    """Bytes per second of (time, bytes) events between start and end seconds."""
    return sum(n for t, n in events if start <= t < end) / (end - start)


def test_producer_is_held_to_its_byte_rate(weft_bin, agent):
    b = agent.bootstrap
    topic = unique_topic("quota-p")
    create_topic(b, topic, 1)
    _quota(weft_bin, b, "set", "--client", "slow-producer", "--add-config", f"producer_byte_rate={RATE}")
    stats = _Stats()
    p = producer(b, **{"client.id": "slow-producer", "statistics.interval.ms": 500, "stats_cb": stats,
                       "linger.ms": 20, "queue.buffering.max.kbytes": 2048})
    value = b"v" * 1000
    acked = []
    t0 = time.monotonic()

    def delivered(err, msg):
        if err is None:
            acked.append((time.monotonic() - t0, len(msg.value())))

    while time.monotonic() - t0 < MEASURE_TO:
        try:
            p.produce(topic, value, callback=delivered)
        except BufferError:
            p.poll(0.05)
        p.poll(0)
    p.flush(30)
    rate = _rate(acked, MEASURE_FROM, MEASURE_TO)
    assert 0.25 * RATE < rate < 2.0 * RATE, f"{rate:.0f} B/s against a quota of {RATE}"
    assert stats.throttle_max > 0, "the producer saw throttle time"

    # An unthrottled client id on the same agent is not held back.
    free = producer(b, **{"client.id": "free-producer"})
    t1 = time.monotonic()
    for _ in range(5000):
        free.produce(topic, value)
        free.poll(0)
    assert free.flush(30) == 0
    assert 5_000_000 / (time.monotonic() - t1) > 2 * RATE


def test_consumer_is_held_to_its_byte_rate(weft_bin, agent):
    b = agent.bootstrap
    topic = unique_topic("quota-c")
    create_topic(b, topic, 1)
    p = producer(b, **{"client.id": "loader"})
    for _ in range(8000):
        p.produce(topic, b"c" * 1000)
        p.poll(0)
    assert p.flush(60) == 0
    _quota(weft_bin, b, "set", "--client", "slow-consumer", "--add-config", f"consumer_byte_rate={RATE}")
    stats = _Stats()
    c = consumer(b, **{"client.id": "slow-consumer", "statistics.interval.ms": 500, "stats_cb": stats,
                       "enable.partition.eof": False, "fetch.max.bytes": 1048576,
                       "max.partition.fetch.bytes": 262144})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    t0 = time.monotonic()
    # A consumer reads in bursts: a new client may read ten seconds' worth at once (the minimum window), then
    # waits until that sample leaves the window; so its rate is taken over the whole run, bursts included.
    while time.monotonic() - t0 < CONSUME_FOR:
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            got.append((time.monotonic() - t0, len(m.value())))
    c.close()
    total = sum(n for _, n in got)
    assert total < 8_000_000, "held back: not everything was read"
    rate = _rate(got, 0, CONSUME_FOR)
    assert 0.25 * RATE < rate < 2.0 * RATE, f"{rate:.0f} B/s against a quota of {RATE}"
    assert stats.throttle_max > 0, "the consumer saw throttle time"
