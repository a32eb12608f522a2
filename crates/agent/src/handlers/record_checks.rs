//! Record-level checks of the produce path (Kafka's `LogValidator`): every record of a batch is walked, the
//! true max timestamp replaces the header's on CreateTime topics, and records refused one by one (a keyless
//! record on a compacted topic, a timestamp outside the topic's bounds) are answered per record (KIP-467).

use crate::error::KafkaCode;
use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use weft_protocol::BatchHeader;
use weft_protocol::records::{
    BatchSummary, MAX_DECOMPRESSED_BYTES, Mode, ValidateOptions, batch_payload, create_time_rewrite_needed,
    set_create_time_max_timestamp, validate_records,
};
use weft_topics::TopicEntry;

/// At most this many record errors carry a message; the rest carry only their index (clients need the
/// indices; the messages repeat). The indices themselves are capped by `MAX_LISTED_RECORD_ERRORS`.
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

/// The records of a batch, decompressed once for every check that walks them (shared with `data` when the
/// batch is not compressed).
pub fn batch_records(header: &BatchHeader, data: &Bytes) -> Result<Bytes, Refusal> {
    match batch_payload(data, header, MAX_DECOMPRESSED_BYTES) {
        Ok(std::borrow::Cow::Borrowed(records)) => Ok(data.slice_ref(records)),
        Ok(std::borrow::Cow::Owned(records)) => Ok(Bytes::from(records)),
        Err(e) => {
            Err(Refusal { code: e.code(), message: format!("record batch is invalid: {e}"), record_errors: Vec::new() })
        }
    }
}

/// Validates every record of one producer batch (`records`: its records from [`batch_records`]). On CreateTime topics, returns the batch with its header's
/// max timestamp (and CRC) rewritten when the records disagree with it, as Kafka does.
pub fn check_records(
    topic: &TopicEntry,
    partition: i32,
    (header, data): (BatchHeader, Bytes),
    records: &[u8],
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
    let summary = validate_records(&header, records, &opts).map_err(|e| Refusal {
        code: e.code(),
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
    let corrupt = |e: weft_protocol::records::RecordsError| Refusal::from((e.code(), e.to_string()));
    if !set_create_time_max_timestamp(&mut batch, summary.max_timestamp).map_err(corrupt)? {
        return Ok((header, data));
    }
    let data = batch.freeze();
    let header = BatchHeader::parse(&data).map_err(|e| corrupt(e.into()))?;
    Ok((header, data))
}

/// Kafka's `processRecordErrors`: one error per refused record (a missing key first, else its timestamp);
/// INVALID_TIMESTAMP if a reported error is a timestamp error, else INVALID_RECORD. The summary lists at most
/// `MAX_LISTED_RECORD_ERRORS` records of each kind, and only the first `MAX_RECORD_ERROR_MESSAGES` get a message.
fn record_refusal(topic: &TopicEntry, partition: i32, s: &BatchSummary, (earliest, latest): (i64, i64)) -> Refusal {
    let name = topic.topic.name.as_str();
    // (index, Some(timestamp) for a timestamp error, None for a missing key); both lists are in record order.
    let mut errors: Vec<(u32, Option<i64>)> = s.keyless.iter().map(|&i| (i, None)).collect();
    errors.extend(
        s.timestamp_violations
            .iter()
            .filter(|(i, _)| s.keyless.binary_search(i).is_err())
            .map(|&(i, ts)| (i, Some(ts))),
    );
    errors.sort_by_key(|(i, _)| *i);
    let code = if errors.iter().any(|(_, ts)| ts.is_some()) {
        ResponseError::InvalidTimestamp.code()
    } else {
        ResponseError::InvalidRecord.code()
    };
    let describe = |i: u32, ts: Option<i64>| match ts {
        None => format!("compacted topic cannot accept message without key in topic partition {name}-{partition}"),
        Some(ts) => format!(
            "timestamp {ts} of message with offset {i} is out of range; \
             the timestamp should be within [{earliest}, {latest}]"
        ),
    };
    let listed = if errors.len() < s.rejected as usize {
        format!(" (the first {} are listed)", errors.len())
    } else {
        String::new()
    };
    let message = match errors.first() {
        Some(&(i, ts)) => {
            let first = describe(i, ts);
            format!("{} of {} records rejected{listed}; the first, record {i}: {first}", s.rejected, s.record_count)
        }
        None => "records rejected".to_string(),
    };
    let record_errors = errors
        .into_iter()
        .enumerate()
        .map(|(n, (i, ts))| (i as i32, (n < MAX_RECORD_ERROR_MESSAGES).then(|| describe(i, ts))))
        .collect();
    Refusal { code, message, record_errors }
}
