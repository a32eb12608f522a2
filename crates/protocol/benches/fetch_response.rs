//! Building and encoding a fetch response from cached stored batches: the old path (copy every batch into
//! one buffer to patch its base offset, then let kafka-protocol copy the records into the frame) against the
//! chunked path (patch a 16-byte copy of each batch's start, slice the rest, encode without copying).
//! 64 batches of about 16 KiB, in 4 partitions of one topic.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{ApiKey, FetchResponse};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::hint::black_box;
use weft_protocol::batch::{BatchHeader, PATCHED_PREFIX_LEN, patch_batch, patch_prefix};
use weft_protocol::{Chunks, FetchReply, encode_fetch_response, encode_response};

const PARTITIONS: usize = 4;
const BATCHES_PER_PARTITION: usize = 16;
const VERSION: i16 = 13;

/// A stored batch of 16 records of 1 KiB (about 16 KiB), as the segment cache holds it.
fn stored_batch(seed: usize) -> Bytes {
    let records: Vec<Record> = (0..16)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: -1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(vec![(seed + i as usize) as u8; 1024])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &opts).expect("encode");
    buf.freeze()
}

fn partition(p: usize) -> PartitionData {
    PartitionData::default()
        .with_partition_index(p as i32)
        .with_high_watermark(1 << 20)
        .with_last_stable_offset(1 << 20)
}

fn topic(partitions: Vec<PartitionData>) -> FetchResponse {
    FetchResponse::default().with_responses(vec![FetchableTopicResponse::default().with_partitions(partitions)])
}

/// Before: one buffer per partition with every batch copied in and patched, then the codec's frame.
fn old_path(cache: &[Vec<Bytes>]) -> Bytes {
    let mut partitions = Vec::new();
    for (p, batches) in cache.iter().enumerate() {
        let mut out = BytesMut::with_capacity(batches.iter().map(Bytes::len).sum());
        for (i, b) in batches.iter().enumerate() {
            let start = out.len();
            out.extend_from_slice(b);
            patch_batch(&mut out[start..], (i * 16) as i64, 0);
        }
        partitions.push(partition(p).with_records(Some(out.freeze())));
    }
    encode_response(ApiKey::Fetch, VERSION, 1, &topic(partitions)).expect("encode")
}

/// After: per batch a header check, a patched 16-byte prefix and a slice; the frame as chunks.
fn new_path(cache: &[Vec<Bytes>]) -> Chunks {
    let mut partitions = Vec::new();
    let mut sets = Vec::new();
    for (p, batches) in cache.iter().enumerate() {
        let mut chunks = Chunks::with_capacity(2 * batches.len());
        let mut prefixes = BytesMut::with_capacity(PATCHED_PREFIX_LEN * batches.len());
        for (i, b) in batches.iter().enumerate() {
            BatchHeader::parse(b).expect("header");
            prefixes.extend_from_slice(&b[..PATCHED_PREFIX_LEN]);
            patch_prefix(&mut prefixes, (i * 16) as i64, 0);
            chunks.push(prefixes.split().freeze());
            chunks.push(b.slice(PATCHED_PREFIX_LEN..));
        }
        partitions.push(partition(p).with_records(Some(Bytes::new())));
        sets.push(chunks);
    }
    let reply = FetchReply { body: topic(partitions), records: vec![sets] };
    encode_fetch_response(VERSION, 1, &reply).expect("encode")
}

fn fetch_response(c: &mut Criterion) {
    let cache: Vec<Vec<Bytes>> =
        (0..PARTITIONS).map(|p| (0..BATCHES_PER_PARTITION).map(|i| stored_batch(p * 31 + i)).collect()).collect();
    assert_eq!(old_path(&cache), new_path(&cache).to_bytes(), "both paths produce the same frame");
    let bytes: usize = cache.iter().flatten().map(Bytes::len).sum();
    let mut g = c.benchmark_group("fetch_response_64x16k");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("copy_and_encode", |b| b.iter(|| black_box(old_path(black_box(&cache)).len())));
    g.bench_function("chunks", |b| b.iter(|| black_box(new_path(black_box(&cache)).len())));
    g.finish();
}

criterion_group!(benches, fetch_response);
criterion_main!(benches);
