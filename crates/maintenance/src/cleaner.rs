//! Log compaction (`cleanup.policy=compact`): what Kafka's log cleaner produces, for a consumer reading
//! from the log start: the latest record of every key survives at its original offset (gaps appear where
//! older ones were), tombstones (null values) survive `delete.retention.ms` and then go, records newer than
//! `min.compaction.lag.ms` are never touched, records in aborted transactions are dropped, and transaction
//! markers go once older than `delete.retention.ms` (an abort marker together with its aborted range).
//!
//! A pass cleans a prefix of the partition: batches whose newest record is older than the minimum lag,
//! below the last stable offset, never the partition's newest batch, and within the pass's byte budget.
//! Keys are compared within that prefix; a key superseded only by a record beyond it is kept until that
//! record becomes cleanable too, as in Kafka. A pass runs when the dirty part (written since the last pass)
//! reaches `min.cleanable.dirty.ratio` of the prefix, when a dirty record is older than
//! `max.compaction.lag.ms`, or when forced (a retained tombstone or marker has expired).
//!
//! Pace: every batch read and the object written are taken from the [`crate::Budget`] first; decoding,
//! planning and re-encoding (decompression and compression) run on the maintenance [`crate::Worker`].

use crate::{MaintenanceError, Pace, Result, read_batches};
use bytes::Bytes;
use std::collections::HashMap;
use uuid::Uuid;
use weft_format::SegmentBuilder;
use weft_meta::{AbortedTxn, BatchRef, BatchRewrite, BatchRow, Metastore, NewObject};
use weft_protocol::BatchHeader;
use weft_protocol::kafka_protocol::records::Record;
use weft_protocol::rewrite::{self, DecodedBatch};
use weft_storage::{ObjectStorage, keys};

/// A compacted topic's effective settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanPolicy {
    pub delete_retention_ms: i64,
    pub min_lag_ms: i64,
    pub max_lag_ms: i64,
    pub min_dirty_ratio: f64,
}

/// Bounds of one pass over one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanLimits {
    /// Stored bytes read (and held in memory, decoded) by one pass at most.
    pub max_bytes: u64,
    /// Index rows examined per pass.
    pub max_rows: u32,
}

impl Default for CleanLimits {
    fn default() -> Self {
        CleanLimits { max_bytes: 64 << 20, max_rows: 20_000 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    pub batches_read: usize,
    pub records_read: usize,
    pub records_kept: usize,
    pub batches_rewritten: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// The partition is clean below this offset.
    pub clean_offset: i64,
    /// False if the index changed meanwhile and the pass was abandoned.
    pub applied: bool,
    /// When the oldest tombstone or marker kept by this pass expires (a pass should then be forced).
    pub next_expiry_ms: Option<i64>,
}

/// Control record types (the second i16 of a control record's key).
const ABORT_MARKER: i16 = 0;

fn marker_type(r: &Record) -> Option<i16> {
    let k = r.key.as_ref()?;
    (k.len() >= 4).then(|| i16::from_be_bytes([k[2], k[3]]))
}

/// Runs one cleaning pass over a partition if it is due (or `force`d). `clean_offset` is the partition's
/// cleaner position (`PartitionStorage::clean_offset`, read once per topic by the caller).
#[allow(clippy::too_many_arguments)]
pub async fn clean_partition(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    topic_id: Uuid,
    partition: i32,
    clean_offset: i64,
    policy: CleanPolicy,
    limits: CleanLimits,
    now_ms: i64,
    nonce: u64,
    force: bool,
) -> Result<Option<CleanReport>> {
    let at = Cleaning { topic_id, partition, clean_offset, policy, force };
    clean_partition_paced(meta, storage, at, limits, now_ms, nonce, &Pace::unlimited()).await
}

/// What a cleaning pass looks at: a partition, its cleaner position, its settings, and whether it is forced.
#[derive(Debug, Clone, Copy)]
pub struct Cleaning {
    pub topic_id: Uuid,
    pub partition: i32,
    pub clean_offset: i64,
    pub policy: CleanPolicy,
    pub force: bool,
}

/// [`clean_partition`] within a [`Pace`].
pub async fn clean_partition_paced(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    at: Cleaning,
    limits: CleanLimits,
    now_ms: i64,
    nonce: u64,
    pace: &Pace,
) -> Result<Option<CleanReport>> {
    let Cleaning { topic_id, partition, clean_offset, policy, force } = at;
    let Some(bounds) = meta.partition_offsets(topic_id, partition).await? else { return Ok(None) };
    let rows = meta.read_index(topic_id, partition, bounds.log_start, u64::MAX, limits.max_rows).await?;
    let lag_cutoff = now_ms.saturating_sub(policy.min_lag_ms);
    let mut take = 0;
    let mut budget = 0u64;
    for row in rows.iter().take(rows.len().saturating_sub(1)) {
        if row.max_timestamp > lag_cutoff || row.last_offset >= bounds.last_stable {
            break;
        }
        budget += u64::from(row.byte_len);
        if take > 0 && budget > limits.max_bytes {
            break;
        }
        take += 1;
    }
    let prefix = &rows[..take];
    let Some(last) = prefix.last() else { return Ok(None) };
    let end = last.last_offset + 1;
    let total: u64 = prefix.iter().map(|r| u64::from(r.byte_len)).sum();
    let dirty: Vec<&BatchRef> = prefix.iter().filter(|r| r.last_offset >= clean_offset).collect();
    let dirty_bytes: u64 = dirty.iter().map(|r| u64::from(r.byte_len)).sum();
    let overdue = dirty.iter().any(|r| r.max_timestamp < now_ms.saturating_sub(policy.max_lag_ms));
    let ratio = if total == 0 { 0.0 } else { dirty_bytes as f64 / total as f64 };
    if !force && (dirty.is_empty() || (ratio < policy.min_dirty_ratio && !overdue)) {
        return Ok(None);
    }

    let stored = read_batches(storage, prefix, pace).await?;
    let aborted = meta.aborted_transactions(topic_id, partition, bounds.log_start, end).await?;
    let rows = prefix.to_vec();
    let target = (topic_id, partition);
    let rebuilt = pace.worker.run(move || rebuild(target, &rows, &stored, &aborted, policy, now_ms)).await??;
    let Rebuilt { mut report, data, added, replaced, removed_markers } = rebuilt;
    report.bytes_before = total;
    report.clean_offset = end;
    let object = match data {
        None => None,
        Some(data) => {
            pace.budget.take(data.len() as u64).await;
            let key = keys::merged_key(now_ms, nonce);
            let size = data.len() as u64;
            storage.put_durable_uncached(&key, data).await?;
            Some(NewObject { key, size, created_ms: now_ms })
        }
    };
    let rewrite = BatchRewrite {
        topic_id,
        partition,
        object,
        object_recorded: false,
        replaced,
        added,
        removed_markers,
        clean_offset: Some(end),
        now_ms,
    };
    report.applied = pace.metastore_write(meta.replace_batches(rewrite)).await?;
    tracing::info!(
        %topic_id, partition, applied = report.applied, records = report.records_read, kept = report.records_kept,
        rewritten = report.batches_rewritten, bytes_before = report.bytes_before, bytes_after = report.bytes_after,
        clean_offset = end, "log compaction pass"
    );
    Ok(Some(report))
}

/// What a pass rewrites: the report so far, the new object (if any batch changed and kept records), its
/// rows, the rows it replaces and the abort markers it drops.
struct Rebuilt {
    report: CleanReport,
    data: Option<Bytes>,
    added: Vec<BatchRow>,
    replaced: Vec<(i64, String)>,
    removed_markers: Vec<i64>,
}

/// Decodes the stored batches of `rows`, plans what to keep and re-encodes the batches that lose records
/// (the CPU-heavy part of a pass, run on the worker).
fn rebuild(
    (topic_id, partition): (Uuid, i32),
    rows: &[BatchRef],
    stored: &[bytes::BytesMut],
    aborted: &[AbortedTxn],
    policy: CleanPolicy,
    now_ms: i64,
) -> Result<Rebuilt> {
    let mut decoded = Vec::with_capacity(rows.len());
    for (row, data) in rows.iter().zip(stored) {
        let batch = rewrite::decode(data).map_err(|e| MaintenanceError::BadBatch {
            object: row.object_key.clone(),
            offset: row.base_offset,
            reason: e.to_string(),
        })?;
        decoded.push((row, batch));
    }
    let plan = plan(&decoded, aborted, policy, now_ms);
    let mut report = CleanReport {
        batches_read: rows.len(),
        records_read: decoded.iter().map(|(_, b)| b.records.len()).sum(),
        next_expiry_ms: plan.next_expiry_ms,
        ..CleanReport::default()
    };
    let mut builder = SegmentBuilder::new();
    let mut added = Vec::new();
    let mut replaced = Vec::new();
    for ((row, batch), keep) in decoded.iter().zip(&plan.keep) {
        let kept: Vec<&Record> = batch.records.iter().zip(keep).filter(|(_, k)| **k).map(|(r, _)| r).collect();
        report.records_kept += kept.len();
        if kept.len() == batch.records.len() {
            report.bytes_after += u64::from(row.byte_len);
            continue;
        }
        replaced.push((row.base_offset, row.object_key.clone()));
        report.batches_rewritten += 1;
        let encoded = rewrite::encode_kept(batch, &kept).map_err(|e| MaintenanceError::BadBatch {
            object: row.object_key.clone(),
            offset: row.base_offset,
            reason: e.to_string(),
        })?;
        let Some(encoded) = encoded else { continue };
        added.push(new_row(&mut builder, topic_id, partition, &encoded, row)?);
        report.bytes_after += encoded.len() as u64;
    }
    let data = (!added.is_empty()).then(|| builder.finish());
    Ok(Rebuilt { report, data, added, replaced, removed_markers: plan.removed_markers })
}

fn new_row(
    builder: &mut SegmentBuilder,
    topic_id: Uuid,
    partition: i32,
    encoded: &Bytes,
    old: &BatchRef,
) -> Result<BatchRow> {
    let h = BatchHeader::parse(encoded).map_err(|e| MaintenanceError::BadBatch {
        object: old.object_key.clone(),
        offset: old.base_offset,
        reason: e.to_string(),
    })?;
    let range = builder.push(*topic_id.as_bytes(), partition, encoded);
    Ok(BatchRow {
        base_offset: h.base_offset,
        last_offset: h.base_offset + i64::from(h.last_offset_delta),
        record_count: h.record_count,
        max_timestamp: h.max_timestamp,
        byte_start: range.start,
        byte_len: encoded.len() as u32,
    })
}

/// Which records of each batch a pass keeps.
pub struct Plan {
    /// Per batch, per record: kept?
    pub keep: Vec<Vec<bool>>,
    /// Offsets of abort markers dropped (their aborted ranges are forgotten with them).
    pub removed_markers: Vec<i64>,
    pub next_expiry_ms: Option<i64>,
}

/// Decides, for records already in offset order, what survives compaction.
pub fn plan(batches: &[(&BatchRef, DecodedBatch)], aborted: &[AbortedTxn], policy: CleanPolicy, now_ms: i64) -> Plan {
    let horizon = now_ms.saturating_sub(policy.delete_retention_ms);
    let in_aborted = |b: &DecodedBatch, offset: i64| {
        b.header.is_transactional()
            && aborted
                .iter()
                .any(|a| a.producer_id == b.header.producer_id && offset >= a.first_offset && offset < a.last_offset)
    };
    let mut latest: HashMap<&Bytes, i64> = HashMap::new();
    for (_, b) in batches {
        if b.header.is_control() {
            continue;
        }
        for r in &b.records {
            if let Some(k) = &r.key
                && !in_aborted(b, r.offset)
            {
                latest.insert(k, r.offset);
            }
        }
    }
    let mut removed_markers = Vec::new();
    let mut next_expiry: Option<i64> = None;
    let mut expiry = |at: i64| next_expiry = Some(next_expiry.map_or(at, |n: i64| n.min(at)));
    let keep = batches
        .iter()
        .map(|(_, b)| {
            b.records
                .iter()
                .map(|r| {
                    if b.header.is_control() {
                        if b.header.max_timestamp >= horizon {
                            expiry(b.header.max_timestamp.saturating_add(policy.delete_retention_ms));
                            return true;
                        }
                        if marker_type(r) == Some(ABORT_MARKER) {
                            removed_markers.push(r.offset);
                        }
                        return false;
                    }
                    let Some(key) = &r.key else { return false };
                    if in_aborted(b, r.offset) || latest.get(key) != Some(&r.offset) {
                        return false;
                    }
                    if r.value.is_none() {
                        // LogAppendTime batches carry their time in the header only.
                        let ts = if b.header.attributes & 0x08 != 0 { b.header.max_timestamp } else { r.timestamp };
                        if ts < horizon {
                            return false;
                        }
                        expiry(ts.saturating_add(policy.delete_retention_ms));
                    }
                    true
                })
                .collect()
        })
        .collect();
    Plan { keep, removed_markers, next_expiry_ms: next_expiry }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use weft_protocol::kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    const PID: i64 = 5;

    fn record(offset: i64, key: &[u8], value: Option<&[u8]>, ts: i64, txn: bool, control: bool) -> Record {
        Record {
            transactional: txn,
            control,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: if txn { PID } else { -1 },
            producer_epoch: if txn { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: if txn { offset as i32 } else { -1 },
            timestamp: ts,
            key: Some(Bytes::copy_from_slice(key)),
            value: value.map(Bytes::copy_from_slice),
            headers: Default::default(),
        }
    }

    fn decoded(records: &[Record]) -> (BatchRef, DecodedBatch) {
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encode");
        let batch = rewrite::decode(&buf).expect("decode");
        let row = BatchRef {
            base_offset: records[0].offset,
            last_offset: records[records.len() - 1].offset,
            max_timestamp: batch.header.max_timestamp,
            object_key: "k".into(),
            byte_start: 0,
            byte_len: buf.len() as u32,
        };
        (row, batch)
    }

    /// A control record's key: version 0, then the marker type (0 abort, 1 commit).
    fn marker(offset: i64, kind: u8, ts: i64) -> Record {
        record(offset, &[0, 0, 0, kind], Some(&[0, 0, 0, 0, 0, 0]), ts, true, true)
    }

    #[test]
    fn aborted_data_goes_and_markers_go_after_delete_retention() {
        let policy =
            CleanPolicy { delete_retention_ms: 1000, min_lag_ms: 0, max_lag_ms: i64::MAX, min_dirty_ratio: 0.0 };
        // An aborted transaction (offsets 0-1, abort marker at 2), a committed one (3, commit marker at 4),
        // then a plain record superseding nothing.
        let batches = [
            decoded(&[
                record(0, b"a", Some(b"aborted"), 100, true, false),
                record(1, b"b", Some(b"aborted"), 100, true, false),
            ]),
            decoded(&[marker(2, 0, 100)]),
            decoded(&[record(3, b"a", Some(b"committed"), 100, true, false)]),
            decoded(&[marker(4, 1, 5000)]),
            decoded(&[record(5, b"c", Some(b"plain"), 5000, false, false)]),
        ];
        let refs: Vec<(&BatchRef, DecodedBatch)> = batches.iter().map(|(r, b)| (r, clone(b))).collect();
        let aborted = [AbortedTxn { producer_id: PID, first_offset: 0, last_offset: 2 }];
        let first = plan(&refs, &aborted, policy, 5500);
        assert_eq!(first.keep, vec![vec![false, false], vec![false], vec![true], vec![true], vec![true]]);
        assert_eq!(first.removed_markers, vec![2], "the old abort marker goes, with its aborted range");
        assert_eq!(first.next_expiry_ms, Some(6000), "the recent commit marker expires at 5000 + 1000");
        // A committed record is the latest for its key even though an aborted one came before it.
        let later = plan(&refs, &aborted, policy, 7000);
        assert_eq!(later.keep[3], vec![false], "the commit marker is gone after delete.retention.ms");
        assert_eq!(later.removed_markers, vec![2]);
    }

    fn clone(b: &DecodedBatch) -> DecodedBatch {
        DecodedBatch { header: b.header, compression: b.compression, records: b.records.clone() }
    }
}
