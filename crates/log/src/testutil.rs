//! Helpers for this crate's tests: a metastore with one topic, and stored batches.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::sync::Arc;
use uuid::Uuid;
use weft_meta::{BatchAppend, BatchKind, Catalog, Log, NewTopic, SegmentCommit, SqlMetastore};
use weft_storage::ObjectStorage;

/// A SQLite metastore in `dir` with one topic of one partition, and an in-memory store whose segment cache
/// holds `cache_bytes`.
pub(crate) async fn store_with_topic(
    dir: &std::path::Path,
    cache_bytes: usize,
) -> (Arc<SqlMetastore>, ObjectStorage, Uuid) {
    let meta = Arc::new(SqlMetastore::open(&format!("sqlite://{}/m.db", dir.display())).await.unwrap());
    let topic =
        NewTopic { name: "t".into(), id: Uuid::new_v4(), partitions: 1, configs: Default::default(), created_ms: 0 };
    let topic_id = meta.create_topic(topic).await.unwrap().id;
    (meta, ObjectStorage::open("memory://", cache_bytes).unwrap(), topic_id)
}

/// One batch of one record, as a producer sends it (base offset 0).
pub(crate) fn one_record_batch() -> Bytes {
    record_batch(false)
}

/// One batch of one record, transactional (producer 7) or not.
pub(crate) fn record_batch(transactional: bool) -> Bytes {
    let record = Record {
        transactional,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: if transactional { 7 } else { -1 },
        producer_epoch: if transactional { 0 } else { -1 },
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: if transactional { 0 } else { -1 },
        timestamp: 0,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut out, &[record], &options).unwrap();
    out.freeze()
}

/// Stores `data` (one one-record batch) as object `key`, outside the cache, and commits it to partition 0.
pub(crate) async fn commit_object(
    meta: &SqlMetastore,
    storage: &ObjectStorage,
    topic_id: Uuid,
    key: &str,
    data: &Bytes,
) {
    storage.put_durable_uncached(key, data.clone()).await.unwrap();
    let append = BatchAppend {
        topic_id,
        partition: 0,
        byte_start: 0,
        byte_len: data.len() as u32,
        offset_span: 1,
        record_count: 1,
        max_timestamp: 0,
        producer: None,
        kind: BatchKind::Plain,
        record_set: 0,
    };
    let commit =
        SegmentCommit { object_key: key.into(), object_size: data.len() as u64, created_ms: 0, batches: vec![append] };
    meta.commit_segment(commit).await.unwrap();
}
