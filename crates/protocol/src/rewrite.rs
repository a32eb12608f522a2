//! Batch rewrites the broker itself performs: stamping LogAppendTime, and keeping a subset of a stored
//! batch's records (log compaction). Pure functions over bytes; no I/O.

use crate::batch::{BATCH_HEADER_LEN, BatchError, BatchHeader};
use crate::records::{RecordsError, decode_records};
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const MAX_TIMESTAMP_AT: usize = 35;
/// Attribute bit of LogAppendTime batches.
const LOG_APPEND_TIME: i16 = 0x08;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("record batch at offset {base_offset} cannot be decoded: {source}")]
    Decode { base_offset: i64, source: RecordsError },
    #[error("record batch at offset {base_offset} cannot be encoded: {reason}")]
    Encode { base_offset: i64, reason: String },
}

/// Marks a v2 batch as LogAppendTime with `append_ms` as its max timestamp (what Kafka's broker does for
/// topics with message.timestamp.type=LogAppendTime) and recomputes its CRC.
pub fn stamp_log_append_time(batch: &mut [u8], append_ms: i64) -> Result<(), BatchError> {
    BatchHeader::parse(batch)?;
    let attributes = i16::from_be_bytes([batch[ATTRIBUTES_AT], batch[ATTRIBUTES_AT + 1]]) | LOG_APPEND_TIME;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&append_ms.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_AT..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// A decoded batch: its header and records (offsets absolute, as patched for serving).
pub struct DecodedBatch {
    pub header: BatchHeader,
    pub compression: Compression,
    pub records: Vec<Record>,
}

/// Decodes one stored batch whose base offset has been patched in, bounded by its bytes
/// (`records::decode_records`).
pub fn decode(batch: &[u8]) -> Result<DecodedBatch, RewriteError> {
    let header = BatchHeader::parse(batch)?;
    let d = decode_records(batch).map_err(|source| RewriteError::Decode { base_offset: header.base_offset, source })?;
    Ok(DecodedBatch { header: d.header, compression: d.compression, records: d.records })
}

/// Encodes the records kept from `original` as one batch with the original's compression, producer and
/// flags. Offsets stay as they were (gaps appear where records were dropped). Returns `None` when no record
/// is kept.
pub fn encode_kept(original: &DecodedBatch, kept: &[&Record]) -> Result<Option<Bytes>, RewriteError> {
    let Some(first) = kept.first() else { return Ok(None) };
    let h = &original.header;
    let log_append = h.attributes & LOG_APPEND_TIME != 0;
    let first_offset = first.offset;
    // The encoder derives the base sequence from the records and splits a batch wherever offset minus
    // sequence changes; giving every record the sequence its offset implies keeps one batch and keeps -1 as
    // the base sequence of batches from non-idempotent producers.
    let records: Vec<Record> = kept
        .iter()
        .map(|r| {
            let mut r = (*r).clone();
            let delta = (r.offset - first_offset) as i32;
            r.sequence = if h.base_sequence < 0 {
                delta.wrapping_sub(1)
            } else {
                h.base_sequence.wrapping_add((r.offset - h.base_offset) as i32)
            };
            if log_append {
                r.timestamp_type = TimestampType::Creation;
                r.timestamp = h.max_timestamp;
            }
            r
        })
        .collect();
    let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + 64 * records.len());
    let options = RecordEncodeOptions { version: 2, compression: original.compression };
    RecordBatchEncoder::encode(&mut out, records.iter(), &options)
        .map_err(|e| RewriteError::Encode { base_offset: h.base_offset, reason: e.to_string() })?;
    if log_append {
        stamp_log_append_time(&mut out, h.max_timestamp)?;
    }
    Ok(Some(out.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn record(offset: i64, key: &str, value: Option<&str>, producer_id: i64, sequence: i32) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch: if producer_id >= 0 { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset,
            sequence,
            timestamp: 1_000 + offset,
            key: Some(Bytes::from(key.to_string())),
            value: value.map(|v| Bytes::from(v.to_string())),
            headers: IndexMap::new(),
        }
    }

    fn batch(records: &[Record], compression: Compression) -> Bytes {
        let mut out = BytesMut::new();
        RecordBatchEncoder::encode(&mut out, records.iter(), &RecordEncodeOptions { version: 2, compression }).unwrap();
        out.freeze()
    }

    #[test]
    fn kept_records_keep_offsets_values_and_sequences() {
        for (pid, seqs) in [(-1i64, [-1, 0, 1, 2]), (7, [10, 11, 12, 13])] {
            let recs: Vec<Record> =
                (0..4).map(|i| record(100 + i, &format!("k{i}"), Some("v"), pid, seqs[i as usize])).collect();
            let original = decode(&batch(&recs, Compression::Lz4)).unwrap();
            let kept: Vec<&Record> = original.records.iter().filter(|r| r.offset % 2 == 1).collect();
            let out = encode_kept(&original, &kept).unwrap().unwrap();
            let header = BatchHeader::parse_verified(&out).unwrap();
            assert_eq!(header.record_count, 2, "one batch of the kept records");
            assert_eq!(header.size, out.len());
            assert_eq!(header.base_offset, 101);
            assert_eq!(header.base_sequence, if pid < 0 { -1 } else { 11 });
            let again = decode(&out).unwrap();
            assert_eq!(again.compression, Compression::Lz4);
            let got: Vec<(i64, Option<Bytes>)> = again.records.iter().map(|r| (r.offset, r.key.clone())).collect();
            assert_eq!(got, vec![(101, Some(Bytes::from("k1"))), (103, Some(Bytes::from("k3")))]);
        }
    }

    #[test]
    fn nothing_kept_is_no_batch_and_log_append_time_is_stamped() {
        let recs = vec![record(0, "a", None, -1, -1)];
        let mut b = BytesMut::from(&batch(&recs, Compression::None)[..]);
        assert!(encode_kept(&decode(&b).unwrap(), &[]).unwrap().is_none());
        stamp_log_append_time(&mut b, 99_999).unwrap();
        let header = BatchHeader::parse_verified(&b).unwrap();
        assert_eq!(header.max_timestamp, 99_999);
        assert_ne!(header.attributes & LOG_APPEND_TIME, 0);
        let decoded = decode(&b).unwrap();
        let kept: Vec<&Record> = decoded.records.iter().collect();
        let out = encode_kept(&decoded, &kept).unwrap().unwrap();
        let h = BatchHeader::parse_verified(&out).unwrap();
        assert_eq!((h.max_timestamp, h.attributes & LOG_APPEND_TIME), (99_999, LOG_APPEND_TIME));
    }
}
