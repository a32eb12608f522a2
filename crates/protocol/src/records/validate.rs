//! The produce-path validator: Kafka's `LogValidator` rules for one v2 batch, over the walk.
//!
//! Structural problems (undecodable payload, malformed records, counts that disagree with the records) fail
//! the batch. Per-record problems that Kafka reports per record (KIP-467: a keyless record on a compacted
//! topic, a timestamp outside the topic's bounds) are collected as record indices for the caller to answer.

use super::walk::{Mode, walk};
use super::{RecordsError, decompress};
use crate::batch::{BATCH_HEADER_LEN, BatchHeader};

const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const MAX_TIMESTAMP_AT: usize = 35;
/// Attribute bit of LogAppendTime batches.
const LOG_APPEND_TIME: i16 = 0x08;
/// Kafka's "no timestamp"; such records are exempt from the timestamp bounds.
const NO_TIMESTAMP: i64 = -1;
/// Most refused records listed in each of `keyless` and `timestamp_violations`; the rest are only counted in
/// `rejected`, so a batch of millions of refused records costs no more than its own bytes to answer.
pub const MAX_LISTED_RECORD_ERRORS: usize = 1000;

/// What to check besides the structure.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    pub mode: Mode,
    /// Collect the indices of records without a key (compacted topics).
    pub keys_required: bool,
    /// Inclusive `(earliest, latest)` record timestamps accepted (CreateTime topics), as Kafka's
    /// `message.timestamp.before.max.ms` / `after.max.ms` give them relative to now.
    pub timestamp_bounds: Option<(i64, i64)>,
    /// Most bytes the payload may decompress to.
    pub max_decompressed: usize,
}

/// What the records of one batch say, computed from the records rather than from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub record_count: u32,
    /// Timestamp of the first record (-1 when the batch has none).
    pub first_timestamp: i64,
    /// Largest record timestamp, -1 if none is larger (Kafka starts from NO_TIMESTAMP too).
    pub max_timestamp: i64,
    /// Offset delta of the first record holding `max_timestamp` (-1 when no record is above -1).
    pub max_timestamp_delta: i32,
    /// Records without a key, when `keys_required` (the first `MAX_LISTED_RECORD_ERRORS`).
    pub keyless: Vec<u32>,
    /// Records whose timestamp is outside `timestamp_bounds`: (index, timestamp) (the first
    /// `MAX_LISTED_RECORD_ERRORS`).
    pub timestamp_violations: Vec<(u32, i64)>,
    /// Records refused on their own (keyless or out of bounds), listed or not.
    pub rejected: u32,
}

impl BatchSummary {
    /// True when some record must be refused on its own (KIP-467 record errors).
    pub fn has_record_errors(&self) -> bool {
        self.rejected > 0
    }
}

/// Validates every record of the batch at the start of `batch` (whose header is `header`).
pub fn validate_batch(
    batch: &[u8],
    header: &BatchHeader,
    opts: &ValidateOptions,
) -> Result<BatchSummary, RecordsError> {
    let payload = batch_payload(batch, header, opts.max_decompressed)?;
    validate_records(header, &payload, opts)
}

/// The records of the batch at the start of `batch`, decompressed (at most `max_decompressed` bytes); borrowed
/// when the batch is not compressed. For callers that walk the records more than once.
pub fn batch_payload<'a>(
    batch: &'a [u8],
    header: &BatchHeader,
    max_decompressed: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, RecordsError> {
    let region = batch
        .get(BATCH_HEADER_LEN..header.size)
        .ok_or(RecordsError::Batch(crate::batch::BatchError::Truncated { len: batch.len(), need: header.size }))?;
    decompress(header.compression(), region, max_decompressed)
}

/// [`validate_batch`] over records already decompressed by [`batch_payload`].
pub fn validate_records(
    header: &BatchHeader,
    payload: &[u8],
    opts: &ValidateOptions,
) -> Result<BatchSummary, RecordsError> {
    let mut summary = BatchSummary {
        record_count: 0,
        first_timestamp: NO_TIMESTAMP,
        max_timestamp: NO_TIMESTAMP,
        max_timestamp_delta: -1,
        keyless: Vec::new(),
        timestamp_violations: Vec::new(),
        rejected: 0,
    };
    let count = walk(header, payload, opts.mode, |r| {
        let timestamp = header.base_timestamp.wrapping_add(r.timestamp_delta);
        if r.index == 0 {
            summary.first_timestamp = timestamp;
        }
        if timestamp > summary.max_timestamp {
            summary.max_timestamp = timestamp;
            summary.max_timestamp_delta = r.offset_delta;
        }
        let keyless = opts.keys_required && r.key.is_none();
        if keyless && summary.keyless.len() < MAX_LISTED_RECORD_ERRORS {
            summary.keyless.push(r.index);
        }
        let out_of_bounds = opts
            .timestamp_bounds
            .is_some_and(|(earliest, latest)| timestamp != NO_TIMESTAMP && !(earliest..=latest).contains(&timestamp));
        if out_of_bounds && summary.timestamp_violations.len() < MAX_LISTED_RECORD_ERRORS {
            summary.timestamp_violations.push((r.index, timestamp));
        }
        summary.rejected += u32::from(keyless || out_of_bounds);
    })?;
    summary.record_count = count;
    Ok(summary)
}

/// Whether a producer batch must be rewritten to say CreateTime with `max_timestamp` (so callers can skip
/// copying the batch when it already does, the common case).
pub fn create_time_rewrite_needed(header: &BatchHeader, max_timestamp: i64) -> bool {
    header.attributes & LOG_APPEND_TIME != 0 || header.max_timestamp != max_timestamp
}

/// Makes a producer batch say CreateTime with `max_timestamp` as its max timestamp, recomputing the CRC,
/// when it says anything else (Kafka's `setMaxTimestamp`). Returns whether the batch changed.
pub fn set_create_time_max_timestamp(batch: &mut [u8], max_timestamp: i64) -> Result<bool, RecordsError> {
    let header = BatchHeader::parse(batch)?;
    if !create_time_rewrite_needed(&header, max_timestamp) {
        return Ok(false);
    }
    let attributes = header.attributes & !LOG_APPEND_TIME;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_AT..header.size]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(true)
}
