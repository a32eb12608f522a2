//! Test fixtures: a memory object store and a SQLite metastore, a producer that writes batches the way the
//! agent's flush path does, and a reader that returns what a consumer from the log start would see.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_format::SegmentBuilder;
use weft_meta::{BatchAppend, BatchKind, Metastore, NewTopic, SegmentCommit, SqlMetastore, Topic};
use weft_protocol::kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weft_protocol::rewrite;
use weft_storage::{Faults, ObjectStorage, keys};

pub struct Fixture {
    pub meta: Arc<dyn Metastore>,
    pub storage: ObjectStorage,
    pub faults: Arc<Faults>,
    _dir: tempfile::TempDir,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let meta: Arc<dyn Metastore> = Arc::new(SqlMetastore::open(&url).await.expect("metastore"));
    let faults = Arc::new(Faults::new());
    let storage = ObjectStorage::open("memory://", 0).expect("store").with_faults(faults.clone());
    Fixture { meta, storage, faults, _dir: dir }
}

pub async fn topic(f: &Fixture, name: &str, partitions: i32) -> Topic {
    let spec =
        NewTopic { name: name.into(), id: uuid::Uuid::new_v4(), partitions, configs: BTreeMap::new(), created_ms: 0 };
    f.meta.create_topic(spec).await.expect("create topic")
}

/// One record to produce: key, value (None = tombstone), timestamp.
pub type Rec = (Option<String>, Option<String>, i64);

pub fn encode(records: &[Rec], compression: Compression) -> Bytes {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Non-idempotent: base sequence -1 (the encoder derives it from the first record's).
            sequence: i as i32 - 1,
            timestamp: *ts,
            key: k.clone().map(Bytes::from),
            value: v.clone().map(Bytes::from),
            headers: IndexMap::new(),
        })
        .collect();
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(&mut out, records.iter(), &RecordEncodeOptions { version: 2, compression })
        .expect("encode");
    out.freeze()
}

/// Writes one flush segment holding one batch per (partition, records) and commits it.
pub async fn produce(f: &Fixture, t: &Topic, created_ms: i64, nonce: u64, batches: &[(i32, Vec<Rec>)]) {
    let mut builder = SegmentBuilder::new();
    let mut appends = Vec::new();
    for (partition, recs) in batches {
        let data = encode(recs, Compression::None);
        let range = builder.push(*t.id.as_bytes(), *partition, &data);
        appends.push(BatchAppend {
            topic_id: t.id,
            partition: *partition,
            byte_start: range.start,
            byte_len: data.len() as u32,
            offset_span: recs.len() as i64,
            record_count: recs.len() as i32,
            max_timestamp: recs.iter().map(|r| r.2).max().unwrap_or(0),
            producer: None,
            kind: BatchKind::Plain,
            record_set: appends.len() as u32,
        });
    }
    let key = keys::segment_key(created_ms, nonce);
    let object = builder.finish();
    let object_size = object.len() as u64;
    f.storage.put_durable(&key, object).await.expect("put");
    let commit = SegmentCommit { object_key: key, object_size, created_ms, batches: appends };
    f.meta.commit_segment(commit).await.expect("commit");
}

/// (offset, key, value) of every record a consumer reading from the log start sees.
pub async fn read_all(f: &Fixture, t: &Topic, partition: i32) -> Vec<(i64, Option<Bytes>, Option<Bytes>)> {
    let bounds = f.meta.partition_offsets(t.id, partition).await.expect("offsets").expect("partition");
    let rows = f.meta.read_index(t.id, partition, bounds.log_start, u64::MAX, 100_000).await.expect("index");
    let mut out = Vec::new();
    for row in rows {
        let range = row.byte_start..row.byte_start + u64::from(row.byte_len);
        let data = f.storage.get_range(&row.object_key, range, false).await.expect("read batch");
        let mut data = BytesMut::from(&data[..]);
        weft_protocol::batch::patch_batch(&mut data, row.base_offset, 0);
        let batch = rewrite::decode(&data).expect("decode");
        for r in batch.records {
            if r.offset >= bounds.log_start {
                out.push((r.offset, r.key, r.value));
            }
        }
    }
    out
}
