//! A coordinator that loses a transaction while its markers upload slowly: the new owner completes the
//! transaction and the producer begins its next one at the same epoch in the same partition; the late markers
//! are then fenced by the metastore, the stale coordinator gives up, and the owner still ends the next one.
//! The slow upload is staged by starting the stale coordinator's flusher only after the owner is done.

use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use weft_clock::{Clock, RandomIds, SystemClock};
use weft_log::health::Health;
use weft_log::{FlushDeps, PartitionWatch, ProduceBuffer, ProduceLimits};
use weft_meta::prelude::*;
use weft_meta::{BatchAppend, BatchKind, NewTopic, ProducerBatch, SegmentCommit, SqlMetastore, TxnPartition, TxnState};
use weft_storage::ObjectStorage;
use weft_txn::{TxnCoordinator, rules};

fn buffer() -> ProduceBuffer {
    ProduceBuffer::new(ProduceLimits {
        flush_bytes: 1 << 20,
        flush_interval: Duration::from_millis(5),
        max_buffered_bytes: 1 << 24,
        max_inflight_flushes: 2,
    })
}

fn flush(buffer: &ProduceBuffer, meta: &Arc<SqlMetastore>, storage: &ObjectStorage) -> tokio::task::JoinHandle<()> {
    buffer.spawn(FlushDeps {
        storage: storage.clone(),
        meta: meta.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        partitions: Arc::new(PartitionWatch::default()),
        tail: Arc::new(weft_log::IndexTail::new(Arc::new(SystemClock), Duration::from_secs(2))),
        health: Arc::new(Health::default()),
        commit_deadline: Duration::from_secs(60),
    })
}

/// A transactional batch of one record, committed directly (the data path is not under test).
async fn data(meta: &SqlMetastore, topic_id: Uuid, key: &str, (pid, epoch): (i64, i16), seq: i32) {
    let batch = BatchAppend {
        topic_id,
        partition: 0,
        byte_start: 0,
        byte_len: 10,
        offset_span: 1,
        record_count: 1,
        max_timestamp: 1,
        producer: Some(ProducerBatch { producer_id: pid, epoch, first_sequence: seq, last_sequence: seq }),
        kind: BatchKind::Transactional,
        record_set: 0,
    };
    let commit = SegmentCommit { object_key: key.into(), object_size: 10, created_ms: 1, batches: vec![batch] };
    let outcomes = meta.commit_segment(commit).await.expect("commit").outcomes;
    assert!(matches!(outcomes[..], [weft_meta::AppendOutcome::Appended { .. }]), "{outcomes:?}");
}

/// (high watermark, last stable offset) of the partition.
async fn offsets(meta: &SqlMetastore, topic_id: Uuid) -> (i64, i64) {
    let b = meta.partition_offsets(topic_id, 0).await.expect("offsets").expect("exists");
    (b.next_offset, b.last_stable)
}

async fn state(meta: &SqlMetastore) -> TxnState {
    meta.transaction("tx").await.expect("read").expect("exists").state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_markers_of_a_stale_coordinator_do_not_end_the_next_transaction() {
    let dir = tempfile::tempdir().expect("dir");
    let meta = Arc::new(SqlMetastore::open(&format!("sqlite://{}/m.db", dir.path().display())).await.expect("store"));
    let storage = ObjectStorage::open(&format!("file://{}/objects", dir.path().display()), 1 << 20).expect("storage");
    let spec =
        NewTopic { name: "t".into(), id: Uuid::new_v4(), partitions: 1, configs: Default::default(), created_ms: 0 };
    let topic = meta.create_topic(spec).await.expect("topic");
    let p0 = TxnPartition { topic: topic.name.clone(), topic_id: topic.id, partition: 0 };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (owner_log, stale_log) = (buffer(), buffer());
    let _owner_flusher = flush(&owner_log, &meta, &storage);
    let owner = TxnCoordinator::new(meta.clone(), owner_log, clock.clone(), 900_000);
    let stale = Arc::new(TxnCoordinator::new(meta.clone(), stale_log.clone(), clock.clone(), 900_000));

    // The first transaction; the stale coordinator decides to commit, but its markers hang in its buffer.
    let (pid, epoch) = owner.init("tx", 60_000, None).await.expect("init");
    let add = |now| {
        let parts = [p0.clone()];
        move |c| rules::add_partitions(c, pid, epoch, &parts, now)
    };
    owner.change("tx", add(clock.now_ms())).await.expect("add");
    data(&meta, topic.id, "d1", (pid, epoch), 0).await;
    let s = stale.clone();
    let late_end = tokio::spawn(async move { s.end("tx", pid, epoch, true).await });
    while state(&meta).await != TxnState::PrepareCommit {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The owner completes it; the producer's next transaction writes to the same partition at the same epoch.
    owner.check().await;
    assert_eq!(state(&meta).await, TxnState::CompleteCommit);
    assert_eq!(offsets(&meta, topic.id).await, (2, 2));
    tokio::time::sleep(Duration::from_millis(2)).await;
    owner.change("tx", add(clock.now_ms())).await.expect("add");
    data(&meta, topic.id, "d2", (pid, epoch), 1).await;
    assert_eq!(offsets(&meta, topic.id).await, (3, 2));

    // The late markers land: fenced, nothing stored; the stale coordinator gives up (EndTxn's decision was
    // recorded, so its answer stays success) and leaves the next transaction open.
    let _stale_flusher = flush(&stale_log, &meta, &storage);
    let answer = tokio::time::timeout(Duration::from_secs(10), late_end).await.expect("the stale end returns");
    assert_eq!(answer.expect("task"), Ok(()));
    assert_eq!(offsets(&meta, topic.id).await, (3, 2), "the open transaction still holds the last stable offset");
    assert_eq!(state(&meta).await, TxnState::Ongoing);
    stale.check().await;
    assert_eq!(state(&meta).await, TxnState::Ongoing, "nothing prepared is left to the stale coordinator");

    // The owner ends the next transaction normally.
    owner.end("tx", pid, epoch, true).await.expect("end");
    assert_eq!(state(&meta).await, TxnState::CompleteCommit);
    assert_eq!(offsets(&meta, topic.id).await, (4, 4));
}
