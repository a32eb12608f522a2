//! The run's shared meter: every producer and consumer thread records into it, and the controller takes
//! one interval's figures from it each second. Counters are atomics swapped to zero per interval;
//! latencies (from each record's intended send time, so a producer that falls behind is not hidden) go
//! into the interval's and, after the warmup, the whole run's histograms, and the ramping producer group's
//! also into the open step of their send time (`steps`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::steps::{StepWindow, StepWindows};
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
    pub(crate) fn new() -> Self {
        Latencies { ack: LatencyHistogram::new(), e2e: LatencyHistogram::new() }
    }
}

struct Windows {
    interval: Latencies,
    steps: StepWindows,
    run: Latencies,
    /// How late records were handed to the client after their intended send time (after the warmup).
    send_lag: LatencyHistogram,
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
    /// Records acknowledged per topic whose transaction was then aborted (read_committed never sees them).
    aborted_by_topic: Vec<AtomicU64>,
    /// Highest offset of a record stored for good (acknowledged; in a committed transaction) per
    /// (topic, partition).
    last_offsets: Mutex<HashMap<(usize, i32), i64>>,
    /// The producer group whose latencies go into the ramp's steps.
    ramp_group: Option<usize>,
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
    /// A meter for `topics` topics and `groups` consumer groups; `ramp_group` is the ramping producer group.
    pub(crate) fn new(clock: Clock, topics: usize, groups: usize, ramp_group: Option<usize>) -> Meter {
        Meter {
            clock,
            warmup_end_ns: AtomicU64::new(u64::MAX),
            counters: Counters::default(),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            acked_bytes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            acked_by_topic: (0..topics).map(|_| AtomicU64::new(0)).collect(),
            aborted_by_topic: (0..topics).map(|_| AtomicU64::new(0)).collect(),
            last_offsets: Mutex::new(HashMap::new()),
            ramp_group,
            consumed_by_group: (0..groups).map(|_| AtomicU64::new(0)).collect(),
            progress: Mutex::new(HashMap::new()),
            redelivered: AtomicU64::new(0),
            transactions_committed: AtomicU64::new(0),
            transactions_aborted: AtomicU64::new(0),
            rejoins: AtomicU64::new(0),
            windows: Mutex::new(Windows {
                interval: Latencies::new(),
                steps: StepWindows::default(),
                run: Latencies::new(),
                send_lag: LatencyHistogram::new(),
            }),
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

    fn ramps(&self, group: usize) -> bool {
        self.ramp_group == Some(group)
    }

    /// Producer group `group` handed the client a record meant to be sent at `intended_ns`.
    pub(crate) fn sent(&self, group: usize, intended_ns: u64) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now_ns();
        let mut w = self.windows();
        if self.warmed_up(intended_ns) {
            w.send_lag.record_interval_ns(intended_ns, now);
        }
        if self.ramps(group)
            && let Some(step) = w.steps.of(intended_ns)
        {
            step.sent += 1;
        }
    }

    /// A record of producer group `group`, of `bytes` (key and value), to topic `topic`, meant to be sent at
    /// `sent_ns`, was acknowledged now.
    pub(crate) fn acked(&self, group: usize, topic: usize, bytes: u64, sent_ns: u64) {
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
            w.run.ack.record_interval_ns(sent_ns, now);
        }
        if self.ramps(group)
            && let Some(step) = w.steps.of(sent_ns)
        {
            step.acked += 1;
            step.latencies.ack.record_interval_ns(sent_ns, now);
        }
    }

    /// A record of producer group `group` meant to be sent at `sent_ns` failed.
    pub(crate) fn produce_failed(&self, group: usize, sent_ns: u64) {
        self.counters.produce_errors.fetch_add(1, Ordering::Relaxed);
        self.failed.fetch_add(1, Ordering::Relaxed);
        if self.ramps(group)
            && let Some(step) = self.windows().steps.of(sent_ns)
        {
            step.errors += 1;
        }
    }

    /// Records stored for good on `topic`: the highest offset per partition (keeps the highest seen).
    pub(crate) fn stored(&self, topic: usize, offsets: impl IntoIterator<Item = (i32, i64)>) {
        let mut last = self.last_offsets.lock().unwrap_or_else(PoisonError::into_inner);
        for (partition, offset) in offsets {
            let high = last.entry((topic, partition)).or_insert(-1);
            *high = (*high).max(offset);
        }
    }

    /// The offset of the last record stored for good per partition of `topic` (partitions without one are
    /// left out): where a read_committed consumer has read everything, whatever markers follow it.
    pub(crate) fn last_offsets(&self, topic: usize) -> Vec<(i32, i64)> {
        let last = self.last_offsets.lock().unwrap_or_else(PoisonError::into_inner);
        last.iter().filter(|((t, _), _)| *t == topic).map(|((_, p), o)| (*p, *o)).collect()
    }

    /// `records` acknowledged records to `topic` were in a transaction that was aborted.
    pub(crate) fn aborted(&self, topic: usize, records: u64) {
        if let Some(n) = self.aborted_by_topic.get(topic) {
            n.fetch_add(records, Ordering::Relaxed);
        }
    }

    pub(crate) fn consume_failed(&self) {
        self.counters.consume_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Group `group` received the record at `partition`/`offset`; counts it unless the group had it before
    /// (a redelivery after a rebalance). `sent` is the producer group and intended send time it carries, for
    /// end-to-end latency.
    pub(crate) fn consumed(&self, group: usize, partition: i32, offset: i64, bytes: u64, sent: Option<(usize, u64)>) {
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
        if let Some((producer_group, sent_ns)) = sent {
            let mut w = self.windows();
            w.interval.e2e.record_interval_ns(sent_ns, now);
            if self.warmed_up(sent_ns) {
                w.run.e2e.record_interval_ns(sent_ns, now);
            }
            if self.ramps(producer_group)
                && let Some(step) = w.steps.of(sent_ns)
            {
                step.consumed += 1;
                step.latencies.e2e.record_interval_ns(sent_ns, now);
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

    /// Opens a ramp step for records meant to be sent from `start_ns` on.
    pub(crate) fn open_step(&self, start_ns: u64) {
        self.windows().steps.open(start_ns);
    }

    /// The step that started at `start_ns` takes no records meant to be sent from `end_ns` on.
    pub(crate) fn end_step(&self, start_ns: u64, end_ns: u64) {
        self.windows().steps.end(start_ns, end_ns);
    }

    /// What the step that started at `start_ns` measured so far.
    pub(crate) fn step(&self, start_ns: u64) -> Option<StepWindow> {
        self.windows().steps.get(start_ns)
    }

    /// Closes the step that started at `start_ns`, returning what it measured.
    pub(crate) fn close_step(&self, start_ns: u64) -> Option<StepWindow> {
        self.windows().steps.close(start_ns)
    }

    /// Drops every open step (the ramp ended).
    pub(crate) fn drop_steps(&self) {
        self.windows().steps.clear();
    }

    /// How late records were handed to the client after their intended send time (after the warmup).
    pub(crate) fn send_lag(&self) -> LatencyHistogram {
        self.windows().send_lag.clone()
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

    /// Records acknowledged to `topic` that a read_committed consumer can read (aborted ones left out).
    pub(crate) fn acked_to(&self, topic: usize) -> u64 {
        let count = |v: &[AtomicU64]| v.get(topic).map_or(0, |n| n.load(Ordering::Relaxed));
        count(&self.acked_by_topic).saturating_sub(count(&self.aborted_by_topic))
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
    fn intervals_swap_and_warmup_is_left_out_of_the_run() {
        let clock = Clock::new();
        let meter = Meter::new(clock, 1, 2, None);
        meter.warmup_end_ns.store(1_000_000, Ordering::Relaxed);
        meter.sent(0, 0);
        meter.sent(0, 2_000_000);
        meter.acked(0, 0, 100, 0); // during the warmup
        meter.acked(0, 0, 100, 2_000_000);
        assert_eq!(meter.in_flight(), 0);
        let (counts, lat) = meter.take_interval();
        assert_eq!((counts.produced_records, counts.produced_bytes), (2, 200));
        assert_eq!(lat.ack.summary().unwrap().samples, 2);
        assert_eq!(meter.run_latencies().ack.summary().unwrap().samples, 1);
        assert_eq!(meter.send_lag().summary().unwrap().samples, 1, "the lag after the warmup");
        assert_eq!(meter.take_interval().0, Counts::default(), "swapped to zero");
        assert_eq!(meter.acked_to(0), 2);
        assert_eq!(meter.mean_record_bytes(), 100.0);
        meter.aborted(0, 1);
        assert_eq!(meter.acked_to(0), 1, "aborted records are never read");
    }

    #[test]
    fn steps_count_only_the_ramping_group_by_send_time() {
        let meter = Meter::new(Clock::new(), 1, 1, Some(1));
        meter.start(std::time::Duration::ZERO);
        meter.open_step(100);
        meter.open_step(200);
        for (group, sent_ns) in [(1, 150), (1, 250), (0, 150), (1, 50)] {
            meter.sent(group, sent_ns);
            meter.acked(group, 0, 10, sent_ns);
            meter.consumed(0, 0, sent_ns as i64, 10, Some((group, sent_ns)));
        }
        meter.sent(1, 160);
        meter.produce_failed(0, 160);
        let first = meter.step(100).unwrap();
        assert_eq!((first.sent, first.acked, first.errors, first.consumed, first.in_flight()), (2, 1, 0, 1, 1));
        assert_eq!(first.latencies.ack.summary().unwrap().samples, 1);
        meter.produce_failed(1, 160);
        assert_eq!(meter.close_step(100).unwrap().errors, 1);
        assert_eq!(meter.step(200).unwrap().acked, 1);
        meter.drop_steps();
        assert!(meter.step(200).is_none());
    }

    #[test]
    fn last_offsets_keep_the_highest_per_partition() {
        let meter = Meter::new(Clock::new(), 2, 0, None);
        meter.stored(0, [(0, 5), (1, 2)]);
        meter.stored(0, [(0, 3)]);
        meter.stored(1, [(0, 9)]);
        let mut last = meter.last_offsets(0);
        last.sort_unstable();
        assert_eq!(last, vec![(0, 5), (1, 2)]);
    }

    #[test]
    fn redeliveries_are_not_counted_twice_per_group() {
        let meter = Meter::new(Clock::new(), 1, 2, None);
        meter.start(std::time::Duration::ZERO);
        meter.consumed(0, 0, 0, 10, Some((0, 0)));
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
