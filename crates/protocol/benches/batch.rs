//! Record-batch validation on the produce path: header parse plus CRC-32C over the batch.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::hint::black_box;
use weft_protocol::batch::split_batches;

fn batch(records: usize, value_len: usize) -> Bytes {
    let recs: Vec<Record> = (0..records)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(vec![(i % 256) as u8; value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut buf, recs.iter(), &opts).expect("encode");
    buf.freeze()
}

fn validate(c: &mut Criterion) {
    let one_mib = batch(1000, 1024);
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Bytes(one_mib.len() as u64));
    g.bench_function("split_and_verify_1mib", |b| b.iter(|| black_box(split_batches(&one_mib).map(|v| v.len()))));
    g.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
