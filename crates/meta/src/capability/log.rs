//! The partition log as the metastore keeps it: the offset index of every stored batch, and the bounds
//! (log start, end, last stable offset) of every partition.

use crate::{
    AbortedTxn, BatchRef, MetaError, PartitionOffsets, Result, SegmentCommit, SegmentCommitted, SegmentsCommitted,
};
use async_trait::async_trait;
use uuid::Uuid;

/// What the log owns: partition bounds (log start, next offset, last stable offset), the offset index
/// that maps each batch to its object and byte range, and the aborted transaction ranges fetch needs.
///
/// Invariants: [`Log::commit_segment`] (and [`Log::commit_segments`] for a group) is one atomic transaction: the object, every accepted batch, the
/// producer and transaction state they change, and the partition ends move together or not at all, and a
/// partition's record set is appended whole or refused whole. Offsets are dense and assigned only here. The
/// log start only moves forward and never past the end.
///
/// Used by: the agent's produce path (commit), fetch and ListOffsets (index and time lookups, aborted
/// ranges), DeleteRecords and retention (log start), DescribeLogDirs (sizes), the log cleaner and merger
/// (index reads), and the metrics exporter.
#[async_trait]
pub trait Log: Send + Sync + 'static {
    /// Records a durable segment object and, in one transaction, assigns every batch in it its base offset.
    /// Outcomes are returned in the order of `commit.batches`. Transactional batches are checked against the
    /// producer's transaction (KIP-890 part 1), open it in their partition, and markers close it.
    async fn commit_segment(&self, commit: SegmentCommit) -> Result<SegmentCommitted> {
        let key = commit.object_key.clone();
        let done = self.commit_segments(vec![commit]).await?;
        match done.segments.into_iter().next().flatten() {
            Some(outcomes) => Ok(SegmentCommitted { outcomes, partitions: done.partitions }),
            None => Err(MetaError::ObjectFenced { key }),
        }
    }

    /// Group commit: commits several durable segments, in order, in one transaction, exactly as if each were
    /// committed after the one before it (a later segment sees the offsets, sequences and transaction state
    /// the earlier ones left), but with one wait for the writer and one durable COMMIT for all of them. A
    /// segment whose object key is fenced is refused alone; any other failure fails the whole group, and
    /// nothing of it is stored.
    async fn commit_segments(&self, commits: Vec<SegmentCommit>) -> Result<SegmentsCommitted>;

    /// Log start and end offsets of a partition, if it exists.
    async fn partition_offsets(&self, topic_id: Uuid, partition: i32) -> Result<Option<PartitionOffsets>>;

    /// Offsets of every partition of every topic (used to warm caches at start).
    async fn all_partition_offsets(&self) -> Result<Vec<(Uuid, i32, PartitionOffsets)>>;

    /// Bytes of record batches stored per partition (those not yet below the log start), for every partition
    /// that holds any (DescribeLogDirs, topic sizes).
    async fn partition_sizes(&self) -> Result<Vec<(Uuid, i32, u64)>>;

    /// Batches holding offsets at or after `from_offset`, in offset order, stopping once `max_bytes` is
    /// reached (at least one batch is returned when any exists) or `max_batches` are listed.
    async fn read_index(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        max_bytes: u64,
        max_batches: u32,
    ) -> Result<Vec<BatchRef>>;

    /// The first batch (by offset) whose max timestamp is at or after `timestamp`.
    async fn first_batch_at_or_after_time(
        &self,
        topic_id: Uuid,
        partition: i32,
        timestamp: i64,
    ) -> Result<Option<BatchRef>>;

    /// The batch holding the largest timestamp of the partition (the earliest such batch on ties).
    async fn max_timestamp_batch(&self, topic_id: Uuid, partition: i32) -> Result<Option<BatchRef>>;

    /// Aborted transactions of a partition whose range overlaps `from_offset..to_offset`, by first offset.
    async fn aborted_transactions(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        to_offset: i64,
    ) -> Result<Vec<AbortedTxn>>;

    /// Moves a partition's log start forward to `offset` (never back, never past the end): retention and
    /// DeleteRecords. Index rows wholly below it go; objects left unreferenced are marked dead at `now_ms`.
    /// Returns the new bounds, or `None` if the partition does not exist.
    async fn advance_log_start(
        &self,
        topic_id: Uuid,
        partition: i32,
        offset: i64,
        now_ms: i64,
    ) -> Result<Option<PartitionOffsets>>;
}
