//! A walk over every record of a (decompressed) v2 batch payload that trusts no count or length: each one is
//! checked against the bytes actually present before it is used, and nothing is allocated per record.

use super::RecordsError;
use crate::batch::BatchHeader;

/// Which offset-delta rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A producer's batch: record `i` has offset delta `i`, and the last one is the header's last offset
    /// delta. Stricter than Kafka, which checks only the header's offset range against the record count and
    /// reassigns inner offsets; every real producer writes 0, 1, 2..., and a stored batch whose deltas disagree
    /// with its count would mislead consumers.
    Producer,
    /// A stored batch, possibly rewritten by log compaction: offset deltas strictly increase and stay within
    /// the header's last offset delta.
    Stored,
}

/// One record as it lies in the payload. Headers are validated; `headers()` iterates them.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub index: u32,
    pub attributes: u8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: u32,
    headers: &'a [u8],
}

impl<'a> RecordView<'a> {
    /// The record's headers (key, value) in order.
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter { cursor: Cursor { buf: self.headers, pos: 0, index: self.index }, left: self.header_count }
    }
}

/// Iterator over a walked record's headers. They were validated by the walk, so it never stops early on
/// data that came out of `walk`.
pub struct HeaderIter<'a> {
    cursor: Cursor<'a>,
    left: u32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let key = self.cursor.bytes("header key").ok()??;
        let value = self.cursor.bytes("header value").ok()?;
        Some((key, value))
    }
}

/// Walks every record of `payload` (the decompressed bytes after the batch header of `header`), calling
/// `visit` for each, and checks that the records fill the payload exactly and agree with the header.
/// Returns the number of records.
pub fn walk<'a>(
    header: &BatchHeader,
    payload: &'a [u8],
    mode: Mode,
    mut visit: impl FnMut(&RecordView<'a>),
) -> Result<u32, RecordsError> {
    let mut cursor = Cursor { buf: payload, pos: 0, index: 0 };
    let mut last_delta: Option<i32> = None;
    while cursor.pos < payload.len() {
        let record = next_record(&mut cursor)?;
        check_offset_delta(header, mode, &record, last_delta)?;
        last_delta = Some(record.offset_delta);
        visit(&record);
        cursor.index = cursor.index.saturating_add(1);
    }
    let found = cursor.index;
    if i64::from(found) != i64::from(header.record_count) {
        return Err(RecordsError::CountMismatch { declared: header.record_count, found });
    }
    // Kafka's `LogValidator.validateBatch` refuses a client batch that reports no records.
    if mode == Mode::Producer && found == 0 {
        return Err(RecordsError::NoRecords);
    }
    if mode == Mode::Producer
        && let Some(last) = last_delta
        && last != header.last_offset_delta
    {
        return Err(RecordsError::LastOffsetDelta { declared: header.last_offset_delta, found: last });
    }
    Ok(found)
}

fn check_offset_delta(
    header: &BatchHeader,
    mode: Mode,
    record: &RecordView<'_>,
    last: Option<i32>,
) -> Result<(), RecordsError> {
    let (delta, index) = (record.offset_delta, record.index);
    let ok = match mode {
        Mode::Producer => i64::from(delta) == i64::from(index),
        Mode::Stored => last.is_none_or(|l| delta > l) && (0..=header.last_offset_delta).contains(&delta),
    };
    if ok {
        return Ok(());
    }
    let expected = match mode {
        Mode::Producer => index.to_string(),
        Mode::Stored => format!("an increasing delta within 0..={}", header.last_offset_delta),
    };
    Err(RecordsError::OffsetDelta { index, delta, expected })
}

/// Parses the record at the cursor and moves past it.
fn next_record<'a>(cursor: &mut Cursor<'a>) -> Result<RecordView<'a>, RecordsError> {
    let index = cursor.index;
    let length = cursor.varint("record length")?;
    let remaining = cursor.buf.len() - cursor.pos;
    let declared = usize::try_from(length).ok().filter(|&l| l > 0).ok_or(RecordsError::BadLength {
        index,
        field: "record",
        value: i64::from(length),
    })?;
    if declared > remaining {
        return Err(RecordsError::Truncated { index, field: "record" });
    }
    let body = &cursor.buf[cursor.pos..cursor.pos + declared];
    cursor.pos += declared;
    let mut r = Cursor { buf: body, pos: 0, index };
    let attributes = r.byte("attributes")?;
    let timestamp_delta = r.varlong("timestamp delta")?;
    let offset_delta = r.varint("offset delta")?;
    let key = r.bytes("key")?;
    let value = r.bytes("value")?;
    let count = r.varint("header count")?;
    // Each header takes at least two bytes (its two length varints), so the count is bounded by the bytes.
    let left = body.len() - r.pos;
    let header_count = u32::try_from(count)
        .ok()
        .filter(|&c| c as usize <= left / 2)
        .ok_or(RecordsError::HeaderCount { index, count, left })?;
    let headers_at = r.pos;
    for _ in 0..header_count {
        // Kafka refuses null header keys ("Invalid negative header key size").
        if r.bytes("header key")?.is_none() {
            return Err(RecordsError::BadLength { index, field: "header key", value: -1 });
        }
        r.bytes("header value")?;
    }
    if r.pos != body.len() {
        return Err(RecordsError::LengthMismatch { index, declared, used: r.pos });
    }
    let headers = &body[headers_at..];
    Ok(RecordView { index, attributes, timestamp_delta, offset_delta, key, value, header_count, headers })
}

/// A read position in one record (or the payload), with the record index for error messages.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    index: u32,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self, field: &'static str) -> Result<u8, RecordsError> {
        let b = *self.buf.get(self.pos).ok_or(RecordsError::Truncated { index: self.index, field })?;
        self.pos += 1;
        Ok(b)
    }

    /// An unsigned LEB128 value of at most `max_bytes` bytes (5 for int32, 10 for int64, as Kafka reads them).
    fn uvarint(&mut self, field: &'static str, max_bytes: u32) -> Result<u64, RecordsError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.byte(field)?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordsError::VarintTooLong { index: self.index, field })
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, RecordsError> {
        let raw = self.uvarint(field, 5)? as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, RecordsError> {
        let raw = self.uvarint(field, 10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A length-prefixed byte string: -1 is null, any other negative length or one past the end is refused.
    fn bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, RecordsError> {
        let len = self.varint(field)?;
        if len == -1 {
            return Ok(None);
        }
        let n = usize::try_from(len).map_err(|_| RecordsError::BadLength {
            index: self.index,
            field,
            value: i64::from(len),
        })?;
        if n > self.buf.len() - self.pos {
            return Err(RecordsError::Truncated { index: self.index, field });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(Some(out))
    }
}
