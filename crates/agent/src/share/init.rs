//! Initial share-partition state, written by the coordinator when it assigns a partition (as Kafka's group
//! coordinator initializes share-group state before a member may fetch it): the start offset is chosen then,
//! by the group's `share.auto.offset.reset`, not at the first fetch, so records produced between the
//! assignment and that fetch are delivered. A new partition of a topic the group already has state for
//! (CreatePartitions) starts at the earliest offset, so nothing produced to it is skipped (KAFKA-20742).
//! Partitions with live state are left alone; a deleted state (tombstone) is written over above its epochs.

use super::partitions::{ShareError, config_of, start_offset};
use crate::Agent;
use std::collections::BTreeSet;
use uuid::Uuid;
use weft_groups::config::{GroupSettings, ShareAutoOffsetReset};
use weft_meta::{ShareEpochs, SharePartitionKey};
use weft_share::SharePartition;

/// Writes the initial state of each partition of `assigned` that has none; returns how many were written.
pub async fn initialize(
    agent: &Agent,
    group: &str,
    settings: &GroupSettings,
    assigned: &BTreeSet<(Uuid, i32)>,
) -> Result<usize, ShareError> {
    let stored = agent.meta.share_start_offsets(group).await?;
    let live: BTreeSet<(Uuid, i32)> = stored.iter().map(|s| (s.topic_id, s.partition)).collect();
    let known_topics: BTreeSet<Uuid> = stored.iter().map(|s| s.topic_id).collect();
    let mut written = 0;
    for &(topic_id, partition) in assigned.iter().filter(|tp| !live.contains(tp)) {
        let reset = if known_topics.contains(&topic_id) {
            ShareAutoOffsetReset::Earliest
        } else {
            settings.share_auto_offset_reset
        };
        let key = SharePartitionKey { group: group.to_string(), topic_id, partition };
        if initialize_one(agent, &key, settings, reset).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// Writes `key`'s initial state unless some state appeared meanwhile (its owner loaded it first).
async fn initialize_one(
    agent: &Agent,
    key: &SharePartitionKey,
    settings: &GroupSettings,
    reset: ShareAutoOffsetReset,
) -> Result<bool, ShareError> {
    let Some(offsets) = agent.partitions.offsets(agent.meta.as_ref(), key.topic_id, key.partition).await? else {
        return Ok(false);
    };
    let (expected, epochs) = match agent.meta.share_state(key).await? {
        None => (None, ShareEpochs { state_epoch: 0, leader_epoch: 0 }),
        Some(r) if r.is_deleted() => {
            let old = ShareEpochs { state_epoch: r.state_epoch, leader_epoch: r.leader_epoch };
            (Some(old), ShareEpochs { leader_epoch: old.leader_epoch.wrapping_add(1), ..old })
        }
        Some(_) => return Ok(false),
    };
    let start = start_offset(agent, key, reset, offsets).await?;
    let part = SharePartition::new(config_of(settings), start);
    Ok(agent.meta.write_share_state(&part.to_record(key.clone(), epochs), expected).await?)
}
