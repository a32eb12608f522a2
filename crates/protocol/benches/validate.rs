//! Record-level validation of a produce batch (decompress + walk every record) against the header-only
//! check it extends: 1 MiB of ~1 KiB records, uncompressed, lz4 and zstd.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::hint::black_box;
use weft_protocol::batch::split_batches;
use weft_protocol::records::{MAX_DECOMPRESSED_BYTES, Mode, ValidateOptions, validate_batch};

/// ~1 KiB values of words from a small vocabulary: compressible like text, not like zeros.
fn value(seed: u64) -> Bytes {
    const WORDS: [&str; 8] = ["order", "customer", "amount", "status", "pending", "shipped", "id", "eur"];
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut out = String::with_capacity(1100);
    while out.len() < 1000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push_str(WORDS[(x >> 61) as usize]);
        out.push_str(&((x >> 20) % 100_000).to_string());
        out.push(' ');
    }
    Bytes::from(out)
}

fn batch(compression: Compression) -> Bytes {
    let recs: Vec<Record> = (0..1000)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(value(i as u64)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, recs.iter(), &RecordEncodeOptions { version: 2, compression })
        .expect("encode");
    buf.freeze()
}

fn validate(c: &mut Criterion) {
    let opts = ValidateOptions {
        mode: Mode::Producer,
        keys_required: true,
        timestamp_bounds: Some((0, i64::MAX)),
        max_decompressed: MAX_DECOMPRESSED_BYTES,
    };
    let mut g = c.benchmark_group("validate_1mib_of_1kib_records");
    // Throughput is the uncompressed size, so the codecs compare on the same work.
    g.throughput(Throughput::Bytes(batch(Compression::None).len() as u64));
    for (name, compression) in [("none", Compression::None), ("lz4", Compression::Lz4), ("zstd", Compression::Zstd)] {
        let data = batch(compression);
        g.bench_function(format!("header_only_{name}"), |b| {
            b.iter(|| black_box(split_batches(&data).map(|v| v.len())))
        });
        g.bench_function(format!("records_{name}"), |b| {
            b.iter(|| {
                let batches = split_batches(&data).expect("valid");
                let (header, bytes) = &batches[0];
                black_box(validate_batch(bytes, header, &opts).expect("valid").max_timestamp)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
