//! What the background jobs that rewrite or trim the log need beyond [`crate::Log`]: size retention,
//! per-partition storage figures and atomic index rewrites.

use crate::{BatchRewrite, PartitionStorage, Result};
use async_trait::async_trait;
use uuid::Uuid;

/// What log maintenance owns: the figures retention and compaction decide on, and the rewrite of index
/// rows (log compaction, object merging).
///
/// Invariants: [`LogMaintenance::replace_batches`] applies only if every replaced row is unchanged since it
/// was read (optimistic concurrency), in one transaction with the new object and the dead marks of objects
/// left unreferenced; otherwise it changes nothing except marking its unused new object dead.
///
/// Used by: size retention, the log cleaner and the object merger (crate `weft-maintenance`), the
/// maintenance scheduler and the metrics exporter.
#[async_trait]
pub trait LogMaintenance: Send + Sync + 'static {
    /// The log start that size retention allows: the base offset of the oldest batch that must stay so that
    /// at least `retained_bytes` remain (Kafka keeps whole segments while the rest is still that large).
    async fn retention_offset_by_size(
        &self,
        topic_id: Uuid,
        partition: i32,
        retained_bytes: u64,
    ) -> Result<Option<i64>>;

    /// Stored bytes, batches, objects and cleaner position of every partition of a topic, by partition.
    async fn partition_storage(&self, topic_id: Uuid) -> Result<Vec<(i32, PartitionStorage)>>;

    /// Applies a rewrite of index rows if they are unchanged since read; returns whether it applied.
    async fn replace_batches(&self, rewrite: BatchRewrite) -> Result<bool>;
}
