//! One share partition (KIP-932): the start offset (SPSO), the end of what was ever acquired, the in-flight
//! runs between them, and acquisition. Acknowledgements are in `acknowledge`, lock expiry and member release
//! in `locks`, the stored form in `persist`.
//!
//! Invariants kept by every operation: the runs cover `start..end` exactly, without gaps or overlap; the
//! first run is never terminal (the start offset moves past acknowledged and archived heads at once); at most
//! `max_in_flight` offsets lie in `start..end` once new records are acquired; delivery counts only grow.

use crate::runs::{Run, Runs};
use crate::{Counters, InFlight, RecordState, ShareConfig};

/// Offsets `first_offset..=last_offset` handed to a member, each delivered `delivery_count` times now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquiredRange {
    pub first_offset: i64,
    pub last_offset: i64,
    pub delivery_count: i16,
}

/// The state a share-partition leader holds for one (group, topic, partition).
#[derive(Debug, Clone)]
pub struct SharePartition {
    pub(crate) config: ShareConfig,
    /// SPSO: every offset below is acknowledged or archived (or was skipped by a reset).
    pub(crate) start: i64,
    /// One past the last offset ever acquired (Kafka's SPEO + 1): offsets from here on were never delivered.
    pub(crate) end: i64,
    pub(crate) runs: Runs,
    pub(crate) counters: Counters,
}

impl SharePartition {
    /// A partition with nothing in flight, starting at `start_offset` (from [`crate::AutoOffsetReset`] for a
    /// partition with no stored state).
    pub fn new(config: ShareConfig, start_offset: i64) -> Self {
        SharePartition {
            config,
            start: start_offset,
            end: start_offset,
            runs: Runs::default(),
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &ShareConfig {
        &self.config
    }

    /// Applies changed group configs; they govern acquisitions and releases from now on.
    pub fn set_config(&mut self, config: ShareConfig) {
        self.config = config;
    }

    /// The share-partition start offset (SPSO).
    pub fn start_offset(&self) -> i64 {
        self.start
    }

    /// One past the last offset ever acquired: the log is read from here for records never delivered.
    pub fn end_offset(&self) -> i64 {
        self.end
    }

    /// Where the next fetch for this partition reads the log: the first available record, else the end.
    pub fn next_fetch_offset(&self) -> i64 {
        self.runs.iter().find(|(_, r)| r.state == RecordState::Available).map_or(self.end, |(first, _)| first)
    }

    /// Whether a fetch could acquire anything: records are available, or the in-flight limit leaves room.
    pub fn can_acquire(&self) -> bool {
        self.next_fetch_offset() < self.end || self.end.saturating_sub(self.start) < self.config.max_in_flight
    }

    /// The counters since this partition was created or loaded.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// How many offsets in flight are in each state.
    pub fn in_flight(&self) -> InFlight {
        let mut out = InFlight::default();
        for (first, run) in self.runs.iter() {
            let n = run.last - first + 1;
            match run.state {
                RecordState::Available => out.available += n,
                RecordState::Acquired { .. } => out.acquired += n,
                RecordState::Acknowledged => out.acknowledged += n,
                RecordState::Archived => out.archived += n,
            }
        }
        out
    }

    /// The earliest acquisition lock deadline, for the caller's timer.
    pub fn next_lock_deadline(&self) -> Option<i64> {
        self.runs
            .iter()
            .filter_map(|(_, r)| match r.state {
                RecordState::Acquired { deadline_ms, .. } => Some(deadline_ms),
                _ => None,
            })
            .min()
    }

    /// The state and delivery count of `offset` if it is in flight (`start..end`).
    pub fn state_of(&self, offset: i64) -> Option<(RecordState, i16)> {
        self.runs.overlapping(offset, offset).next().map(|(_, r)| (r.state.clone(), r.delivery_count))
    }

    /// Acquires for `member`, until `now_ms` + the lock duration, up to `max_records` of the records the log
    /// returned for offsets `first..=last` (read from [`Self::next_fetch_offset`], bounded by the high
    /// watermark or last stable offset): available ones first, then records never delivered, as far as the
    /// in-flight limit allows. Offsets between the end and `first` that the log skipped hold no record and are
    /// archived. Expired locks are released first. Returns the acquired ranges in offset order.
    pub fn acquire(
        &mut self,
        member: &str,
        first: i64,
        last: i64,
        max_records: usize,
        now_ms: i64,
    ) -> Vec<AcquiredRange> {
        self.expire_locks(now_ms);
        let mut budget = i64::try_from(max_records).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        if budget == 0 || last < first {
            return out;
        }
        let acquired = RecordState::Acquired {
            member: std::sync::Arc::from(member),
            deadline_ms: now_ms.saturating_add(self.config.lock_duration_ms),
        };
        let (lo, hi) = (first.max(self.start), last.min(self.end - 1));
        if lo <= hi {
            let candidates: Vec<(i64, i64)> = self
                .runs
                .overlapping(lo, hi)
                .filter(|(_, r)| r.state == RecordState::Available)
                .map(|(k, r)| (k.max(lo), r.last.min(hi)))
                .collect();
            for (a, b) in candidates {
                if budget == 0 {
                    break;
                }
                let b = b.min(a.saturating_add(budget - 1));
                for key in self.runs.isolate(a, b) {
                    let Some(run) = self.runs.get_mut(key) else { continue };
                    run.state = acquired.clone();
                    run.delivery_count = run.delivery_count.saturating_add(1);
                    let n = run.last - key + 1;
                    budget -= n;
                    self.counters.acquired += n as u64;
                    if run.delivery_count > 1 {
                        self.counters.redelivered += n as u64;
                    }
                    out.push(AcquiredRange {
                        first_offset: key,
                        last_offset: run.last,
                        delivery_count: run.delivery_count,
                    });
                }
            }
            self.runs.coalesce(lo, hi);
        }
        if budget > 0 && last >= self.end {
            self.acquire_new(acquired, first.max(self.end), last, budget, &mut out);
        }
        self.advance_start();
        out
    }

    /// Acquires records never delivered, `from..=last` (within the in-flight limit and `budget`).
    fn acquire_new(&mut self, acquired: RecordState, from: i64, last: i64, budget: i64, out: &mut Vec<AcquiredRange>) {
        let room = self.start.saturating_add(self.config.max_in_flight).saturating_sub(from);
        let n = budget.min(room).min(last.saturating_sub(from).saturating_add(1));
        if n <= 0 {
            return;
        }
        if from > self.end {
            self.runs.insert(self.end, Run { last: from - 1, state: RecordState::Archived, delivery_count: 0 });
        }
        let to = from + n - 1;
        self.runs.insert(from, Run { last: to, state: acquired, delivery_count: 1 });
        self.runs.coalesce(from, to);
        self.end = to + 1;
        self.counters.acquired += n as u64;
        out.push(AcquiredRange { first_offset: from, last_offset: to, delivery_count: 1 });
    }

    /// Archives what `member` holds of `first..=last` right after acquiring it, because it must not be
    /// delivered: records of aborted transactions under read_committed. Offsets in the range
    /// not held by `member` are left alone. Returns how many were archived (they stay counted as acquired,
    /// not as archived: no consumer ever saw them).
    pub fn archive_undeliverable(&mut self, member: &str, first: i64, last: i64) -> u64 {
        let (lo, hi) = (first.max(self.start), last.min(self.end - 1));
        if lo > hi {
            return 0;
        }
        let held: Vec<(i64, i64)> = self
            .runs
            .overlapping(lo, hi)
            .filter(|(_, r)| matches!(&r.state, RecordState::Acquired { member: m, .. } if &**m == member))
            .map(|(k, r)| (k.max(lo), r.last.min(hi)))
            .collect();
        let mut archived = 0;
        for (a, b) in held {
            for key in self.runs.isolate(a, b) {
                if let Some(run) = self.runs.get_mut(key) {
                    run.state = RecordState::Archived;
                    archived += (run.last - key + 1) as u64;
                }
            }
        }
        self.runs.coalesce(lo, hi);
        self.advance_start();
        archived
    }

    /// Starts over at `offset` with nothing in flight (AlterShareGroupOffsets, allowed only while the group
    /// has no members). The one way the start offset moves back.
    pub fn reset(&mut self, offset: i64) {
        self.runs.clear();
        self.start = offset;
        self.end = offset;
    }

    /// The log start moved to `log_start` (retention, DeleteRecords): records below it are gone, so those in
    /// flight are archived (a member still holding one gets INVALID_RECORD_STATE) and the start offset moves up.
    pub fn log_start_moved(&mut self, log_start: i64) {
        if log_start <= self.start {
            return;
        }
        for (first, run) in self.runs.remove_below(log_start) {
            if !run.state.is_terminal() && run.delivery_count > 0 {
                self.counters.archived += (run.last - first + 1) as u64;
            }
        }
        self.start = log_start;
        self.end = self.end.max(log_start);
        self.advance_start();
    }

    /// Moves the start offset past acknowledged and archived runs at the head.
    pub(crate) fn advance_start(&mut self) {
        while let Some((_, run)) = self.runs.first() {
            if !run.state.is_terminal() {
                break;
            }
            if let Some((_, run)) = self.runs.pop_first() {
                self.start = run.last + 1;
            }
        }
        if self.runs.first().is_none() {
            self.start = self.end;
        }
    }
}
