//! Figures from raw record batches, as fetched: batch headers (records, bytes, codec, producer id, timestamps)
//! and a walk over the records for their keys, through `weft-protocol`'s bounded decoding. Uncompressed
//! batches are compressed here, one batch at a time as a producer would, to estimate what compression gains.
//!
//! Every collection is bounded: distinct keys, producers, gaps and the bytes compressed for the estimate.

use crate::observations::{CompressionEstimate, RecordSample};
use std::collections::{BTreeMap, HashMap};
use weft_protocol::BatchHeader;
use weft_protocol::batch::BATCH_HEADER_LEN;
use weft_protocol::records::{Mode, batch_payload, walk};

/// Distinct keys counted; further new keys count as keyed records only.
const MAX_KEYS: usize = 10_000;
/// Bytes of a key kept to tell keys apart.
const MAX_KEY_BYTES: usize = 64;
/// Distinct producers tracked for batch gaps.
const MAX_PRODUCERS: usize = 10_000;
/// Gaps kept for the median.
const MAX_GAPS: usize = 10_000;
/// Uncompressed record bytes compressed for the estimate.
const MAX_ESTIMATE_BYTES: usize = 4 << 20;
/// A sampled batch decompresses to at most this many bytes (larger ones are counted by header only).
const MAX_DECOMPRESSED: usize = 16 << 20;
/// zstd level for the estimate: the producers' default.
const ZSTD_LEVEL: i32 = 3;
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

#[derive(Default)]
pub struct BatchStats {
    s: RecordSample,
    keys: HashMap<Vec<u8>, u64>,
    producers: HashMap<(i32, i64), i64>,
    gaps: Vec<i64>,
    estimate: CompressionEstimate,
}

impl BatchStats {
    /// Adds every whole batch in `records` (a fetch response's record set of `partition`); a partial batch at
    /// the end, as fetches return, ends the walk.
    pub fn add_records(&mut self, partition: i32, records: &[u8]) {
        let mut at = 0;
        while let Some(rest) = records.get(at..).filter(|r| !r.is_empty()) {
            let Ok(header) = BatchHeader::parse(rest) else { break };
            if !header.is_control() {
                self.add_batch(partition, &header, &rest[..header.size]);
            }
            at += header.size;
        }
    }

    fn add_batch(&mut self, partition: i32, header: &BatchHeader, batch: &[u8]) {
        let s = &mut self.s;
        s.batches += 1;
        s.records += header.record_count.max(0) as u64;
        s.batch_bytes += batch.len() as u64;
        let codec = CODECS.get(header.compression() as usize).copied().unwrap_or("unknown");
        *s.codecs.entry(codec.to_string()).or_default() += 1;
        if header.producer_id >= 0 {
            s.idempotent_batches += 1;
        } else {
            s.plain_batches += 1;
        }
        self.gap(partition, header);
        let Ok(payload) = batch_payload(batch, header, MAX_DECOMPRESSED) else { return };
        self.s.stored_record_bytes += (batch.len() - BATCH_HEADER_LEN) as u64;
        self.s.uncompressed_record_bytes += payload.len() as u64;
        if header.compression() == 0 && (self.estimate.input_bytes as usize) < MAX_ESTIMATE_BYTES {
            self.estimate_compression(&payload);
        }
        let (keys, s) = (&mut self.keys, &mut self.s);
        let _ = walk(header, &payload, Mode::Stored, |r| {
            if let Some(key) = r.key {
                s.keyed_records += 1;
                let key = &key[..key.len().min(MAX_KEY_BYTES)];
                if let Some(n) = keys.get_mut(key) {
                    *n += 1;
                } else if keys.len() < MAX_KEYS {
                    keys.insert(key.to_vec(), 1);
                }
            }
        });
    }

    /// Milliseconds since the same producer's previous batch in the partition (batches arrive in order).
    fn gap(&mut self, partition: i32, header: &BatchHeader) {
        let key = (partition, header.producer_id);
        if let Some(prev) = self.producers.get_mut(&key) {
            if self.gaps.len() < MAX_GAPS {
                self.gaps.push(header.base_timestamp.saturating_sub(*prev).max(0));
            }
            *prev = header.base_timestamp;
        } else if self.producers.len() < MAX_PRODUCERS {
            self.producers.insert(key, header.base_timestamp);
        }
    }

    fn estimate_compression(&mut self, payload: &[u8]) {
        let zstd = zstd::bulk::compress(payload, ZSTD_LEVEL).map(|c| c.len());
        let lz4 = lz4::block::compress(payload, None, false).map(|c| c.len());
        if let (Ok(z), Ok(l)) = (zstd, lz4) {
            self.estimate.input_bytes += payload.len() as u64;
            self.estimate.zstd_bytes += z as u64;
            self.estimate.lz4_bytes += l as u64;
        }
    }

    /// The sample, `None` when no batch was seen.
    pub fn finish(mut self) -> Option<RecordSample> {
        if self.s.batches == 0 {
            return None;
        }
        let producers: std::collections::BTreeSet<i64> =
            self.producers.keys().map(|(_, p)| *p).filter(|p| *p >= 0).collect();
        self.s.producers = producers.len() as u64;
        self.gaps.sort_unstable();
        self.s.median_batch_gap_ms = self.gaps.get(self.gaps.len() / 2).map(|g| *g as f64);
        self.s.distinct_keys = self.keys.len() as u64;
        let top: BTreeMap<u64, &Vec<u8>> = self.keys.iter().map(|(k, n)| (*n, k)).collect();
        if let Some((n, key)) = top.last_key_value() {
            self.s.top_key_share = *n as f64 / self.s.keyed_records.max(1) as f64;
            let text: String = String::from_utf8_lossy(key).chars().take(40).collect();
            self.s.top_key = Some(text);
        }
        if self.estimate.input_bytes > 0 {
            self.s.estimate = Some(self.estimate);
        }
        Some(self.s)
    }
}
