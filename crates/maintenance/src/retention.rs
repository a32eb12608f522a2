//! Retention: time (`retention.ms`) and size (`retention.bytes`) limits move a partition's log start
//! forward. Data below it is unreadable at once; its objects are marked dead in the same metastore
//! transaction and deleted by [`crate::gc`] after the grace period.
//!
//! Kafka deletes whole segments; Weft deletes whole batches, so retention is finer-grained. As in Kafka,
//! size retention keeps at least `retention.bytes` (it never deletes a batch whose removal would leave less).

use crate::Result;
use uuid::Uuid;
use weft_meta::{Metastore, PartitionOffsets};

/// A topic's effective retention settings (-1 disables a limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub retention_ms: i64,
    pub retention_bytes: i64,
}

/// The log start `policy` allows for one partition now, if it is past `bounds.log_start`.
pub async fn retention_target(
    meta: &dyn Metastore,
    topic_id: Uuid,
    partition: i32,
    bounds: PartitionOffsets,
    policy: RetentionPolicy,
    now_ms: i64,
) -> Result<Option<i64>> {
    let mut target = bounds.log_start;
    if policy.retention_ms >= 0 {
        let cutoff = now_ms.saturating_sub(policy.retention_ms);
        target = match meta.first_batch_at_or_after_time(topic_id, partition, cutoff).await? {
            Some(b) => target.max(b.base_offset),
            None => bounds.next_offset,
        };
    }
    if policy.retention_bytes >= 0
        && let Some(keep_from) =
            meta.retention_offset_by_size(topic_id, partition, policy.retention_bytes as u64).await?
    {
        target = target.max(keep_from);
    }
    Ok((target > bounds.log_start).then_some(target.min(bounds.next_offset)))
}

/// Applies retention to every partition of a topic; returns the partitions whose log start moved.
pub async fn apply(
    meta: &dyn Metastore,
    topic_id: Uuid,
    partitions: i32,
    policy: RetentionPolicy,
    now_ms: i64,
) -> Result<Vec<(i32, PartitionOffsets)>> {
    let mut moved = Vec::new();
    for partition in 0..partitions {
        let Some(bounds) = meta.partition_offsets(topic_id, partition).await? else { continue };
        let Some(target) = retention_target(meta, topic_id, partition, bounds, policy, now_ms).await? else {
            continue;
        };
        if let Some(after) = meta.advance_log_start(topic_id, partition, target, now_ms).await? {
            moved.push((partition, after));
        }
    }
    Ok(moved)
}
