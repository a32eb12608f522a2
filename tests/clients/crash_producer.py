#!/usr/bin/env python3
"""Producer process for the crash-durability test (test_durability.py).

Produces records with unique, increasing sequence values round-robin over the
partitions of a topic (acks=all, no idempotence, retries allowed) until the
stop file appears (or --max-seconds pass), then flushes and exits.

Every delivery report is appended to --out as it arrives:
    ACK <partition> <offset> <value>
    ERR <partition> <value> <error>
and a final line:
    DONE produced=<n> acked=<n> failed=<n> unflushed=<n>
Exit code: 0 if every record was eventually acknowledged, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from confluent_kafka import Producer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--interval", type=float, default=0.002)
    args = ap.parse_args()

    out = open(args.out, "a", buffering=1)
    counts = {"acked": 0, "failed": 0}

    def on_delivery(err, msg):
        v = msg.value().decode()
        if err is None:
            counts["acked"] += 1
            out.write(f"ACK {msg.partition()} {msg.offset()} {v}\n")
        else:
            counts["failed"] += 1
            out.write(f"ERR {msg.partition()} {v} {err.name()}:{err.str()}\n")
        out.flush()

    p = Producer({
        "bootstrap.servers": args.bootstrap,
        "acks": "all",
        "enable.idempotence": False,
        "retries": 1_000_000,
        "retry.backoff.ms": 100,
        "retry.backoff.max.ms": 500,
        "message.timeout.ms": 60_000,
        "request.timeout.ms": 10_000,
        "socket.timeout.ms": 10_000,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "linger.ms": 2,
    })

    deadline = time.monotonic() + args.max_seconds
    i = 0
    while not os.path.exists(args.stop_file) and time.monotonic() < deadline:
        value = f"seq-{i:09d}"
        while True:
            try:
                p.produce(args.topic, value=value.encode(), key=str(i).encode(),
                          partition=i % args.partitions, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        i += 1
        p.poll(0)
        time.sleep(args.interval)

    unflushed = p.flush(70)
    out.write(f"DONE produced={i} acked={counts['acked']} failed={counts['failed']} "
              f"unflushed={unflushed}\n")
    out.close()
    return 0 if counts["failed"] == 0 and unflushed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
