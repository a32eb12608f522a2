#!/usr/bin/env python3
"""Producer process for the crash tests (test_durability.py, test_eos.py).

Produces records with unique, increasing sequence values ("seq-<n>")
round-robin over the partitions of a topic (acks=all, retries allowed) until
the stop file appears, --count records were sent, or --max-seconds pass; then
flushes and exits. With --idempotent the producer is idempotent
(enable.idempotence=true), so retries across a broker crash must not duplicate.

Every delivery report is appended to --out as it arrives (read it with
clientutil.read_ack_log):
    ACK <partition> <offset> <value>
    ERR <partition> <value> <error>
    FATAL <error>            (a fatal client error; the producer stops)
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
    ap.add_argument("--stop-file", help="stop producing once this file exists")
    ap.add_argument("--count", type=int, help="stop producing after this many records")
    ap.add_argument("--idempotent", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--interval", type=float, default=0.002)
    args = ap.parse_args()

    out = open(args.out, "a", buffering=1)
    counts = {"acked": 0, "failed": 0}
    fatal = []

    def on_delivery(err, msg):
        v = msg.value().decode()
        if err is None:
            counts["acked"] += 1
            out.write(f"ACK {msg.partition()} {msg.offset()} {v}\n")
        else:
            counts["failed"] += 1
            out.write(f"ERR {msg.partition()} {v} {err.name()}:{err.str()}\n")
        out.flush()

    def on_error(err):
        if err.fatal():
            fatal.append(err)
            out.write(f"FATAL {err.name()}:{err.str()}\n")
            out.flush()

    p = Producer({
        "bootstrap.servers": args.bootstrap,
        "acks": "all",
        "enable.idempotence": args.idempotent,
        "retries": 1_000_000,
        "retry.backoff.ms": 100,
        "retry.backoff.max.ms": 500,
        "message.timeout.ms": 90_000 if args.idempotent else 60_000,
        "request.timeout.ms": 10_000,
        "socket.timeout.ms": 10_000,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "linger.ms": 2,
        "error_cb": on_error,
    })

    deadline = time.monotonic() + args.max_seconds
    i = 0
    while (time.monotonic() < deadline and not fatal
           and (args.count is None or i < args.count)
           and not (args.stop_file and os.path.exists(args.stop_file))):
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

    unflushed = p.flush(95)
    out.write(f"DONE produced={i} acked={counts['acked']} failed={counts['failed']} "
              f"unflushed={unflushed}\n")
    out.close()
    return 0 if counts["failed"] == 0 and unflushed == 0 and not fatal else 1


if __name__ == "__main__":
    sys.exit(main())
