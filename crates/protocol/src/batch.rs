//! Record batch (magic v2) headers: parsing, validation and the offset patch applied when serving.
//!
//! Batches are stored exactly as producers sent them. The CRC-32C covers bytes from `attributes` to the end,
//! so `baseOffset` and `partitionLeaderEpoch` can be rewritten on the way out without touching the CRC.

use bytes::Bytes;

/// Most records one batch may declare (a 1 MiB batch of minimal uncompressed records holds ~150,000).
pub const MAX_RECORDS_PER_BATCH: i32 = 10_000_000;

/// Size of the fixed v2 batch header.
pub const BATCH_HEADER_LEN: usize = 61;
/// Offset of the magic byte; it is at the same place in v0/v1 message sets, so old formats are detected too.
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
/// Bytes before `batchLength` counts: baseOffset (8) and batchLength (4).
const LOG_OVERHEAD: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record batch of {len} bytes is shorter than its {need}-byte header")]
    Truncated { len: usize, need: usize },
    #[error("record batch length {length} is invalid for {available} available bytes")]
    BadLength { length: i32, available: usize },
    #[error("message format magic v{magic} is not supported (only v2)")]
    UnsupportedMagic { magic: i8 },
    #[error("record batch crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("record batch declares {count} records with last offset delta {last_offset_delta}")]
    BadCount { count: i32, last_offset_delta: i32 },
}

/// The fields of a v2 batch header that Weft needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Total size of the batch in bytes, including the 12-byte log overhead.
    pub size: usize,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Parses the header at the start of `buf` (which may hold further batches after this one).
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < MAGIC_AT + 1 {
            return Err(BatchError::Truncated { len: buf.len(), need: MAGIC_AT + 1 });
        }
        let length = be_i32(buf, 8);
        let magic = buf[MAGIC_AT] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic { magic });
        }
        if buf.len() < BATCH_HEADER_LEN {
            return Err(BatchError::Truncated { len: buf.len(), need: BATCH_HEADER_LEN });
        }
        let size = usize::try_from(length)
            .ok()
            .map(|l| l + LOG_OVERHEAD)
            .filter(|&s| s >= BATCH_HEADER_LEN && s <= buf.len())
            .ok_or(BatchError::BadLength { length, available: buf.len() })?;
        let header = BatchHeader {
            base_offset: be_i64(buf, 0),
            size,
            magic,
            crc: u32::from_be_bytes([buf[CRC_AT], buf[CRC_AT + 1], buf[CRC_AT + 2], buf[CRC_AT + 3]]),
            attributes: be_i16(buf, ATTRIBUTES_AT),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        };
        // A batch holds at most one record per offset (fewer once log compaction has dropped some). More
        // records than offsets, or an uncompressed batch too small to hold its records (each takes at least 7
        // bytes), is corrupt; decoders size buffers from this count, so it must be believable.
        let min_record_bytes = 7usize;
        let fits = header.compression() != 0
            || (header.record_count as usize).saturating_mul(min_record_bytes) <= size - BATCH_HEADER_LEN;
        if header.record_count < 0
            || header.last_offset_delta < 0
            || i64::from(header.record_count) > i64::from(header.last_offset_delta) + 1
            || header.record_count > MAX_RECORDS_PER_BATCH
            || !fits
        {
            return Err(BatchError::BadCount {
                count: header.record_count,
                last_offset_delta: header.last_offset_delta,
            });
        }
        Ok(header)
    }

    /// Parses and checks the CRC-32C of the batch at the start of `buf`.
    pub fn parse_verified(buf: &[u8]) -> Result<Self, BatchError> {
        let header = Self::parse(buf)?;
        let computed = crc32c::crc32c(&buf[ATTRIBUTES_AT..header.size]);
        if computed != header.crc {
            return Err(BatchError::CrcMismatch { stored: header.crc, computed });
        }
        Ok(header)
    }

    /// Number of offsets this batch occupies.
    pub fn offset_span(&self) -> i64 {
        i64::from(self.last_offset_delta) + 1
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

/// Splits a produce request's record set into verified batches. An empty set yields no batches.
pub fn split_batches(records: &Bytes) -> Result<Vec<(BatchHeader, Bytes)>, BatchError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < records.len() {
        let header = BatchHeader::parse_verified(&records[at..])?;
        // Producers write dense batches: one record per offset.
        if i64::from(header.record_count) != header.offset_span() {
            return Err(BatchError::BadCount {
                count: header.record_count,
                last_offset_delta: header.last_offset_delta,
            });
        }
        out.push((header, records.slice(at..at + header.size)));
        at += header.size;
    }
    Ok(out)
}

/// Writes `base_offset` and `leader_epoch` into a stored batch, in place. Neither is covered by the CRC.
pub fn patch_batch(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    if batch.len() >= BATCH_HEADER_LEN {
        patch_prefix(batch, base_offset, leader_epoch);
    }
}

/// Bytes at the start of a batch that hold every field [`patch_batch`] writes: baseOffset (0..8), batchLength
/// (8..12, left as stored) and partitionLeaderEpoch (12..16). Fetch serves a patched copy of these and the
/// stored bytes after them as they are.
pub const PATCHED_PREFIX_LEN: usize = 16;

/// Writes `base_offset` and `leader_epoch` into the first [`PATCHED_PREFIX_LEN`] bytes of a batch (a shorter
/// slice is left alone).
pub fn patch_prefix(prefix: &mut [u8], base_offset: i64, leader_epoch: i32) {
    if prefix.len() >= PATCHED_PREFIX_LEN {
        prefix[0..8].copy_from_slice(&base_offset.to_be_bytes());
        prefix[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    }
}

#[cfg(test)]
mod tests;
