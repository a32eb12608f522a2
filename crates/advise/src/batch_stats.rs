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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    fn batch(base_ts: i64, keys: &[&str], compression: Compression) -> Bytes {
        let records: Vec<Record> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: 7,
                producer_epoch: 0,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: base_ts,
                key: Some(Bytes::from(k.to_string())),
                value: Some(Bytes::from("a value that repeats, a value that repeats, a value that repeats")),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, records.iter(), &RecordEncodeOptions { version: 2, compression }).unwrap();
        buf.freeze()
    }

    #[test]
    fn batches_are_counted_by_codec_producer_gap_and_key() {
        let keys = ["hot", "hot", "hot", "hot", "hot", "hot", "hot", "hot", "a", "b"];
        let first = batch(1_000, &keys, Compression::None);
        let second = batch(1_025, &keys, Compression::Zstd);
        let mut fetched = BytesMut::new();
        fetched.extend_from_slice(&first);
        fetched.extend_from_slice(&second);
        // A fetch may end in the middle of a batch: that part is left alone.
        fetched.extend_from_slice(&first[..30]);
        let mut stats = BatchStats::default();
        stats.add_records(0, &fetched);
        let s = stats.finish().unwrap();
        assert_eq!((s.batches, s.records), (2, 20));
        assert_eq!(s.batch_bytes, (first.len() + second.len()) as u64);
        assert_eq!(s.codecs.get("none"), Some(&1));
        assert_eq!(s.codecs.get("zstd"), Some(&1));
        assert_eq!((s.idempotent_batches, s.plain_batches, s.producers), (2, 0, 1));
        assert_eq!(s.median_batch_gap_ms, Some(25.0));
        assert_eq!((s.keyed_records, s.distinct_keys), (20, 3));
        assert_eq!(s.top_key.as_deref(), Some("hot"));
        assert_eq!(s.top_key_share, 0.8);
        // Both decompress to the same records; the compressed one is stored smaller.
        assert_eq!(s.uncompressed_record_bytes, 2 * (first.len() - BATCH_HEADER_LEN) as u64);
        assert!(s.stored_record_bytes < s.uncompressed_record_bytes);
        // Only the uncompressed batch is compressed for the estimate; its values repeat, so it shrinks.
        let e = s.estimate.unwrap();
        assert_eq!(e.input_bytes, (first.len() - BATCH_HEADER_LEN) as u64);
        assert!(e.zstd_ratio() > 1.5 && e.lz4_ratio() > 1.0, "{e:?}");
    }

    #[test]
    fn garbage_and_empty_fetches_yield_no_sample() {
        let mut stats = BatchStats::default();
        stats.add_records(0, &[0xff; 100]);
        stats.add_records(0, &[]);
        assert!(stats.finish().is_none());
    }
}
