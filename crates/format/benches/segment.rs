//! Segment building and index reading: the per-flush CPU cost of the produce path.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use weft_format::{SegmentBuilder, read_entries};

fn build_segment(batches: usize, batch_len: usize) -> bytes::Bytes {
    let batch = vec![7u8; batch_len];
    let mut b = SegmentBuilder::new();
    for i in 0..batches {
        b.push([(i % 251) as u8; 16], (i % 64) as i32, &batch);
    }
    b.finish()
}

fn segment(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment");
    // An 8 MiB flush of 128 batches of 64 KiB (the default flush size).
    g.throughput(Throughput::Bytes(128 * 64 * 1024));
    g.bench_function("build_8mib_128_batches", |b| b.iter(|| black_box(build_segment(128, 64 * 1024))));
    let obj = build_segment(4096, 2048);
    g.throughput(Throughput::Elements(4096));
    g.bench_function("read_entries_4096", |b| b.iter(|| black_box(read_entries(&obj).map(|e| e.len()))));
    g.finish();
}

criterion_group!(benches, segment);
criterion_main!(benches);
