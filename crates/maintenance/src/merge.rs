//! Object compaction: a partition's batches are spread over many small flush segments (one per produce
//! flush, shared by every partition written in it). This job copies a run of them into one object holding
//! only that partition, so the index shrinks to fewer objects and reads become sequential. Offsets, bytes and
//! timestamps of every batch are unchanged: the copy is byte for byte.
//!
//! Safety: the new object is durable before the index points at it; the index switch is one metastore
//! transaction that applies only if every replaced row is still as read (retention or the cleaner may have
//! moved it meanwhile), otherwise the new object is marked dead. Old objects are marked dead once no row
//! references them and are deleted by [`crate::gc`] after the grace period. A crash at any point leaves every
//! record readable exactly once.

use crate::{Pace, Result, read_batches};
use uuid::Uuid;
use weft_format::SegmentBuilder;
use weft_meta::{BatchRewrite, BatchRow, Metastore, NewObject};
use weft_protocol::BatchHeader;
use weft_storage::{ObjectStorage, keys};

/// Bounds of one merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeLimits {
    /// Bytes copied into one new object at most (also the memory one merge holds).
    pub target_bytes: u64,
    /// Fewest batches worth a merge.
    pub min_batches: usize,
    /// Only batches in flush segments older than this are merged, so the hot tail is left alone.
    pub min_age_ms: i64,
    /// Index rows examined per partition per pass.
    pub max_rows: u32,
}

impl Default for MergeLimits {
    fn default() -> Self {
        MergeLimits { target_bytes: 16 << 20, min_batches: 2, min_age_ms: 10_000, max_rows: 10_000 }
    }
}

/// What one call did, and where the next call may start: below `resume_from` the partition holds no flush
/// segment any more (appends only add rows above it), so rescanning that prefix every pass is avoided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePass {
    pub report: Option<MergeReport>,
    pub resume_from: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Batches whose index rows now point into the merged object.
    pub batches: usize,
    /// Bytes copied into the merged object.
    pub bytes: u64,
    /// False if the index changed meanwhile and the merge stopped: the rows switched before that stay
    /// switched; a merged object no row points into is dead at once, for the GC.
    pub applied: bool,
}

/// Merges the oldest run of a partition's batches that live in flush segments, looking at rows from
/// `from_offset` (a previous pass's `resume_from`, or 0). `nonce` names the new object.
#[allow(clippy::too_many_arguments)]
pub async fn merge_partition(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    topic_id: Uuid,
    partition: i32,
    from_offset: i64,
    limits: MergeLimits,
    now_ms: i64,
    nonce: u64,
) -> Result<MergePass> {
    let at = Position { topic_id, partition, from_offset };
    merge_partition_paced(meta, storage, at, limits, now_ms, nonce, &Pace::unlimited()).await
}

/// Where a merge looks: a partition, from an offset.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    pub topic_id: Uuid,
    pub partition: i32,
    pub from_offset: i64,
}

/// [`merge_partition`] within a [`Pace`].
pub async fn merge_partition_paced(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    at: Position,
    limits: MergeLimits,
    now_ms: i64,
    nonce: u64,
    pace: &Pace,
) -> Result<MergePass> {
    let Position { topic_id, partition, from_offset } = at;
    let Some(bounds) = meta.partition_offsets(topic_id, partition).await? else {
        return Ok(MergePass { report: None, resume_from: from_offset });
    };
    let start = from_offset.max(bounds.log_start);
    let rows = meta.read_index(topic_id, partition, start, u64::MAX, limits.max_rows).await?;
    let first_flush = rows.iter().find(|r| keys::is_flush_segment(&r.object_key)).map(|r| r.base_offset);
    let resume_from = first_flush.or_else(|| rows.last().map(|r| r.last_offset + 1)).unwrap_or(start);
    let report = merge_run(meta, storage, at, rows, limits, now_ms, nonce, pace).await?;
    Ok(MergePass { report, resume_from })
}

#[allow(clippy::too_many_arguments)]
async fn merge_run(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    at: Position,
    rows: Vec<weft_meta::BatchRef>,
    limits: MergeLimits,
    now_ms: i64,
    nonce: u64,
    pace: &Pace,
) -> Result<Option<MergeReport>> {
    let Position { topic_id, partition, .. } = at;
    let old_enough = |key: &str| keys::created_ms(key).is_some_and(|ms| ms <= now_ms.saturating_sub(limits.min_age_ms));
    let mut run = Vec::new();
    let mut bytes = 0u64;
    for row in rows {
        let candidate = keys::is_flush_segment(&row.object_key) && old_enough(&row.object_key);
        if !candidate {
            if run.len() >= limits.min_batches {
                break;
            }
            run.clear();
            bytes = 0;
            continue;
        }
        if !run.is_empty() && bytes + u64::from(row.byte_len) > limits.target_bytes {
            break;
        }
        bytes += u64::from(row.byte_len);
        run.push(row);
    }
    if run.len() < limits.min_batches {
        return Ok(None);
    }
    let batches = read_batches(storage, &run, pace).await?;
    let copied = run.clone();
    let (object, added) = pace.worker.run(move || assemble(topic_id, partition, &copied, &batches)).await??;
    pace.budget.take(object.len() as u64).await;
    let key = keys::merged_key(now_ms, nonce);
    let size = object.len() as u64;
    storage.put_durable_uncached(&key, object).await?;
    let object = NewObject { key: key.clone(), size, created_ms: now_ms };
    let applied = switch_index(meta, at, object, &run, added, now_ms, pace).await?;
    if applied == run.len() {
        tracing::info!(%topic_id, partition, batches = run.len(), bytes, object = %key, "merged batches into one object");
    } else {
        tracing::info!(
            %topic_id, partition, object = %key, batches = run.len(), applied,
            "merge stopped: the index changed meanwhile"
        );
    }
    Ok(Some(MergeReport { batches: applied, bytes, applied: applied == run.len() }))
}

/// Index rows switched to a merged object per metastore transaction. A merge of a 16 MiB run replaces some
/// 600 rows; in one transaction that held SQLite's single writer for 50-125 ms on a busy 2-core machine, and
/// every produce commit waited behind it (measured, BENCHMARKS.md). In transactions of this many rows, a
/// commit waits for one of them at most.
const ROWS_PER_SWITCH: usize = 64;

/// Points the index at the merged object, [`ROWS_PER_SWITCH`] rows per transaction, in offset order; stops at
/// the first group of rows that changed meanwhile. Returns how many rows now point into the new object. Each
/// step is safe alone: the bytes at both places are the same, so a reader sees every batch exactly once
/// whichever object its row names. Each transaction is followed by the pace's rest, so the switches of a
/// pass (some 75 a pass at 5,000 records/s) are spread out instead of queueing produce commits back to back.
#[allow(clippy::too_many_arguments)]
async fn switch_index(
    meta: &dyn Metastore,
    at: Position,
    object: NewObject,
    run: &[weft_meta::BatchRef],
    added: Vec<BatchRow>,
    now_ms: i64,
    pace: &Pace,
) -> Result<usize> {
    let mut applied = 0;
    for (rows, added) in run.chunks(ROWS_PER_SWITCH).zip(added.chunks(ROWS_PER_SWITCH)) {
        let rewrite = BatchRewrite {
            topic_id: at.topic_id,
            partition: at.partition,
            object: Some(object.clone()),
            object_recorded: applied > 0,
            replaced: rows.iter().map(|r| (r.base_offset, r.object_key.clone())).collect(),
            added: added.to_vec(),
            removed_markers: Vec::new(),
            clean_offset: None,
            now_ms,
        };
        if !pace.metastore_write(meta.replace_batches(rewrite)).await? {
            break;
        }
        applied += rows.len();
    }
    Ok(applied)
}

/// Copies the batches of `rows` into one new object, and says where each landed in it.
fn assemble(
    topic_id: Uuid,
    partition: i32,
    rows: &[weft_meta::BatchRef],
    batches: &[bytes::BytesMut],
) -> Result<(bytes::Bytes, Vec<BatchRow>)> {
    let body: usize = batches.iter().map(|b| b.len()).sum();
    let mut builder = SegmentBuilder::for_batches(body, batches.len());
    let mut added = Vec::with_capacity(rows.len());
    for (row, data) in rows.iter().zip(batches) {
        let header = BatchHeader::parse(data).map_err(|e| crate::MaintenanceError::BadBatch {
            object: row.object_key.clone(),
            offset: row.base_offset,
            reason: e.to_string(),
        })?;
        let range = builder.push(*topic_id.as_bytes(), partition, data);
        added.push(BatchRow {
            base_offset: row.base_offset,
            last_offset: row.last_offset,
            record_count: header.record_count,
            max_timestamp: row.max_timestamp,
            byte_start: range.start,
            byte_len: row.byte_len,
        });
    }
    Ok((builder.finish(), added))
}
