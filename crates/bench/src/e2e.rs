//! End-to-end latency phase: one thread produces at a fixed rate, embedding
//! the send time (process-local clock) in each payload; another thread reads
//! the same partitions from their pre-run high watermarks and records
//! `receive time - send time` for records sent after the warmup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use indicatif::ProgressBar;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};

use crate::args::BenchArgs;
use crate::cluster::{PartitionRange, blocking};
use crate::consumer::assigned_consumer;
use crate::latency::{Clock, LatencyHistogram, LatencySummary, duration_ns};
use crate::pacing::{Pacer, per_second};
use crate::payload::{E2E_HEADER_LEN, PayloadPool, decode_e2e_header, encode_e2e_header};
use crate::producer::{create_producer, drain, is_queue_full};

const POLL_TIMEOUT: Duration = Duration::from_millis(50);
/// Minimum time the consumer keeps waiting for stragglers after the producer finished.
const MIN_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
const BAR_REFRESH: Duration = Duration::from_millis(100);

/// State shared between the producer and consumer threads.
struct Shared {
    /// Clock time after which samples count (end of warmup); `u64::MAX` until
    /// the producer starts.
    warmup_end_ns: AtomicU64,
    producer_done: AtomicBool,
    abort: AtomicBool,
    delivered: AtomicU64,
    received: AtomicU64,
}

/// Result of the e2e phase.
#[derive(Debug, Clone)]
pub(crate) struct E2eOutcome {
    pub target_rate: u64,
    pub achieved_rate: f64,
    pub sent: u64,
    pub delivered: u64,
    pub delivery_errors: u64,
    pub received: u64,
    pub consumer_errors: u64,
    pub latency: Option<LatencySummary>,
    /// The seconds (counted from the end of the warmup, by send time) whose slowest record was slowest,
    /// slowest first, with that record's latency in milliseconds: whether a tail is one stall or spread out.
    pub slowest_seconds: Vec<(u64, f64)>,
}

/// Slowest seconds reported.
const SLOWEST_SECONDS: usize = 3;

impl E2eOutcome {
    /// Records acknowledged by the broker but never seen by the consumer.
    pub(crate) fn lost(&self) -> u64 {
        self.delivered.saturating_sub(self.received)
    }
}

struct ProducerSide {
    sent: u64,
    acked: u64,
    errors: u64,
    send_elapsed: Duration,
}

struct ConsumerSide {
    received: u64,
    errors: u64,
    latency: LatencyHistogram,
    /// Slowest latency (ns) per second of send time after the warmup.
    per_second: std::collections::BTreeMap<u64, u64>,
}

impl ConsumerSide {
    fn record(&mut self, warmup_end_ns: u64, sent_ns: u64, now_ns: u64) {
        self.latency.record_interval_ns(sent_ns, now_ns);
        let second = sent_ns.saturating_sub(warmup_end_ns) / 1_000_000_000;
        let slowest = self.per_second.entry(second).or_default();
        *slowest = (*slowest).max(now_ns.saturating_sub(sent_ns));
    }

    fn slowest_seconds(&self) -> Vec<(u64, f64)> {
        let mut seconds: Vec<(u64, u64)> = self.per_second.iter().map(|(s, ns)| (*s, *ns)).collect();
        seconds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        seconds.into_iter().take(SLOWEST_SECONDS).map(|(s, ns)| (s, ns as f64 / 1e6)).collect()
    }
}

/// Runs the e2e phase on `ranges` (whose `start` must be the current high
/// watermarks, so only records of this run are read).
pub(crate) async fn run_e2e(args: BenchArgs, ranges: Vec<PartitionRange>, bar: ProgressBar) -> Result<E2eOutcome> {
    let target_rate = args.rate;
    let clock = Clock::new();
    let run_id = crate::payload::mix64(clock.now_ns() ^ u64::from(std::process::id()));
    let shared = Arc::new(Shared {
        warmup_end_ns: AtomicU64::new(u64::MAX),
        producer_done: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        delivered: AtomicU64::new(0),
        received: AtomicU64::new(0),
    });

    let consumer = {
        let (args, shared) = (args.clone(), Arc::clone(&shared));
        blocking(move || {
            let result = consume_side(&args, &ranges, clock, run_id, &shared);
            if result.is_err() {
                shared.abort.store(true, Ordering::Release);
            }
            result
        })
    };
    let producer = {
        let shared = Arc::clone(&shared);
        let bar = bar.clone();
        blocking(move || {
            let result = produce_side(&args, clock, run_id, &shared, &bar);
            match &result {
                Ok(side) => shared.delivered.store(side.acked, Ordering::Release),
                Err(_) => shared.abort.store(true, Ordering::Release),
            }
            shared.producer_done.store(true, Ordering::Release);
            result
        })
    };
    let (produced, consumed) = tokio::join!(producer, consumer);
    let (produced, consumed) = (produced??, consumed??);
    bar.finish_and_clear();
    if produced.acked == 0 && produced.errors > 0 {
        bail!("e2e: all {} records failed to be delivered", produced.errors);
    }
    Ok(E2eOutcome {
        target_rate,
        achieved_rate: per_second(produced.sent, produced.send_elapsed),
        sent: produced.sent,
        delivered: produced.acked,
        delivery_errors: produced.errors,
        received: consumed.received,
        consumer_errors: consumed.errors,
        latency: consumed.latency.summary(),
        slowest_seconds: consumed.slowest_seconds(),
    })
}

fn produce_side(
    args: &BenchArgs,
    clock: Clock,
    run_id: u64,
    shared: &Shared,
    bar: &ProgressBar,
) -> Result<ProducerSide> {
    let producer = create_producer(args, clock, true)?;
    let size = usize::try_from(args.record_size).unwrap_or(usize::MAX).max(E2E_HEADER_LEN);
    let pool = PayloadPool::new(size, run_id);
    let mut buf = vec![0u8; size];
    let total = Pacer::records_for(args.rate, args.e2e_warmup_secs() + args.e2e_duration_secs);
    let pacer = Pacer::new(args.rate, total);

    let start = Instant::now();
    let warmup = Duration::from_secs(args.e2e_warmup_secs());
    shared.warmup_end_ns.store(clock.now_ns() + duration_ns(warmup), Ordering::Release);
    let mut last_refresh = start;
    let mut next = 0u64;
    while next < total && !shared.abort.load(Ordering::Acquire) {
        let due = pacer.due_count(start.elapsed());
        while next < due {
            buf.copy_from_slice(pool.payload(next));
            loop {
                let sent_ns = clock.now_ns();
                encode_e2e_header(&mut buf, run_id, sent_ns);
                let record =
                    BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, sent_ns as usize).payload(&buf[..]);
                match producer.send(record) {
                    Ok(()) => break,
                    Err((e, _)) if is_queue_full(&e) => producer.poll(Duration::from_millis(1)),
                    Err((e, _)) => bail!("e2e: producing to topic `{}` failed: {e}", args.topic),
                }
            }
            next += 1;
        }
        producer.poll(Duration::ZERO);
        if last_refresh.elapsed() >= BAR_REFRESH {
            last_refresh = Instant::now();
            bar.set_position(next);
            bar.set_message(format!("received {}", shared.received.load(Ordering::Relaxed)));
        }
        if let Some(wait) = pacer.wait_before(next, start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let send_elapsed = start.elapsed();
    bar.set_position(next);
    drain(&producer, args.message_timeout(true), &ProgressBar::hidden());
    let state = producer.context().state();
    Ok(ProducerSide { sent: next, acked: state.acked, errors: state.errors, send_elapsed })
}

fn consume_side(
    args: &BenchArgs,
    ranges: &[PartitionRange],
    clock: Clock,
    run_id: u64,
    shared: &Shared,
) -> Result<ConsumerSide> {
    let consumer = assigned_consumer(args, "e2e", false, ranges)?;
    let drain_timeout = MIN_DRAIN_TIMEOUT.max(args.request_timeout() * 3);
    let mut side =
        ConsumerSide { received: 0, errors: 0, latency: LatencyHistogram::new(), per_second: Default::default() };
    let mut drain_deadline: Option<Instant> = None;
    while !shared.abort.load(Ordering::Acquire) {
        match consumer.poll(POLL_TIMEOUT) {
            Some(Ok(msg)) => {
                let now_ns = clock.now_ns();
                if let Some(sent_ns) = msg.payload().and_then(|p| decode_e2e_header(p, run_id)) {
                    side.received += 1;
                    shared.received.store(side.received, Ordering::Relaxed);
                    let warmup_end_ns = shared.warmup_end_ns.load(Ordering::Acquire);
                    if sent_ns >= warmup_end_ns {
                        side.record(warmup_end_ns, sent_ns, now_ns);
                    }
                }
            }
            Some(Err(_)) => side.errors += 1,
            None => {}
        }
        if shared.producer_done.load(Ordering::Acquire) {
            if side.received >= shared.delivered.load(Ordering::Acquire) {
                break;
            }
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + drain_timeout);
            if Instant::now() >= deadline {
                break;
            }
        }
    }
    Ok(side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_seconds_are_named_slowest_first() {
        let mut side =
            ConsumerSide { received: 0, errors: 0, latency: LatencyHistogram::new(), per_second: Default::default() };
        let warmup_end = 5_000_000_000;
        for (sent_s, latency_ms) in [(0.1, 2), (0.9, 7), (1.5, 300), (2.2, 40), (3.0, 1), (4.4, 40)] {
            let sent = warmup_end + (sent_s * 1e9) as u64;
            side.record(warmup_end, sent, sent + latency_ms * 1_000_000);
        }
        assert_eq!(side.slowest_seconds(), vec![(1, 300.0), (2, 40.0), (4, 40.0)]);
        assert_eq!(side.latency.summary().map(|s| s.samples), Some(6));
    }
}
