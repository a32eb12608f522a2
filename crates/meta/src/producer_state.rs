//! Idempotent producer sequence rules (Kafka's ProducerStateManager), applied inside the commit transaction
//! so that the check and the append are atomic.

use crate::{AppendOutcome, ProducerBatch};
use serde::{Deserialize, Serialize};

/// Batches remembered per producer and partition for duplicate detection (Kafka keeps five, matching
/// max.in.flight.requests.per.connection).
pub const RECENT_BATCHES: usize = 5;

/// A producer's state in one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    pub epoch: i16,
    pub last_sequence: i32,
    /// (first sequence, last sequence, base offset) of the latest batches, oldest first.
    pub recent: Vec<(i32, i32, i64)>,
}

/// What to do with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Append,
    Duplicate { base_offset: i64 },
    Reject(AppendOutcome),
}

fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}

/// Checks a batch against the producer's state.
pub fn check(state: Option<&ProducerState>, batch: &ProducerBatch) -> Decision {
    let Some(s) = state else {
        // A producer new to this partition must start at sequence 0.
        return if batch.first_sequence == 0 {
            Decision::Append
        } else {
            Decision::Reject(AppendOutcome::UnknownProducerId)
        };
    };
    if batch.epoch < s.epoch {
        return Decision::Reject(AppendOutcome::InvalidProducerEpoch);
    }
    if batch.epoch > s.epoch {
        return if batch.first_sequence == 0 {
            Decision::Append
        } else {
            Decision::Reject(AppendOutcome::OutOfOrderSequence)
        };
    }
    if let Some(base_offset) = find_duplicate(Some(s), batch) {
        return Decision::Duplicate { base_offset };
    }
    if batch.first_sequence == next_sequence(s.last_sequence) {
        Decision::Append
    } else {
        Decision::Reject(AppendOutcome::OutOfOrderSequence)
    }
}

/// The base offset of the stored batch `batch` retries, if it is one of the producer's recent batches at
/// its epoch (Kafka's `ProducerStateEntry.findDuplicateBatch`).
pub fn find_duplicate(state: Option<&ProducerState>, batch: &ProducerBatch) -> Option<i64> {
    let s = state.filter(|s| s.epoch == batch.epoch)?;
    s.recent
        .iter()
        .find(|(first, last, _)| *first == batch.first_sequence && *last == batch.last_sequence)
        .map(|&(_, _, base_offset)| base_offset)
}

/// The state after appending `batch` at `base_offset`.
pub fn advance(state: Option<ProducerState>, batch: &ProducerBatch, base_offset: i64) -> ProducerState {
    let mut s = match state {
        Some(s) if s.epoch == batch.epoch => s,
        _ => ProducerState { epoch: batch.epoch, last_sequence: -1, recent: Vec::new() },
    };
    s.last_sequence = batch.last_sequence;
    s.recent.push((batch.first_sequence, batch.last_sequence, base_offset));
    if s.recent.len() > RECENT_BATCHES {
        let excess = s.recent.len() - RECENT_BATCHES;
        s.recent.drain(..excess);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(epoch: i16, first: i32, last: i32) -> ProducerBatch {
        ProducerBatch { producer_id: 7, epoch, first_sequence: first, last_sequence: last }
    }

    #[test]
    fn sequences_must_follow_and_duplicates_return_their_offset() {
        assert_eq!(check(None, &b(0, 0, 4)), Decision::Append);
        assert_eq!(check(None, &b(0, 5, 9)), Decision::Reject(AppendOutcome::UnknownProducerId));
        let s = advance(None, &b(0, 0, 4), 100);
        assert_eq!(check(Some(&s), &b(0, 5, 9)), Decision::Append);
        assert_eq!(check(Some(&s), &b(0, 0, 4)), Decision::Duplicate { base_offset: 100 });
        assert_eq!(check(Some(&s), &b(0, 7, 9)), Decision::Reject(AppendOutcome::OutOfOrderSequence));
        let s = advance(Some(s), &b(0, 5, 9), 105);
        assert_eq!(check(Some(&s), &b(0, 0, 4)), Decision::Duplicate { base_offset: 100 });
    }

    #[test]
    fn epochs_fence_and_reset_sequences() {
        let s = advance(None, &b(3, 0, 0), 1);
        assert_eq!(check(Some(&s), &b(2, 1, 1)), Decision::Reject(AppendOutcome::InvalidProducerEpoch));
        assert_eq!(check(Some(&s), &b(4, 0, 0)), Decision::Append);
        assert_eq!(check(Some(&s), &b(4, 3, 3)), Decision::Reject(AppendOutcome::OutOfOrderSequence));
        let s = advance(Some(s), &b(4, 0, 0), 2);
        assert_eq!(s.recent, vec![(0, 0, 2)]);
    }

    #[test]
    fn only_the_last_five_batches_are_remembered_and_sequences_wrap() {
        let mut s = None;
        for i in 0..7 {
            s = Some(advance(s, &b(0, i, i), i64::from(i)));
        }
        let s = s.unwrap();
        assert_eq!(s.recent.len(), RECENT_BATCHES);
        assert_eq!(check(Some(&s), &b(0, 1, 1)), Decision::Reject(AppendOutcome::OutOfOrderSequence));
        let at_max = ProducerState { epoch: 0, last_sequence: i32::MAX, recent: Vec::new() };
        assert_eq!(check(Some(&at_max), &b(0, 0, 3)), Decision::Append);
    }
}
