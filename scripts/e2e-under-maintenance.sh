#!/usr/bin/env bash
# End-to-end latency while the maintenance jobs are busy (issue 21): a release agent, ~1 GB produced, then
# `weft bench --mode e2e` at 5,000 records/s while object compaction merges what was just produced. Runs
# twice: with the default maintenance budget, then unlimited (`--maintenance-max-bytes-per-sec 0`, the pace
# before the budget existed), and prints the e2e percentiles and the time merge spent throttled.
# Meant for a quiet machine. Usage: scripts/e2e-under-maintenance.sh [STATE_DIR]
# RECORDS (1000000 x 1 KiB) and E2E_SECS (60) override the sizes, e.g. for a quick check of the script.
set -eu
D="${1:-/tmp/weft-e2e-maint}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEFT="${WEFT_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/weft}"
[ -x "$WEFT" ] || { echo "build it first: cargo build --release -p weft (or set WEFT_BIN)" >&2; exit 1; }
ADMIN=127.0.0.1:9644
RECORDS="${RECORDS:-1000000}"
E2E_SECS="${E2E_SECS:-60}"
AGENT=
trap '[ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null || true' EXIT

run() {
    local label="$1"; shift
    rm -rf "$D"; mkdir -p "$D"
    "$WEFT" agent --data-dir "$D" --admin-listen "$ADMIN" "$@" >"$D.log" 2>&1 &
    AGENT=$!
    for _ in $(seq 50); do curl -sf "http://$ADMIN/metrics" >/dev/null && break; sleep 0.2; done
    "$WEFT" bench --mode produce --records "$RECORDS" --partitions 12 2>&1 | grep -v '^%' | tail -3
    # Flush segments become mergeable after --merge-min-age-ms (10 s by default): the e2e phase (warmup
    # included) overlaps the merge of the whole gigabyte.
    echo "=== $label: e2e at 5,000 rec/s while maintenance merges ~1 GB"
    "$WEFT" bench --mode e2e --rate 5000 --e2e-duration-secs "$E2E_SECS" --partitions 12 2>&1 | grep -v '^%' | tail -6
    curl -s "http://$ADMIN/metrics" \
        | grep -E '^weft_maintenance_(bytes_total|throttle_wait_seconds_(sum|count)|runs_total\{job="merge")' || true
    kill "$AGENT"; wait "$AGENT" 2>/dev/null || true; AGENT=
}

run "budget (defaults)"
run "unlimited" --maintenance-max-bytes-per-sec 0 --maintenance-max-bytes-per-pass 0
