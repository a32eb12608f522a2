//! The Fetch response encoder that does not copy records: every field is written into one small buffer, and
//! each record set is put in place as the chunks it already is (slices of cached objects and patched batch
//! headers), so the frame goes out with vectored writes. Its bytes are exactly kafka-protocol's for the same
//! response (a property test compares them for every served version); anything it does not write itself
//! (unknown tagged fields, fields set at a version without them) goes through kafka-protocol's encoder.

use crate::chunks::Chunks;
use crate::response::{EncodeError, encode_response};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;

/// Fetch versions this encoder writes itself; others go through kafka-protocol.
const OWN_VERSIONS: std::ops::RangeInclusive<i16> = 4..=17;

/// A Fetch response whose record sets may be held as chunks beside the codec's struct.
#[derive(Debug, Clone, Default)]
pub struct FetchReply {
    pub body: FetchResponse,
    /// `records[t][p]`, when present, is the record set of `body.responses[t].partitions[p]`: it replaces
    /// that partition's `records` field with a non-null record set of these chunks. Partitions without an
    /// entry keep their field.
    pub records: Vec<Vec<Chunks>>,
}

impl From<FetchResponse> for FetchReply {
    fn from(body: FetchResponse) -> Self {
        FetchReply { body, records: Vec::new() }
    }
}

impl FetchReply {
    /// The record set of partition `p` of topic `t`, as chunks.
    fn records_of(&self, t: usize, p: usize, data: &PartitionData) -> Option<Chunks> {
        match self.records.get(t).and_then(|r| r.get(p)) {
            Some(chunks) => Some(chunks.clone()),
            None => data.records.clone().map(Chunks::from),
        }
    }

    /// Record bytes in the response (what fetch quotas and byte counters measure).
    pub fn record_bytes(&self) -> usize {
        let mut total = 0;
        for (t, topic) in self.body.responses.iter().enumerate() {
            for (p, data) in topic.partitions.iter().enumerate() {
                total += match self.records.get(t).and_then(|r| r.get(p)) {
                    Some(chunks) => chunks.len(),
                    None => data.records.as_ref().map_or(0, Bytes::len),
                };
            }
        }
        total
    }

    /// The response as kafka-protocol's struct, record sets copied into one buffer each.
    pub fn to_response(&self) -> FetchResponse {
        let mut body = self.body.clone();
        for (t, topic) in body.responses.iter_mut().enumerate() {
            for (p, data) in topic.partitions.iter_mut().enumerate() {
                if let Some(chunks) = self.records.get(t).and_then(|r| r.get(p)) {
                    data.records = Some(chunks.to_bytes());
                }
            }
        }
        body
    }
}

/// Encodes a complete Fetch response frame (with its 4-byte size) at `version`, record sets uncopied.
pub fn encode_fetch_response(version: i16, correlation_id: i32, reply: &FetchReply) -> Result<Chunks, EncodeError> {
    if !writes_itself(&reply.body, version) {
        return encode_response(ApiKey::Fetch, version, correlation_id, &reply.to_response()).map(Chunks::from);
    }
    let mut w = Writer::new();
    w.buf.put_i32(0); // the size, written once known
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    w.codec(&header, ApiKey::Fetch.response_header_version(version), version)?;
    w.body(reply, version)?;
    w.finish(version)
}

/// Whether every field of `body` is one this encoder writes at `version` the way kafka-protocol does.
fn writes_itself(body: &FetchResponse, version: i16) -> bool {
    // Unknown tagged fields exist only in flexible versions (v12+); this encoder writes none.
    let no_unknown = |fields: &std::collections::BTreeMap<i32, Bytes>| version < 12 || fields.is_empty();
    OWN_VERSIONS.contains(&version)
        && (version >= 7 || body.session_id == 0)
        && no_unknown(&body.unknown_tagged_fields)
        && body.responses.iter().all(|t| {
            no_unknown(&t.unknown_tagged_fields)
                && t.partitions.iter().all(|p| {
                    (version >= 11 || p.preferred_read_replica.0 == -1) && no_unknown(&p.unknown_tagged_fields)
                })
        })
}

/// The frame being written: fields in `buf`, record chunks to insert after given positions of it.
struct Writer {
    buf: BytesMut,
    inserts: Vec<(usize, Bytes)>,
    inserted: usize,
}

impl Writer {
    fn new() -> Self {
        // Fields take a few dozen bytes per partition; the buffer grows if a response has many.
        Writer { buf: BytesMut::with_capacity(1024), inserts: Vec::new(), inserted: 0 }
    }

    fn err(version: i16, reason: impl ToString) -> EncodeError {
        EncodeError { api: ApiKey::Fetch, version, reason: reason.to_string() }
    }

    /// A struct kafka-protocol encodes (headers and the small structs that hold no records).
    fn codec<E: Encodable>(&mut self, value: &E, at: i16, version: i16) -> Result<(), EncodeError> {
        value.encode(&mut self.buf, at).map_err(|e| Self::err(version, e))
    }

    fn varint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    /// An array's length: a compact (varint of n + 1, 0 for null) or a plain (i32, -1 for null) one.
    fn array_len(&mut self, n: Option<usize>, version: i16) -> Result<(), EncodeError> {
        let too_long = || Self::err(version, format!("array of {n:?} items is too long to encode"));
        if version >= 12 {
            let n = n.map_or(Ok(0), |n| u32::try_from(n).ok().and_then(|n| n.checked_add(1)).ok_or_else(too_long))?;
            self.varint(n);
        } else {
            let n = n.map_or(Ok(-1), |n| i32::try_from(n).map_err(|_| too_long()))?;
            self.buf.put_i32(n);
        }
        Ok(())
    }

    fn string(&mut self, s: &str, version: i16) -> Result<(), EncodeError> {
        if version >= 12 {
            self.array_len(Some(s.len()), version)?;
        } else {
            let n = i16::try_from(s.len()).map_err(|_| Self::err(version, "String is too long to encode"))?;
            self.buf.put_i16(n);
        }
        self.buf.put_slice(s.as_bytes());
        Ok(())
    }

    fn body(&mut self, reply: &FetchReply, version: i16) -> Result<(), EncodeError> {
        let body = &reply.body;
        self.buf.put_i32(body.throttle_time_ms);
        if version >= 7 {
            self.buf.put_i16(body.error_code);
            self.buf.put_i32(body.session_id);
        }
        self.array_len(Some(body.responses.len()), version)?;
        for (t, topic) in body.responses.iter().enumerate() {
            self.topic(reply, t, topic, version)?;
        }
        if version >= 12 {
            let endpoints = version >= 16 && !body.node_endpoints.is_empty();
            self.varint(u32::from(endpoints));
            if endpoints {
                // Tag 0: the endpoints as a compact array, preceded by its size.
                let mut inner = Writer::new();
                inner.array_len(Some(body.node_endpoints.len()), version)?;
                for e in &body.node_endpoints {
                    inner.codec(e, version, version)?;
                }
                self.varint(0);
                self.size(inner.buf.len(), version)?;
                self.buf.put_slice(&inner.buf);
            }
        }
        Ok(())
    }

    fn topic(
        &mut self,
        reply: &FetchReply,
        t: usize,
        topic: &FetchableTopicResponse,
        v: i16,
    ) -> Result<(), EncodeError> {
        if v <= 12 {
            self.string(&topic.topic.0, v)?;
        }
        if v >= 13 {
            self.buf.put_slice(topic.topic_id.as_bytes());
        }
        self.array_len(Some(topic.partitions.len()), v)?;
        for (p, data) in topic.partitions.iter().enumerate() {
            self.partition(reply.records_of(t, p, data), data, v)?;
        }
        if v >= 12 {
            self.varint(0);
        }
        Ok(())
    }

    fn partition(&mut self, records: Option<Chunks>, p: &PartitionData, v: i16) -> Result<(), EncodeError> {
        self.buf.put_i32(p.partition_index);
        self.buf.put_i16(p.error_code);
        self.buf.put_i64(p.high_watermark);
        self.buf.put_i64(p.last_stable_offset);
        if v >= 5 {
            self.buf.put_i64(p.log_start_offset);
        }
        self.array_len(p.aborted_transactions.as_ref().map(Vec::len), v)?;
        for a in p.aborted_transactions.iter().flatten() {
            self.codec(a, v, v)?;
        }
        if v >= 11 {
            self.buf.put_i32(p.preferred_read_replica.0);
        }
        self.records(records, v)?;
        if v >= 12 {
            let diverging = p.diverging_epoch != Default::default();
            let leader = p.current_leader != Default::default();
            let snapshot = p.snapshot_id != Default::default();
            self.varint(u32::from(diverging) + u32::from(leader) + u32::from(snapshot));
            if diverging {
                self.tagged(0, &p.diverging_epoch, v)?;
            }
            if leader {
                self.tagged(1, &p.current_leader, v)?;
            }
            if snapshot {
                self.tagged(2, &p.snapshot_id, v)?;
            }
        }
        Ok(())
    }

    /// A nullable bytes field whose bytes are inserted as chunks, not copied.
    fn records(&mut self, records: Option<Chunks>, version: i16) -> Result<(), EncodeError> {
        let Some(records) = records else {
            return self.array_len(None, version);
        };
        self.array_len(Some(records.len()), version)?;
        for part in records.parts() {
            self.inserted += part.len();
            self.inserts.push((self.buf.len(), part.clone()));
        }
        Ok(())
    }

    fn tagged<E: Encodable>(&mut self, tag: u32, value: &E, version: i16) -> Result<(), EncodeError> {
        let size = value.compute_size(version).map_err(|e| Self::err(version, e))?;
        self.varint(tag);
        self.size(size, version)?;
        self.codec(value, version, version)
    }

    fn size(&mut self, size: usize, version: i16) -> Result<(), EncodeError> {
        let size = u32::try_from(size).map_err(|_| Self::err(version, format!("tagged field of {size} bytes")))?;
        self.varint(size);
        Ok(())
    }

    /// Writes the frame's size and cuts the buffer around the inserted chunks (slices, no copies).
    fn finish(mut self, version: i16) -> Result<Chunks, EncodeError> {
        let size = self.buf.len() - 4 + self.inserted;
        let size = i32::try_from(size).map_err(|_| Self::err(version, format!("size {size} exceeds i32")))?;
        self.buf[0..4].copy_from_slice(&size.to_be_bytes());
        let fields = self.buf.freeze();
        let mut out = Chunks::with_capacity(2 * self.inserts.len() + 1);
        let mut at = 0;
        for (pos, chunk) in self.inserts {
            out.push(fields.slice(at..pos));
            out.push(chunk);
            at = pos;
        }
        out.push(fields.slice(at..));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
