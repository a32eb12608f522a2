//! A partition's record set (the batches one request carries for it) is appended all or none: a refused batch
//! refuses the set, leaves no index row, does not move the partition's end, and advances no producer state.

use crate::conformance::{batch, new_topic};
use crate::{
    AppendOutcome, BatchAppend, BatchKind, MetaError, Metastore, ProducerBatch, SegmentCommit, TransactionMeta,
    TxnPartition, TxnState, TxnWrite,
};
use uuid::Uuid;

fn idem(topic: Uuid, partition: i32, pid: i64, first: i32, last: i32, set: u32) -> BatchAppend {
    let mut b = batch(topic, partition, 0, i64::from(last - first + 1), 1);
    b.producer = Some(ProducerBatch { producer_id: pid, epoch: 0, first_sequence: first, last_sequence: last });
    b.record_set = set;
    b
}

async fn commit(store: &dyn Metastore, key: &str, batches: Vec<BatchAppend>) -> Vec<AppendOutcome> {
    let commit = SegmentCommit { object_key: key.into(), object_size: 100, created_ms: 9, batches };
    store.commit_segment(commit).await.expect("commit").outcomes
}

async fn end(store: &dyn Metastore, topic: Uuid, partition: i32) -> (i64, i64) {
    let o = store.partition_offsets(topic, partition).await.expect("offsets").expect("exists");
    (o.next_offset, o.last_stable)
}

async fn rows(store: &dyn Metastore, topic: Uuid, partition: i32) -> Vec<(i64, i64)> {
    let index = store.read_index(topic, partition, 0, u64::MAX, 100).await.expect("index");
    index.iter().map(|b| (b.base_offset, b.last_offset)).collect()
}

pub async fn out_of_sequence_sets_store_nothing(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-sets", 2)).await.expect("create");
    let pid = store.allocate_producer_id().await.expect("id");
    let appended = |base_offset| AppendOutcome::Appended { base_offset, log_start: 0 };

    // The second batch does not follow the first: neither is stored. Other partitions' sets in the same commit
    // are appended whole.
    let out = commit(
        store,
        "sets-1",
        vec![
            idem(t.id, 0, pid, 0, 0, 1),
            idem(t.id, 0, pid, 5, 5, 1),
            idem(t.id, 1, pid, 0, 1, 2),
            idem(t.id, 1, pid, 2, 2, 2),
        ],
    )
    .await;
    let oos = AppendOutcome::OutOfOrderSequence;
    assert_eq!(out, vec![oos, oos, appended(0), appended(2)]);
    assert_eq!(end(store, t.id, 0).await, (0, 0), "nothing of the refused set moved the end");
    assert!(rows(store, t.id, 0).await.is_empty(), "nothing of the refused set is indexed");
    assert_eq!(rows(store, t.id, 1).await, vec![(0, 1), (2, 2)]);
    assert_eq!(end(store, t.id, 1).await, (3, 3));

    // Reversed: the first batch is refused, the valid second one is not stored either.
    let unknown = AppendOutcome::UnknownProducerId;
    let out = commit(store, "sets-2", vec![idem(t.id, 0, pid, 5, 5, 3), idem(t.id, 0, pid, 0, 0, 3)]).await;
    assert_eq!(out, vec![unknown, unknown]);
    assert_eq!(end(store, t.id, 0).await, (0, 0));

    // No producer state advanced: the producer's correct retry starts at sequence 0 and offset 0.
    let out = commit(store, "sets-3", vec![idem(t.id, 0, pid, 0, 0, 4), idem(t.id, 0, pid, 1, 3, 4)]).await;
    assert_eq!(out, vec![appended(0), appended(1)]);
    assert_eq!(rows(store, t.id, 0).await, vec![(0, 0), (1, 3)]);
    let producers = store.producers(t.id, 0).await.expect("producers");
    assert_eq!(producers.iter().find(|p| p.producer_id == pid).map(|p| p.last_sequence), Some(3));
}

pub async fn duplicates_answer_the_whole_set(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-sets-dup", 1)).await.expect("create");
    let pid = store.allocate_producer_id().await.expect("id");
    commit(store, "dup-1", vec![idem(t.id, 0, pid, 0, 0, 1), idem(t.id, 0, pid, 1, 2, 1)]).await;
    // A new batch with a retry of a stored one: the set is answered with the retried batch's offset (Kafka
    // returns the duplicate's metadata) and the new batch is not stored.
    let out = commit(store, "dup-2", vec![idem(t.id, 0, pid, 3, 3, 2), idem(t.id, 0, pid, 1, 2, 2)]).await;
    let dup = AppendOutcome::Duplicate { base_offset: 1, log_start: 0 };
    assert_eq!(out, vec![dup, dup]);
    assert_eq!(end(store, t.id, 0).await, (3, 3));
    // The same new batch twice in one set: the second does not follow the first.
    let out = commit(store, "dup-3", vec![idem(t.id, 0, pid, 3, 3, 3), idem(t.id, 0, pid, 3, 3, 3)]).await;
    assert_eq!(out, vec![AppendOutcome::OutOfOrderSequence; 2]);
    let out = commit(store, "dup-4", vec![idem(t.id, 0, pid, 3, 3, 4)]).await;
    assert_eq!(out, vec![AppendOutcome::Appended { base_offset: 3, log_start: 0 }]);
}

pub async fn transactional_sets(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-sets-txn", 1)).await.expect("create");
    let pid = store.allocate_producer_id().await.expect("id");
    let stranger = store.allocate_producer_id().await.expect("id");
    let p0 = TxnPartition { topic: t.name.clone(), topic_id: t.id, partition: 0 };
    let meta = TransactionMeta {
        transactional_id: "sets-tx".into(),
        producer_id: pid,
        producer_epoch: 0,
        last_producer_epoch: -1,
        state: TxnState::Ongoing,
        timeout_ms: 60_000,
        start_ms: 10,
        updated_ms: 10,
        partitions: vec![p0],
        groups: Vec::new(),
        pending_offsets: Vec::new(),
    };
    let write = TxnWrite { meta, publish_offsets: Vec::new() };
    store.update_transaction("sets-tx", Box::new(move |_| Ok(write))).await.expect("update").expect("stored");
    let tx = |pid, first, set| {
        let mut b = idem(t.id, 0, pid, first, first, set);
        b.kind = BatchKind::Transactional;
        b
    };
    // The producer's batch is in its transaction, the stranger's is not: the set opens no transaction.
    let out = commit(store, "txs-1", vec![tx(pid, 0, 1), tx(stranger, 0, 1)]).await;
    assert_eq!(out, vec![AppendOutcome::InvalidTxnState; 2]);
    assert_eq!(end(store, t.id, 0).await, (0, 0));
    assert!(store.producers(t.id, 0).await.expect("producers").is_empty(), "no producer state, no open range");
    let out = commit(store, "txs-2", vec![tx(pid, 0, 2), tx(pid, 1, 2)]).await;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::Appended { base_offset: 1, log_start: 0 }
        ]
    );
    assert_eq!(end(store, t.id, 0).await, (2, 0), "the open transaction holds the last stable offset at 0");
}

pub async fn sets_must_be_of_one_partition(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-sets-mixed", 2)).await.expect("create");
    let mut a = batch(t.id, 0, 0, 1, 1);
    let mut b = batch(t.id, 1, 0, 1, 1);
    (a.record_set, b.record_set) = (7, 7);
    let commit = SegmentCommit { object_key: "mixed".into(), object_size: 10, created_ms: 9, batches: vec![a, b] };
    assert!(matches!(store.commit_segment(commit).await, Err(MetaError::Corrupt(_))), "a caller's bug is refused");
    assert_eq!(end(store, t.id, 0).await, (0, 0));
}
