//! The run's shared meter: every producer and consumer thread records into it, and the controller takes
//! one interval's figures from it each second. Counters are atomics swapped to zero per interval;
//! latencies go into three histograms at once (the interval's, the ramp step's and the whole run's), the
//! last two only after the warmup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::latency::{Clock, LatencyHistogram};

/// Counters swapped out each interval.
#[derive(Debug, Default)]
struct Counters {
    produced_records: AtomicU64,
    produced_bytes: AtomicU64,
    produce_errors: AtomicU64,
    consumed_records: AtomicU64,
    consumed_bytes: AtomicU64,
    consume_errors: AtomicU64,
}

/// One interval's counts, as taken.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counts {
    pub produced_records: u64,
    pub produced_bytes: u64,
    pub produce_errors: u64,
    pub consumed_records: u64,
    pub consumed_bytes: u64,
    pub consume_errors: u64,
}

/// Latencies of one window, produce-ack and end-to-end.
#[derive(Debug, Clone)]
pub(crate) struct Latencies {
    pub ack: LatencyHistogram,
    pub e2e: LatencyHistogram,
}

impl Latencies {
    fn new() -> Self {
        Latencies { ack: LatencyHistogram::new(), e2e: LatencyHistogram::new() }
    }
}

struct Windows {
    interval: Latencies,
    step: Latencies,
    run: Latencies,
}

pub(crate) struct Meter {
    pub clock: Clock,
    /// Clock time at which the warmup ends; `u64::MAX` until the producers start.
    warmup_end_ns: AtomicU64,
    counters: Counters,
    sent: AtomicU64,
    acked: AtomicU64,
    acked_bytes: AtomicU64,
    failed: AtomicU64,
    /// Records acknowledged per topic (by the topic's index in the scenario).
    acked_by_topic: Vec<AtomicU64>,
    /// Distinct records consumed per group (by the group's index in the run).
    consumed_by_group: Vec<AtomicU64>,
    /// Highest offset consumed per (group, partition): a record at or below it is a redelivery.
    progress: Mutex<HashMap<(usize, i32), i64>>,
    redelivered: AtomicU64,
    pub transactions_committed: AtomicU64,
    pub transactions_aborted: AtomicU64,
    pub rejoins: AtomicU64,
    windows: Mutex<Windows>,
}

impl Meter {
    pub(crate) fn new(clock: Clock, topics: usize, groups: usize) -> Meter {
        Meter {
            clock,
            warmup_end_ns: AtomicU64::new(u64::MAX),
            counters: Counters::default(),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            acked_bytes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            acked_by_topic: (0..topics).map(|_| AtomicU64::new(0)).collect(),
            consumed_by_group: (0..groups).map(|_| AtomicU64::new(0)).collect(),
            progress: Mutex::new(HashMap::new()),
            redelivered: AtomicU64::new(0),
            transactions_committed: AtomicU64::new(0),
            transactions_aborted: AtomicU64::new(0),
            rejoins: AtomicU64::new(0),
            windows: Mutex::new(Windows { interval: Latencies::new(), step: Latencies::new(), run: Latencies::new() }),
        }
    }

    /// The load starts now: latencies of records sent after `warmup` from now count in the step and run.
    pub(crate) fn start(&self, warmup: std::time::Duration) {
        let end = self.clock.now_ns().saturating_add(crate::latency::duration_ns(warmup));
        self.warmup_end_ns.store(end, Ordering::Relaxed);
    }

    fn warmed_up(&self, sent_ns: u64) -> bool {
        sent_ns >= self.warmup_end_ns.load(Ordering::Relaxed)
    }

    fn windows(&self) -> MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A record of `bytes` (key and value) to topic `topic` sent at `sent_ns` was acknowledged now.
    pub(crate) fn acked(&self, topic: usize, bytes: u64, sent_ns: u64) {
        let now = self.clock.now_ns();
        self.counters.produced_records.fetch_add(1, Ordering::Relaxed);
        self.counters.produced_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.acked.fetch_add(1, Ordering::Relaxed);
        self.acked_bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(n) = self.acked_by_topic.get(topic) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        let mut w = self.windows();
        w.interval.ack.record_interval_ns(sent_ns, now);
        if self.warmed_up(sent_ns) {
            w.step.ack.record_interval_ns(sent_ns, now);
            w.run.ack.record_interval_ns(sent_ns, now);
        }
    }

    pub(crate) fn produce_failed(&self) {
        self.counters.produce_errors.fetch_add(1, Ordering::Relaxed);
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn consume_failed(&self) {
        self.counters.consume_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Group `group` received the record at `partition`/`offset`; counts it unless the group had it before
    /// (a redelivery after a rebalance). `sent_ns` is the send time it carries, for end-to-end latency.
    pub(crate) fn consumed(&self, group: usize, partition: i32, offset: i64, bytes: u64, sent_ns: Option<u64>) {
        let now = self.clock.now_ns();
        {
            let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
            let high = progress.entry((group, partition)).or_insert(-1);
            if offset <= *high {
                self.redelivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            *high = offset;
        }
        self.counters.consumed_records.fetch_add(1, Ordering::Relaxed);
        self.counters.consumed_bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(n) = self.consumed_by_group.get(group) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(sent_ns) = sent_ns {
            let mut w = self.windows();
            w.interval.e2e.record_interval_ns(sent_ns, now);
            if self.warmed_up(sent_ns) {
                w.step.e2e.record_interval_ns(sent_ns, now);
                w.run.e2e.record_interval_ns(sent_ns, now);
            }
        }
    }

    /// Records a share group accepted (it counts distinct records itself).
    pub(crate) fn accepted(&self, group: usize, records: u64, bytes: u64) {
        self.counters.consumed_records.fetch_add(records, Ordering::Relaxed);
        self.counters.consumed_bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(n) = self.consumed_by_group.get(group) {
            n.fetch_add(records, Ordering::Relaxed);
        }
    }

    /// Takes the interval's counts and latencies, starting the next interval.
    pub(crate) fn take_interval(&self) -> (Counts, Latencies) {
        let c = &self.counters;
        let take = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        let counts = Counts {
            produced_records: take(&c.produced_records),
            produced_bytes: take(&c.produced_bytes),
            produce_errors: take(&c.produce_errors),
            consumed_records: take(&c.consumed_records),
            consumed_bytes: take(&c.consumed_bytes),
            consume_errors: take(&c.consume_errors),
        };
        let latencies = std::mem::replace(&mut self.windows().interval, Latencies::new());
        (counts, latencies)
    }

    /// Takes the ramp step's latencies, starting the next step.
    pub(crate) fn take_step(&self) -> Latencies {
        std::mem::replace(&mut self.windows().step, Latencies::new())
    }

    /// The whole run's latencies (after the warmup).
    pub(crate) fn run_latencies(&self) -> Latencies {
        self.windows().run.clone()
    }

    /// Records sent and not yet acknowledged or failed.
    pub(crate) fn in_flight(&self) -> u64 {
        let done = self.acked.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed);
        self.sent.load(Ordering::Relaxed).saturating_sub(done)
    }

    pub(crate) fn acked_to(&self, topic: usize) -> u64 {
        self.acked_by_topic.get(topic).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    pub(crate) fn consumed_by(&self, group: usize) -> u64 {
        self.consumed_by_group.get(group).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Whether group `group` has read up to `last_offsets` (partition, offset of its last record) on every
    /// partition that has records.
    pub(crate) fn reached(&self, group: usize, last_offsets: &[(i32, i64)]) -> bool {
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        last_offsets.iter().all(|&(p, last)| last < 0 || progress.get(&(group, p)).is_some_and(|&high| high >= last))
    }

    pub(crate) fn redelivered(&self) -> u64 {
        self.redelivered.load(Ordering::Relaxed)
    }

    /// Mean bytes of the records acknowledged so far (0 before any).
    pub(crate) fn mean_record_bytes(&self) -> f64 {
        let records = self.acked.load(Ordering::Relaxed);
        if records == 0 { 0.0 } else { self.acked_bytes.load(Ordering::Relaxed) as f64 / records as f64 }
    }

    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.acked.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_swap_and_warmup_is_left_out_of_step_and_run() {
        let clock = Clock::new();
        let meter = Meter::new(clock, 1, 2);
        meter.warmup_end_ns.store(1_000_000, Ordering::Relaxed);
        meter.sent();
        meter.sent();
        meter.acked(0, 100, 0); // during the warmup
        meter.acked(0, 100, 2_000_000);
        assert_eq!(meter.in_flight(), 0);
        let (counts, lat) = meter.take_interval();
        assert_eq!((counts.produced_records, counts.produced_bytes), (2, 200));
        assert_eq!(lat.ack.summary().unwrap().samples, 2);
        assert_eq!(meter.take_step().ack.summary().unwrap().samples, 1);
        assert_eq!(meter.run_latencies().ack.summary().unwrap().samples, 1);
        assert_eq!(meter.take_interval().0, Counts::default(), "swapped to zero");
        assert!(meter.take_step().ack.summary().is_none());
        assert_eq!(meter.acked_to(0), 2);
        assert_eq!(meter.mean_record_bytes(), 100.0);
    }

    #[test]
    fn redeliveries_are_not_counted_twice_per_group() {
        let meter = Meter::new(Clock::new(), 1, 2);
        meter.start(std::time::Duration::ZERO);
        meter.consumed(0, 0, 0, 10, Some(0));
        meter.consumed(0, 0, 1, 10, None);
        meter.consumed(0, 0, 1, 10, None); // redelivered to group 0 after a rebalance
        meter.consumed(1, 0, 1, 10, None); // group 1 reads it on its own
        meter.consume_failed();
        assert_eq!((meter.consumed_by(0), meter.consumed_by(1), meter.redelivered()), (2, 1, 1));
        assert!(meter.reached(0, &[(0, 1), (1, -1)]), "partition 1 is empty");
        assert!(!meter.reached(0, &[(0, 2)]));
        assert!(!meter.reached(1, &[(0, 1), (1, 0)]));
        let (counts, lat) = meter.take_interval();
        assert_eq!((counts.consumed_records, counts.consumed_bytes, counts.consume_errors), (3, 30, 1));
        assert_eq!(lat.e2e.summary().unwrap().samples, 1);
        meter.accepted(1, 5, 50);
        assert_eq!(meter.consumed_by(1), 6);
    }
}
