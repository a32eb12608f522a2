//! Record-level checks of the produce path (Kafka's `LogValidator`): every record of a batch is walked, the
//! true max timestamp replaces the header's on CreateTime topics, and records refused one by one (a keyless
//! record on a compacted topic, a timestamp outside the topic's bounds) are answered per record (KIP-467).

use crate::error::records_error_code;
use crate::topics::TopicEntry;
use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use weft_protocol::BatchHeader;
use weft_protocol::records::{
    BatchSummary, MAX_DECOMPRESSED_BYTES, Mode, ValidateOptions, create_time_rewrite_needed,
    set_create_time_max_timestamp, validate_batch,
};

/// At most this many record errors carry a message; the rest carry only their index, so a batch of 100,000
/// refused records does not make a response of megabytes (clients need the indices, the messages repeat).
const MAX_RECORD_ERROR_MESSAGES: usize = 100;

/// Why a partition's record set is refused.
#[derive(Debug)]
pub struct Refusal {
    pub code: i16,
    pub message: String,
    /// KIP-467 record errors: (index of the record in its batch, message).
    pub record_errors: Vec<(i32, Option<String>)>,
}

impl From<(i16, String)> for Refusal {
    fn from((code, message): (i16, String)) -> Self {
        Refusal { code, message, record_errors: Vec::new() }
    }
}

/// Validates every record of one producer batch. On CreateTime topics, returns the batch with its header's
/// max timestamp (and CRC) rewritten when the records disagree with it, as Kafka does.
pub fn check_records(
    topic: &TopicEntry,
    partition: i32,
    header: BatchHeader,
    data: Bytes,
    now_ms: i64,
) -> Result<(BatchHeader, Bytes), Refusal> {
    let bounds = (!topic.log_append_time).then(|| {
        (now_ms.saturating_sub(topic.timestamp_before_max_ms), now_ms.saturating_add(topic.timestamp_after_max_ms))
    });
    let opts = ValidateOptions {
        mode: Mode::Producer,
        keys_required: topic.compacted,
        timestamp_bounds: bounds,
        max_decompressed: MAX_DECOMPRESSED_BYTES,
    };
    let summary = validate_batch(&data, &header, &opts).map_err(|e| Refusal {
        code: records_error_code(&e),
        message: format!("record batch is invalid: {e}"),
        record_errors: Vec::new(),
    })?;
    if summary.has_record_errors() {
        return Err(record_refusal(topic, partition, &summary, bounds.unwrap_or((i64::MIN, i64::MAX))));
    }
    if topic.log_append_time || !create_time_rewrite_needed(&header, summary.max_timestamp) {
        return Ok((header, data));
    }
    let mut batch = BytesMut::from(&data[..]);
    let corrupt = |e: weft_protocol::records::RecordsError| Refusal::from((records_error_code(&e), e.to_string()));
    if !set_create_time_max_timestamp(&mut batch, summary.max_timestamp).map_err(corrupt)? {
        return Ok((header, data));
    }
    let data = batch.freeze();
    let header = BatchHeader::parse(&data).map_err(|e| corrupt(e.into()))?;
    Ok((header, data))
}

/// Kafka's `processRecordErrors`: one error per refused record (a missing key first, else its timestamp);
/// INVALID_TIMESTAMP if any timestamp is out of bounds, else INVALID_RECORD.
fn record_refusal(topic: &TopicEntry, partition: i32, s: &BatchSummary, (earliest, latest): (i64, i64)) -> Refusal {
    let name = topic.topic.name.as_str();
    let mut errors: Vec<(u32, String)> = s
        .keyless
        .iter()
        .map(|&i| {
            (i, format!("compacted topic cannot accept message without key in topic partition {name}-{partition}"))
        })
        .collect();
    for &(i, ts) in &s.timestamp_violations {
        // Both lists are in record order; a keyless record reports its key only.
        if s.keyless.binary_search(&i).is_err() {
            errors.push((
                i,
                format!(
                    "timestamp {ts} of message with offset {i} is out of range; \
                     the timestamp should be within [{earliest}, {latest}]"
                ),
            ));
        }
    }
    errors.sort_by_key(|(i, _)| *i);
    let code = if s.timestamp_violations.is_empty() {
        ResponseError::InvalidRecord.code()
    } else {
        ResponseError::InvalidTimestamp.code()
    };
    let message = match errors.first() {
        Some((i, first)) => {
            format!("{} of {} records rejected; the first, record {i}: {first}", errors.len(), s.record_count)
        }
        None => "records rejected".to_string(),
    };
    let record_errors = errors
        .into_iter()
        .enumerate()
        .map(|(n, (i, m))| (i as i32, (n < MAX_RECORD_ERROR_MESSAGES).then_some(m)))
        .collect();
    Refusal { code, message, record_errors }
}
