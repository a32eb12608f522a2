//! Whether one partition's record set may be appended, decided as a whole before anything is written
//! (Kafka's `UnifiedLog.analyzeAndValidateProducerState` with `ProducerAppendInfo`): every batch is checked
//! against the producer state as the earlier batches of the set leave it, any refusal refuses the set, and a
//! retry of a stored batch answers the whole set with that batch's offset. Backends only load the state this
//! needs and write what an accepted set produces, so the rules live here once.
//!
//! A transaction marker is accepted only while the producer's transaction is being ended that way at the
//! marker's epoch and includes the partition; a late marker of a coordinator that lost the transaction
//! would otherwise close (or abort) the producer's next transaction in the partition.

use crate::producer_state::{self, ProducerState};
use crate::{AppendOutcome, BatchAppend, BatchKind, MetaError, Result, TxnState};
use std::collections::HashMap;
use uuid::Uuid;

/// A producer's transaction as the partition check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxnView {
    pub epoch: i16,
    pub state: TxnState,
    pub partitions: Vec<(Uuid, i32)>,
}

/// What to do with a record set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetDecision {
    /// Append every batch at these base offsets; then store these producer states.
    Append { bases: Vec<i64>, producers: Vec<(i64, ProducerState)> },
    /// A retry of a batch already stored: nothing is appended, the set is answered with its offset.
    Duplicate { base_offset: i64 },
    /// Nothing is appended; every batch of the set gets this outcome.
    Refuse(AppendOutcome),
}

/// The stored state a decision reads: producer states of the set's partition and transactions, by producer.
pub(crate) struct SetState<'a> {
    pub partition: (Uuid, i32),
    /// The partition's next offset (high watermark) before the set.
    pub next_offset: i64,
    pub producers: &'a HashMap<i64, Option<ProducerState>>,
    pub txns: &'a HashMap<i64, Option<TxnView>>,
}

/// Decides the fate of `batches`, one partition's record set. State a batch needs must be in `state`
/// (a producer absent from it counts as new to the partition).
pub(crate) fn decide(batches: &[&BatchAppend], state: &SetState<'_>) -> Result<SetDecision> {
    let mut working: HashMap<i64, Option<ProducerState>> = HashMap::new();
    let mut bases = Vec::with_capacity(batches.len());
    let mut next = state.next_offset;
    for b in batches {
        if (b.topic_id, b.partition) != state.partition {
            return Err(MetaError::Corrupt(format!(
                "record set {} mixes partitions {:?} and {}-{}",
                b.record_set, state.partition, b.topic_id, b.partition
            )));
        }
        let base = next;
        bases.push(base);
        next = base.saturating_add(b.offset_span);
        let Some(pb) = &b.producer else {
            if b.kind != BatchKind::Plain {
                return Err(MetaError::Corrupt("a transactional batch without a producer id".into()));
            }
            continue;
        };
        let stored = state.producers.get(&pb.producer_id).and_then(Option::as_ref);
        if b.kind == BatchKind::Transactional {
            match state.txns.get(&pb.producer_id).and_then(Option::as_ref) {
                Some(t) if pb.epoch < t.epoch => return Ok(SetDecision::Refuse(AppendOutcome::InvalidProducerEpoch)),
                Some(t)
                    if t.state == TxnState::Ongoing
                        && t.epoch == pb.epoch
                        && t.partitions.contains(&state.partition) => {}
                _ => return Ok(SetDecision::Refuse(AppendOutcome::InvalidTxnState)),
            }
        }
        let current = working.entry(pb.producer_id).or_insert_with(|| stored.cloned());
        if let BatchKind::Marker { commit } = b.kind {
            let txn = state.txns.get(&pb.producer_id).and_then(Option::as_ref);
            if !txn.is_some_and(|t| ends(t, pb.epoch, commit, state.partition)) {
                return Ok(SetDecision::Refuse(AppendOutcome::MarkerFenced));
            }
            // Markers carry no sequence; they move the producer to their epoch (sequences restart after a bump).
            match current {
                Some(s) if pb.epoch < s.epoch => return Ok(SetDecision::Refuse(AppendOutcome::InvalidProducerEpoch)),
                Some(s) if pb.epoch == s.epoch => {}
                _ => *current = Some(ProducerState { epoch: pb.epoch, last_sequence: -1, recent: Vec::new() }),
            }
            continue;
        }
        // A retry is recognised against what is stored, not against the set's own earlier batches.
        if let Some(base_offset) = producer_state::find_duplicate(stored, pb) {
            return Ok(SetDecision::Duplicate { base_offset });
        }
        match producer_state::check(current.as_ref(), pb) {
            producer_state::Decision::Append => *current = Some(producer_state::advance(current.take(), pb, base)),
            // The same sequences twice within one set: the second does not follow the first.
            producer_state::Decision::Duplicate { .. } => {
                return Ok(SetDecision::Refuse(AppendOutcome::OutOfOrderSequence));
            }
            producer_state::Decision::Reject(outcome) => return Ok(SetDecision::Refuse(outcome)),
        }
    }
    let mut producers: Vec<(i64, ProducerState)> =
        working.into_iter().filter_map(|(id, s)| s.map(|s| (id, s))).collect();
    producers.sort_by_key(|(id, _)| *id);
    Ok(SetDecision::Append { bases, producers })
}

/// Whether `txn` is being ended at `epoch` with this decision and includes `partition`: the only time its
/// coordinator writes markers (every path records the Prepare state and epoch before writing them).
fn ends(txn: &TxnView, epoch: i16, commit: bool, partition: (Uuid, i32)) -> bool {
    let preparing = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
    txn.state == preparing && txn.epoch == epoch && txn.partitions.contains(&partition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProducerBatch;

    const P: (Uuid, i32) = (Uuid::nil(), 0);

    fn b(pid: i64, epoch: i16, first: i32, last: i32, kind: BatchKind) -> BatchAppend {
        BatchAppend {
            topic_id: P.0,
            partition: P.1,
            byte_start: 0,
            byte_len: 10,
            offset_span: i64::from(last - first + 1),
            record_count: last - first + 1,
            max_timestamp: 1,
            producer: Some(ProducerBatch { producer_id: pid, epoch, first_sequence: first, last_sequence: last }),
            kind,
            record_set: 1,
        }
    }

    fn run(batches: &[BatchAppend], producers: &[(i64, ProducerState)], txns: &[(i64, TxnView)]) -> SetDecision {
        let producers = producers.iter().map(|(id, s)| (*id, Some(s.clone()))).collect();
        let txns = txns.iter().map(|(id, t)| (*id, Some(t.clone()))).collect();
        let refs: Vec<&BatchAppend> = batches.iter().collect();
        decide(&refs, &SetState { partition: P, next_offset: 0, producers: &producers, txns: &txns }).expect("decide")
    }

    fn state(last: i32, recent: Vec<(i32, i32, i64)>) -> ProducerState {
        ProducerState { epoch: 0, last_sequence: last, recent }
    }

    #[test]
    fn any_refused_batch_refuses_the_set_in_either_order() {
        let plain = BatchKind::Plain;
        let good = b(1, 0, 0, 0, plain);
        let gap = b(1, 0, 5, 5, plain);
        assert_eq!(run(&[good.clone(), gap.clone()], &[], &[]), SetDecision::Refuse(AppendOutcome::OutOfOrderSequence));
        assert_eq!(run(&[gap, good.clone()], &[], &[]), SetDecision::Refuse(AppendOutcome::UnknownProducerId));
        let next = b(1, 0, 1, 2, plain);
        assert_eq!(
            run(&[good, next], &[], &[]),
            SetDecision::Append { bases: vec![0, 1], producers: vec![(1, state(2, vec![(0, 0, 0), (1, 2, 1)]))] }
        );
    }

    #[test]
    fn a_retried_batch_answers_the_set_with_its_offset_and_repeats_inside_a_set_do_not_follow() {
        let stored = [(1, state(3, vec![(0, 1, 10), (2, 3, 12)]))];
        let plain = BatchKind::Plain;
        assert_eq!(
            run(&[b(1, 0, 4, 4, plain), b(1, 0, 2, 3, plain)], &stored, &[]),
            SetDecision::Duplicate { base_offset: 12 }
        );
        assert_eq!(
            run(&[b(1, 0, 4, 4, plain), b(1, 0, 4, 4, plain)], &stored, &[]),
            SetDecision::Refuse(AppendOutcome::OutOfOrderSequence)
        );
    }

    #[test]
    fn transactional_sets_need_the_partition_in_the_ongoing_transaction() {
        let tx = BatchKind::Transactional;
        let view = |partitions| TxnView { epoch: 2, state: TxnState::Ongoing, partitions };
        let set = [b(1, 2, 0, 0, tx), b(1, 2, 1, 1, tx)];
        assert!(matches!(run(&set, &[], &[(1, view(vec![P]))]), SetDecision::Append { .. }));
        assert_eq!(run(&set, &[], &[(1, view(vec![]))]), SetDecision::Refuse(AppendOutcome::InvalidTxnState));
        let fenced = [b(1, 2, 0, 0, tx), b(1, 1, 1, 1, tx)];
        assert_eq!(run(&fenced, &[], &[(1, view(vec![P]))]), SetDecision::Refuse(AppendOutcome::InvalidProducerEpoch));
    }

    #[test]
    fn markers_need_the_transaction_prepared_that_way_at_their_epoch_with_the_partition() {
        let commit = BatchKind::Marker { commit: true };
        let view = |state, epoch, partitions| TxnView { epoch, state, partitions };
        let marker = [b(1, 2, -1, -1, commit)];
        let prepared = view(TxnState::PrepareCommit, 2, vec![P]);
        let accepted = run(&marker, &[], &[(1, prepared)]);
        assert_eq!(
            accepted,
            SetDecision::Append {
                bases: vec![0],
                producers: vec![(1, ProducerState { epoch: 2, last_sequence: -1, recent: Vec::new() })]
            }
        );
        let fenced = SetDecision::Refuse(AppendOutcome::MarkerFenced);
        // The producer's next transaction at the same epoch, already completed, the other decision, an older
        // or newer epoch, a partition outside the transaction, no transaction at all.
        for other in [
            view(TxnState::Ongoing, 2, vec![P]),
            view(TxnState::CompleteCommit, 2, vec![]),
            view(TxnState::PrepareAbort, 2, vec![P]),
            view(TxnState::PrepareCommit, 3, vec![P]),
            view(TxnState::PrepareCommit, 1, vec![P]),
            view(TxnState::PrepareCommit, 2, vec![(Uuid::nil(), 1)]),
        ] {
            assert_eq!(run(&marker, &[], &[(1, other.clone())]), fenced, "{other:?}");
        }
        assert_eq!(run(&marker, &[], &[]), fenced);
        // A refused marker refuses the whole set, data before it included.
        let abort = BatchKind::Marker { commit: false };
        let set = [b(1, 2, 0, 0, BatchKind::Plain), b(1, 2, -1, -1, abort)];
        assert_eq!(run(&set, &[], &[(1, view(TxnState::PrepareCommit, 2, vec![P]))]), fenced);
    }
}
