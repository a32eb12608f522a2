//! The segment object layout: what one produce flush writes to the object store.
//!
//! ```text
//! header   16 B  magic "WEFTSEG\0" | version u16 | reserved u16 | reserved u32
//! body          record batches exactly as producers sent them, back to back
//! entries  32 B  each: topic id [16] | partition i32 | byte start u64 | byte length u32
//! trailer  24 B  entries start u64 | entry count u32 | crc32c(entries) u32 | magic "WEFTEND\0"
//! ```
//! All integers are big-endian. The metastore index is the source of truth for reads; the entries let
//! tools, compaction and recovery understand an object without the metastore. Version 1 is pinned by a
//! golden file (`tests/golden/segment-v1.bin`).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::ops::Range;

pub const SEGMENT_MAGIC: &[u8; 8] = b"WEFTSEG\0";
pub const TRAILER_MAGIC: &[u8; 8] = b"WEFTEND\0";
pub const SEGMENT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 16;
pub const ENTRY_LEN: usize = 32;
pub const TRAILER_LEN: usize = 24;

/// Where one batch sits in a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    pub topic_id: [u8; 16],
    pub partition: i32,
    pub range: Range<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("segment of {len} bytes is too short (minimum {min})")]
    TooShort { len: usize, min: usize },
    #[error("segment magic is {found:?}, not a weft segment")]
    BadMagic { found: Vec<u8> },
    #[error("segment version {version} is not supported (this build reads up to {SEGMENT_VERSION})")]
    UnsupportedVersion { version: u16 },
    #[error("segment entries table is out of bounds: start {start}, count {count}, object {len} bytes")]
    BadEntries { start: u64, count: u32, len: usize },
    #[error("segment entries crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("segment entry {index} range {start}..{end} lies outside the body")]
    BadRange { index: usize, start: u64, end: u64 },
}

/// Alignment of a segment's first byte: the block size of direct I/O (see `weft_storage`'s `direct`).
pub const BLOCK: usize = 4096;

/// Accumulates batches for one flush and produces the object bytes.
#[derive(Debug)]
pub struct SegmentBuilder {
    buf: BytesMut,
    entries: Vec<SegmentEntry>,
}

impl Default for SegmentBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentBuilder {
    pub fn new() -> Self {
        Self::with_capacity(64 * 1024)
    }

    /// A builder whose buffer has room for `capacity` bytes before it grows. The object starts on a
    /// [`BLOCK`] boundary, so a local store can write it with direct I/O without copying it first.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = block_aligned(capacity.max(HEADER_LEN));
        buf.put_slice(SEGMENT_MAGIC);
        buf.put_u16(SEGMENT_VERSION);
        buf.put_u16(0);
        buf.put_u32(0);
        SegmentBuilder { buf, entries: Vec::new() }
    }

    /// Appends one batch and returns its byte range within the object.
    pub fn push(&mut self, topic_id: [u8; 16], partition: i32, batch: &[u8]) -> Range<u64> {
        let start = self.buf.len() as u64;
        self.buf.put_slice(batch);
        let range = start..self.buf.len() as u64;
        self.entries.push(SegmentEntry { topic_id, partition, range: range.clone() });
        range
    }

    /// A builder sized for `batches` batches of `body_bytes` in all, header, entries and trailer included,
    /// so its buffer never grows (growing by doubling copies the body again and touches twice the pages).
    pub fn for_batches(body_bytes: usize, batches: usize) -> Self {
        let room = batches.saturating_mul(ENTRY_LEN).saturating_add(HEADER_LEN + TRAILER_LEN);
        Self::with_capacity(body_bytes.saturating_add(room))
    }

    /// Bytes buffered so far (body and header).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Finishes the object: appends the entries table and the trailer.
    pub fn finish(mut self) -> Bytes {
        let entries_start = self.buf.len() as u64;
        for e in &self.entries {
            self.buf.put_slice(&e.topic_id);
            self.buf.put_i32(e.partition);
            self.buf.put_u64(e.range.start);
            self.buf.put_u32((e.range.end - e.range.start) as u32);
        }
        let crc = crc32c::crc32c(&self.buf[entries_start as usize..]);
        self.buf.put_u64(entries_start);
        self.buf.put_u32(self.entries.len() as u32);
        self.buf.put_u32(crc);
        self.buf.put_slice(TRAILER_MAGIC);
        // The object is kept (read cache) as long as its bytes: a buffer mostly unused is not pinned with it.
        if self.buf.capacity() > 2 * self.buf.len() {
            let mut copy = block_aligned(self.buf.len());
            copy.put_slice(&self.buf);
            return copy.freeze();
        }
        self.buf.freeze()
    }
}

/// An empty buffer with room for `capacity` bytes whose first byte lies on a [`BLOCK`] boundary.
fn block_aligned(capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity.saturating_add(BLOCK - 1));
    let skip = buf.as_ptr().align_offset(BLOCK).min(BLOCK - 1);
    buf.resize(skip, 0);
    buf.advance(skip);
    buf
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads and validates the entries table of a whole segment object.
pub fn read_entries(obj: &[u8]) -> Result<Vec<SegmentEntry>, FormatError> {
    let min = HEADER_LEN + TRAILER_LEN;
    if obj.len() < min {
        return Err(FormatError::TooShort { len: obj.len(), min });
    }
    if &obj[..8] != SEGMENT_MAGIC {
        return Err(FormatError::BadMagic { found: obj[..8].to_vec() });
    }
    let version = u16::from_be_bytes([obj[8], obj[9]]);
    if version == 0 || version > SEGMENT_VERSION {
        return Err(FormatError::UnsupportedVersion { version });
    }
    let trailer = &obj[obj.len() - TRAILER_LEN..];
    if &trailer[16..24] != TRAILER_MAGIC {
        return Err(FormatError::BadMagic { found: trailer[16..24].to_vec() });
    }
    let start = be_u64(&trailer[0..8]);
    let count = be_u32(&trailer[8..12]);
    let stored = be_u32(&trailer[12..16]);
    let body_end = obj.len() - TRAILER_LEN;
    let table = usize::try_from(start)
        .ok()
        .filter(|&s| s >= HEADER_LEN)
        .and_then(|s| Some((s, s.checked_add((count as usize).checked_mul(ENTRY_LEN)?)?)))
        .filter(|&(_, end)| end == body_end)
        .ok_or(FormatError::BadEntries { start, count, len: obj.len() })?;
    let table = &obj[table.0..table.1];
    let computed = crc32c::crc32c(table);
    if computed != stored {
        return Err(FormatError::CrcMismatch { stored, computed });
    }
    let mut out = Vec::with_capacity(count as usize);
    for (index, raw) in table.chunks_exact(ENTRY_LEN).enumerate() {
        let mut topic_id = [0u8; 16];
        topic_id.copy_from_slice(&raw[..16]);
        let partition = i32::from_be_bytes([raw[16], raw[17], raw[18], raw[19]]);
        let begin = be_u64(&raw[20..28]);
        let end = begin.saturating_add(u64::from(be_u32(&raw[28..32])));
        if begin < HEADER_LEN as u64 || end > start {
            return Err(FormatError::BadRange { index, start: begin, end });
        }
        out.push(SegmentEntry { topic_id, partition, range: begin..end });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
