//! Property tests: random sequences of acquisitions, acknowledgements, member departures, lock expiry, log
//! start moves and store-and-reload keep KIP-932's promises: no offset is held by two members, an accepted
//! record is never delivered again, every record is finished or will be delivered again, delivery counts only
//! grow, the start offset only moves forward, and the in-flight limit holds.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use weft_meta::{ShareEpochs, SharePartitionKey};
use weft_share::{AckBatch, AcknowledgeType, RecordState, ShareConfig, SharePartition};

#[derive(Debug, Clone)]
enum Op {
    Acquire { member: u8, skip: i64, len: i64, max: usize, dt: i64 },
    Ack { member: u8, pick: usize, len: usize, kind: u8, dt: i64 },
    AckAnywhere { member: u8, first: i64, len: i64, kind: u8 },
    Leave { member: u8 },
    Undeliverable { member: u8, first: i64, len: i64 },
    Expire { dt: i64 },
    LogStart { ahead: i64 },
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, prop_oneof![3 => Just(0i64), 1 => 1i64..4], 1i64..15, 1usize..20, 0i64..400)
            .prop_map(|(member, skip, len, max, dt)| Op::Acquire { member, skip, len, max, dt }),
        4 => (0u8..3, any::<usize>(), 1usize..8, 0u8..4, 0i64..400)
            .prop_map(|(member, pick, len, kind, dt)| Op::Ack { member, pick, len, kind, dt }),
        1 => (0u8..3, 0i64..80, 1i64..6, 0u8..4).prop_map(|(member, first, len, kind)| Op::AckAnywhere { member, first, len, kind }),
        1 => (0u8..3).prop_map(|member| Op::Leave { member }),
        1 => (0u8..3, 0i64..80, 1i64..6).prop_map(|(member, first, len)| Op::Undeliverable { member, first, len }),
        1 => (0i64..1500).prop_map(|dt| Op::Expire { dt }),
        1 => (0i64..4).prop_map(|ahead| Op::LogStart { ahead }),
        1 => Just(Op::Reload),
    ]
}

/// What the test remembers independently of the partition.
#[derive(Default)]
struct Seen {
    /// Delivery count of each offset, from what acquisitions returned.
    count: BTreeMap<i64, i16>,
    /// Offsets a successful acknowledgement accepted, rejected or marked as gaps.
    finished: BTreeSet<i64>,
    accepted: BTreeSet<i64>,
    /// Offsets below a moved log start.
    trimmed: BTreeSet<i64>,
}

fn states(p: &SharePartition) -> Vec<(i64, RecordState, i16)> {
    (p.start_offset()..p.end_offset())
        .map(|o| {
            let (s, c) = p.state_of(o).expect("every offset between start and end is in flight");
            (o, s, c)
        })
        .collect()
}

fn kind(code: u8) -> AcknowledgeType {
    AcknowledgeType::from_code(code as i8).expect("codes 0..4")
}

struct Run {
    p: SharePartition,
    seen: Seen,
    now: i64,
    log_start: i64,
    limit: i16,
}

impl Run {
    fn acquire(&mut self, member: &str, skip: i64, len: i64, max: usize) {
        let before: BTreeMap<i64, RecordState> = states(&self.p).into_iter().map(|(o, s, _)| (o, s)).collect();
        let old_end = self.p.end_offset();
        let first = self.p.next_fetch_offset() + skip;
        let got = self.p.acquire(member, first, first + len - 1, max, self.now);
        let total: i64 = got.iter().map(|r| r.last_offset - r.first_offset + 1).sum();
        assert!(total <= max as i64, "{got:?} over {max}");
        for r in got {
            for o in r.first_offset..=r.last_offset {
                assert!(!self.seen.accepted.contains(&o), "accepted offset {o} delivered again");
                if o < old_end {
                    match &before[&o] {
                        RecordState::Available => {}
                        RecordState::Acquired { deadline_ms, .. } => assert!(*deadline_ms <= self.now, "{o} held"),
                        other => panic!("offset {o} acquired from {other:?}"),
                    }
                }
                let previous = self.seen.count.insert(o, r.delivery_count).unwrap_or(0);
                assert_eq!(r.delivery_count, previous + 1, "offset {o} counts every delivery");
                assert!(r.delivery_count <= self.limit, "offset {o} delivered past the limit");
            }
        }
    }

    fn ack(&mut self, member: &str, batches: &[AckBatch]) {
        self.p.expire_locks(self.now);
        let before = (states(&self.p), self.p.start_offset(), self.p.counters());
        match self.p.acknowledge(member, batches, self.now) {
            Ok(()) => {
                for b in batches.iter().filter(|b| b.kind != AcknowledgeType::Release) {
                    for o in b.first.max(before.1)..=b.last {
                        self.seen.finished.insert(o);
                        if b.kind == AcknowledgeType::Accept {
                            self.seen.accepted.insert(o);
                        }
                    }
                }
            }
            Err(_) => {
                let after = (states(&self.p), self.p.start_offset(), self.p.counters());
                assert_eq!(before, after, "a refused acknowledgement changes nothing");
            }
        }
    }

    /// Runs of offsets `member` holds, from the `pick`-th one on, at most `len` offsets.
    fn held(&self, member: &str, pick: usize, len: usize) -> Option<(i64, i64)> {
        let mine: Vec<i64> = states(&self.p)
            .into_iter()
            .filter(|(_, s, _)| matches!(s, RecordState::Acquired { member: m, .. } if &**m == member))
            .map(|(o, _, _)| o)
            .collect();
        let first = *mine.get(pick % mine.len().max(1))?;
        let mut last = first;
        while mine.contains(&(last + 1)) && ((last + 1 - first) as usize) < len {
            last += 1;
        }
        Some((first, last))
    }

    fn check(&self, previous_start: i64) {
        let p = &self.p;
        assert!(p.start_offset() >= previous_start, "start moved back");
        assert!(p.end_offset() - p.start_offset() <= p.config().max_in_flight.max(0), "in-flight limit");
        let f = p.in_flight();
        assert_eq!(f.available + f.acquired + f.acknowledged + f.archived, p.end_offset() - p.start_offset());
        if let Some((o, s, _)) = states(p).first() {
            assert!(!s.is_terminal(), "start offset {o} not moved past a finished head");
        }
        for o in 0..p.end_offset() {
            let state = p.state_of(o);
            let done = state.as_ref().is_none_or(|(s, _)| s.is_terminal());
            let count = self.seen.count.get(&o).copied().unwrap_or(0);
            if done {
                let why = self.seen.finished.contains(&o)
                    || self.seen.trimmed.contains(&o)
                    || count >= self.limit
                    || count == 0;
                assert!(why, "offset {o} finished without being acknowledged, rejected or exhausted");
            }
            if let Some((_, c)) = state {
                assert_eq!(c, count, "offset {o}: stored count matches deliveries");
            }
        }
    }
}

fn run_ops(ops: Vec<Op>, max_in_flight: i64, limit: i16) {
    let config = ShareConfig { max_in_flight, delivery_count_limit: limit, lock_duration_ms: 1000 };
    let mut run = Run { p: SharePartition::new(config, 0), seen: Seen::default(), now: 0, log_start: 0, limit };
    let names = ["m0", "m1", "m2"];
    for op in ops {
        let previous_start = run.p.start_offset();
        let before = run.p.counters();
        match op {
            Op::Acquire { member, skip, len, max, dt } => {
                run.now += dt;
                run.acquire(names[member as usize], skip, len, max);
            }
            Op::Ack { member, pick, len, kind: k, dt } => {
                run.now += dt;
                run.p.expire_locks(run.now);
                if let Some((first, last)) = run.held(names[member as usize], pick, len) {
                    run.ack(names[member as usize], &[AckBatch { first, last, kind: kind(k) }]);
                }
            }
            Op::AckAnywhere { member, first, len, kind: k } => {
                run.ack(names[member as usize], &[AckBatch { first, last: first + len - 1, kind: kind(k) }]);
            }
            Op::Undeliverable { member, first, len } => {
                let name = names[member as usize];
                let held: Vec<i64> = (first..first + len)
                    .filter(|o| matches!(run.p.state_of(*o), Some((RecordState::Acquired { member: m, .. }, _)) if &*m == name))
                    .collect();
                assert_eq!(run.p.archive_undeliverable(name, first, first + len - 1), held.len() as u64);
                run.seen.finished.extend(held);
            }
            Op::Leave { member } => {
                run.p.release_member(names[member as usize]);
            }
            Op::Expire { dt } => {
                run.now += dt;
                run.p.expire_locks(run.now);
            }
            Op::LogStart { ahead } => {
                let to = run.p.start_offset() + ahead;
                for o in run.log_start..to {
                    run.seen.trimmed.insert(o);
                }
                run.log_start = run.log_start.max(to);
                run.p.log_start_moved(to);
            }
            Op::Reload => {
                let key = SharePartitionKey { group: "g".into(), topic_id: uuid::Uuid::nil(), partition: 0 };
                let record = run.p.to_record(key, ShareEpochs { state_epoch: 0, leader_epoch: 0 });
                let reloaded = SharePartition::from_record(config, &record, run.log_start).expect("own state loads");
                assert!(reloaded.start_offset() >= run.p.start_offset());
                assert_eq!(reloaded.end_offset(), run.p.end_offset());
                for (o, s, c) in states(&reloaded) {
                    let (old, old_count) = run.p.state_of(o).expect("in flight before");
                    assert_eq!(c, old_count, "offset {o} keeps its delivery count");
                    let expected = match old {
                        RecordState::Acquired { .. } => config.released_state(c),
                        other => other,
                    };
                    assert_eq!(s, expected, "offset {o} after a reload");
                }
                run.p = reloaded;
                run.check(previous_start);
                continue;
            }
        }
        let after = run.p.counters();
        for (b, a) in [
            (before.acquired, after.acquired),
            (before.acknowledged, after.acknowledged),
            (before.released, after.released),
            (before.rejected, after.rejected),
            (before.archived, after.archived),
            (before.lock_timeouts, after.lock_timeouts),
            (before.redelivered, after.redelivered),
        ] {
            assert!(a >= b, "counters only grow");
        }
        run.check(previous_start);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn kip_932_promises_hold(ops in prop::collection::vec(op(), 1..80), max_in_flight in 1i64..40, limit in 1i16..5) {
        run_ops(ops, max_in_flight, limit);
    }
}
