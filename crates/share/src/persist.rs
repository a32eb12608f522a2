//! The stored form of a share partition (KIP-932's persisted state: start offset and batches of first/last
//! offset, delivery state and delivery count), to and from [`SharePartition`].
//!
//! Acquired records are stored as available with their delivery count: whoever loads the state next (this
//! agent after a crash, or another taking the partition over) delivers them again, and their count keeps
//! counting towards the limit. Offsets between stored batches, or between the start offset and the first
//! batch, were never delivered and are loaded as available with count zero.

use crate::runs::Run;
use crate::{RecordState, RestoreError, ShareConfig, SharePartition};
use weft_meta::{ShareEpochs, SharePartitionKey, ShareStateBatch, ShareStateRecord};

impl SharePartition {
    /// The state to store for `key` under `epochs`: runs of equal stored state joined.
    pub fn to_record(&self, key: SharePartitionKey, epochs: ShareEpochs) -> ShareStateRecord {
        let mut batches: Vec<ShareStateBatch> = Vec::with_capacity(self.runs.len());
        for (first, run) in self.runs.iter() {
            let state = run.state.persisted_id();
            match batches.last_mut() {
                Some(prev) if prev.delivery_state == state && prev.delivery_count == run.delivery_count => {
                    prev.last_offset = run.last;
                }
                _ => batches.push(ShareStateBatch {
                    first_offset: first,
                    last_offset: run.last,
                    delivery_state: state,
                    delivery_count: run.delivery_count,
                }),
            }
        }
        ShareStateRecord {
            key,
            state_epoch: epochs.state_epoch,
            leader_epoch: epochs.leader_epoch,
            start_offset: self.start,
            batches,
        }
    }

    /// Rebuilds a partition from its stored state over a log that now starts at `log_start`. Available
    /// records already delivered as often as `config` allows are archived (their last delivery's outcome was
    /// lost with the agent that made it). Stored batches must be ordered, disjoint and at or above the start
    /// offset, with known states.
    pub fn from_record(config: ShareConfig, record: &ShareStateRecord, log_start: i64) -> Result<Self, RestoreError> {
        let corrupt = |reason: String| RestoreError::Corrupt {
            group: record.key.group.clone(),
            topic_id: record.key.topic_id.to_string(),
            partition: record.key.partition,
            reason,
        };
        if record.start_offset < 0 {
            return Err(corrupt(format!("negative start offset {}", record.start_offset)));
        }
        let mut partition = SharePartition::new(config, record.start_offset);
        let mut next = record.start_offset;
        for b in &record.batches {
            let state = RecordState::from_persisted_id(b.delivery_state)
                .ok_or_else(|| corrupt(format!("unknown delivery state {}", b.delivery_state)))?;
            if b.first_offset < next || b.last_offset < b.first_offset || b.delivery_count < 0 {
                return Err(corrupt(format!(
                    "batch {}..={} (count {}) out of order, below the start offset {} or reversed",
                    b.first_offset, b.last_offset, b.delivery_count, record.start_offset
                )));
            }
            if b.first_offset > next {
                partition
                    .runs
                    .insert(next, Run { last: b.first_offset - 1, state: RecordState::Available, delivery_count: 0 });
            }
            let state = match state {
                RecordState::Available if b.delivery_count >= config.delivery_count_limit => RecordState::Archived,
                other => other,
            };
            partition.runs.insert(b.first_offset, Run { last: b.last_offset, state, delivery_count: b.delivery_count });
            next = b.last_offset.checked_add(1).ok_or_else(|| corrupt("batch ends at the last offset".into()))?;
        }
        partition.end = next;
        partition.runs.coalesce(partition.start, next.saturating_sub(1));
        partition.advance_start();
        partition.log_start_moved(log_start);
        Ok(partition)
    }
}
