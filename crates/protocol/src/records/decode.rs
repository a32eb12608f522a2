//! A bounded decoder of stored batches into `kafka_protocol` records, on the same walk as the validator:
//! every count is checked against the bytes present, and nothing is sized from a count before that.

use super::walk::{Mode, RecordView, walk};
use super::{MAX_DECOMPRESSED_BYTES, RecordsError, decompress};
use crate::batch::{BATCH_HEADER_LEN, BatchError, BatchHeader};
use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, TimestampType};
use std::borrow::Cow;

const LEADER_EPOCH_AT: usize = 12;

/// One batch's records, decoded.
#[derive(Debug)]
pub struct DecodedRecords {
    pub header: BatchHeader,
    pub compression: Compression,
    pub records: Vec<Record>,
}

/// Decodes the batch at the start of `batch` (its base offset already patched in). The CRC is not checked:
/// stored batches were verified when produced.
pub fn decode_records(batch: &[u8]) -> Result<DecodedRecords, RecordsError> {
    let header = BatchHeader::parse(batch)?;
    let compression = match header.compression() {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        codec => return Err(RecordsError::UnknownCodec { codec }),
    };
    let region = batch
        .get(BATCH_HEADER_LEN..header.size)
        .ok_or(BatchError::Truncated { len: batch.len(), need: header.size })?;
    // One owned buffer that every key, value and header of the batch points into.
    let payload = match decompress(header.compression(), region, MAX_DECOMPRESSED_BYTES)? {
        Cow::Borrowed(b) => Bytes::copy_from_slice(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    let epoch_bytes: [u8; 4] = batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].try_into().unwrap_or([0xff; 4]);
    let fields = BatchFields {
        header,
        leader_epoch: i32::from_be_bytes(epoch_bytes),
        timestamp_type: if header.attributes & 0x08 != 0 { TimestampType::LogAppend } else { TimestampType::Creation },
    };
    let mut records = Vec::new();
    walk(&header, &payload, Mode::Stored, |view| records.push(fields.record(&payload, view)))?;
    Ok(DecodedRecords { header, compression, records })
}

/// The batch-level fields every record of a batch shares.
struct BatchFields {
    header: BatchHeader,
    leader_epoch: i32,
    timestamp_type: TimestampType,
}

impl BatchFields {
    fn record(&self, payload: &Bytes, view: &RecordView<'_>) -> Record {
        let h = &self.header;
        let slice = |s: &[u8]| payload.slice_ref(s);
        let mut headers = IndexMap::with_capacity(view.header_count as usize);
        for (key, value) in view.headers() {
            headers.insert(header_key(slice(key)), value.map(slice));
        }
        Record {
            transactional: h.is_transactional(),
            control: h.is_control(),
            delete_horizon: h.attributes & 0x40 != 0,
            partition_leader_epoch: self.leader_epoch,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            timestamp_type: self.timestamp_type,
            offset: h.base_offset.wrapping_add(i64::from(view.offset_delta)),
            sequence: h.base_sequence.wrapping_add(view.offset_delta),
            timestamp: h.base_timestamp.wrapping_add(view.timestamp_delta),
            key: view.key.map(slice),
            value: view.value.map(slice),
            headers,
        }
    }
}

/// Header keys are strings; bytes that are not UTF-8 are replaced, as Java's `Utils.utf8` does.
fn header_key(key: Bytes) -> StrBytes {
    match StrBytes::from_utf8(key.clone()) {
        Ok(s) => s,
        Err(_) => StrBytes::from_string(String::from_utf8_lossy(&key).into_owned()),
    }
}
