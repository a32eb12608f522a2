//! The share mode's accounting, shared by all its consumers: which records were delivered, accepted
//! (acknowledged with ACCEPT and confirmed by the broker) and released, and when. From it come the
//! duplicate count (a record delivered or accepted again after it was accepted: a broker bug), the
//! redelivery latency (from the RELEASE sent to the next delivery of that record) and the final check
//! that every record of the expected ranges was accepted exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use anyhow::{Result, bail};

use crate::cluster::PartitionRange;
use crate::latency::{LatencyHistogram, LatencySummary};

/// A record: (partition, offset).
type Key = (i32, i64);

pub(crate) struct Ledger {
    ranges: Vec<PartitionRange>,
    expected: u64,
    state: Mutex<State>,
}

struct State {
    accepted: HashSet<Key>,
    /// Released records not delivered again yet, with the time their RELEASE was sent (clock ns).
    released: HashMap<Key, u64>,
    /// Redeliveries seen before the RELEASE that caused them was confirmed to its sender (another consumer
    /// may get the record first), with their time.
    early: HashMap<Key, u64>,
    accepted_expected: u64,
    accepted_outside: u64,
    deliveries: u64,
    redeliveries: u64,
    releases: u64,
    duplicates: u64,
    redelivery: LatencyHistogram,
    finished_ns: Option<u64>,
}

/// What the ledger saw, for the report and the final check.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// Records in the expected ranges.
    pub expected: u64,
    /// Of those, how many were accepted.
    pub accepted: u64,
    /// Records accepted outside the expected ranges.
    pub outside: u64,
    /// Deliveries (a record delivered twice counts twice).
    pub deliveries: u64,
    /// Deliveries with a delivery count above 1.
    pub redeliveries: u64,
    /// RELEASE acknowledgements the broker confirmed.
    pub releases: u64,
    /// Records delivered or accepted again after they were accepted.
    pub duplicates: u64,
    /// From a RELEASE sent to the record's next delivery.
    pub redelivery_latency: Option<LatencySummary>,
    /// When the last expected record was accepted (clock ns).
    pub finished_ns: Option<u64>,
}

impl Ledger {
    pub(crate) fn new(ranges: Vec<PartitionRange>) -> Ledger {
        let expected = ranges.iter().map(PartitionRange::len).sum();
        let state = State {
            accepted: HashSet::new(),
            released: HashMap::new(),
            early: HashMap::new(),
            accepted_expected: 0,
            accepted_outside: 0,
            deliveries: 0,
            redeliveries: 0,
            releases: 0,
            duplicates: 0,
            redelivery: LatencyHistogram::new(),
            finished_ns: None,
        };
        Ledger { ranges, expected, state: Mutex::new(state) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn in_range(&self, (partition, offset): Key) -> bool {
        self.ranges.iter().any(|r| r.partition == partition && (r.start..r.end).contains(&offset))
    }

    /// `offset` of `partition` was handed to a consumer at `now_ns` with `count` (1 the first time).
    pub(crate) fn delivered(&self, partition: i32, offset: i64, count: i16, now_ns: u64) {
        let key = (partition, offset);
        let mut s = self.state();
        s.deliveries += 1;
        if count > 1 {
            s.redeliveries += 1;
        }
        if s.accepted.contains(&key) {
            s.duplicates += 1;
        }
        if let Some(sent) = s.released.remove(&key) {
            s.redelivery.record_interval_ns(sent, now_ns);
        } else if count > 1 {
            s.early.insert(key, now_ns);
        }
    }

    /// The broker confirmed ACCEPT of `first..=last` of `partition`.
    pub(crate) fn accepted(&self, partition: i32, first: i64, last: i64, now_ns: u64) {
        let mut s = self.state();
        for offset in first..=last {
            let key = (partition, offset);
            if !s.accepted.insert(key) {
                s.duplicates += 1;
            } else if self.in_range(key) {
                s.accepted_expected += 1;
            } else {
                s.accepted_outside += 1;
            }
        }
        if s.finished_ns.is_none() && s.accepted_expected >= self.expected {
            s.finished_ns = Some(now_ns);
        }
    }

    /// The broker confirmed RELEASE of `first..=last` of `partition`, sent at `sent_ns`.
    pub(crate) fn released(&self, partition: i32, first: i64, last: i64, sent_ns: u64) {
        let mut s = self.state();
        for offset in first..=last {
            s.releases += 1;
            match s.early.remove(&(partition, offset)) {
                Some(delivered) => s.redelivery.record_interval_ns(sent_ns, delivered),
                None => {
                    s.released.insert((partition, offset), sent_ns);
                }
            }
        }
    }

    /// Whether every expected record was accepted.
    pub(crate) fn finished(&self) -> bool {
        self.state().finished_ns.is_some()
    }

    /// Records accepted so far (in the expected ranges).
    pub(crate) fn accepted_count(&self) -> u64 {
        self.state().accepted_expected
    }

    pub(crate) fn verdict(&self) -> Verdict {
        let s = self.state();
        Verdict {
            expected: self.expected,
            accepted: s.accepted_expected,
            outside: s.accepted_outside,
            deliveries: s.deliveries,
            redeliveries: s.redeliveries,
            releases: s.releases,
            duplicates: s.duplicates,
            redelivery_latency: s.redelivery.summary(),
            finished_ns: s.finished_ns,
        }
    }
}

impl Verdict {
    /// Fails unless every expected record was accepted exactly once and nothing else was.
    pub(crate) fn check(&self) -> Result<()> {
        if self.duplicates > 0 {
            bail!(
                "share group delivered or accepted {} records again after they were accepted (exactly-once broken)",
                self.duplicates
            );
        }
        if self.accepted != self.expected {
            bail!("share group accepted {} of the {} records produced", self.accepted, self.expected);
        }
        if self.outside > 0 {
            bail!("share group accepted {} records outside the produced ranges", self.outside);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        Ledger::new(vec![
            PartitionRange { partition: 0, start: 0, end: 3 },
            PartitionRange { partition: 1, start: 10, end: 12 },
        ])
    }

    #[test]
    fn every_record_accepted_once_passes() {
        let l = ledger();
        for o in 0..3 {
            l.delivered(0, o, 1, 0);
        }
        l.accepted(0, 0, 2, 5);
        assert!(!l.finished());
        l.delivered(1, 10, 1, 6);
        l.delivered(1, 11, 1, 6);
        l.accepted(1, 10, 11, 9);
        assert!(l.finished());
        let v = l.verdict();
        assert_eq!((v.expected, v.accepted, v.deliveries, v.duplicates), (5, 5, 5, 0));
        assert_eq!(v.finished_ns, Some(9));
        v.check().unwrap();
    }

    #[test]
    fn delivery_after_accept_is_a_duplicate() {
        let l = ledger();
        l.accepted(0, 0, 2, 1);
        l.accepted(1, 10, 11, 1);
        l.delivered(0, 1, 2, 2);
        let v = l.verdict();
        assert_eq!(v.duplicates, 1);
        assert!(v.check().unwrap_err().to_string().contains("again after they were accepted"));
    }

    #[test]
    fn double_accept_is_a_duplicate() {
        let l = ledger();
        l.accepted(0, 0, 2, 1);
        l.accepted(0, 2, 2, 1);
        l.accepted(1, 10, 11, 1);
        assert_eq!(l.verdict().duplicates, 1);
        assert!(l.verdict().check().is_err());
    }

    #[test]
    fn missing_and_outside_records_fail() {
        let l = ledger();
        l.accepted(0, 0, 2, 1);
        let err = l.verdict().check().unwrap_err().to_string();
        assert!(err.contains("accepted 3 of the 5"), "{err}");
        l.accepted(1, 10, 12, 2);
        let v = l.verdict();
        assert_eq!((v.accepted, v.outside), (5, 1));
        assert!(v.check().unwrap_err().to_string().contains("outside"));
    }

    #[test]
    fn redelivery_latency_runs_from_release_to_next_delivery() {
        let l = ledger();
        l.delivered(0, 0, 1, 0);
        l.released(0, 0, 0, 1_000_000);
        l.delivered(0, 0, 2, 4_000_000);
        // A later delivery of the same record is not a second sample.
        l.delivered(0, 1, 1, 9_000_000);
        let v = l.verdict();
        let lat = v.redelivery_latency.unwrap();
        assert_eq!(lat.samples, 1);
        assert!((lat.p50_ms - 3.0).abs() < 0.01, "{lat:?}");
        assert_eq!((v.releases, v.redeliveries, v.duplicates), (1, 1, 0));
    }

    #[test]
    fn redelivery_seen_before_its_release_is_confirmed_still_counts() {
        let l = ledger();
        l.delivered(0, 2, 1, 0);
        // Another consumer gets the record again before the releasing one reads its answer.
        l.delivered(0, 2, 2, 7_000_000);
        l.released(0, 2, 2, 5_000_000);
        let lat = l.verdict().redelivery_latency.unwrap();
        assert_eq!(lat.samples, 1);
        assert!((lat.p50_ms - 2.0).abs() < 0.01, "{lat:?}");
    }
}
