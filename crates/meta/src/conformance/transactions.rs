//! Conformance of [`crate::Transactions`]: atomic updates of coordinator state, KIP-890 partition checks in the commit, the last
//! stable offset, aborted ranges, offsets published by a committing transaction, and markers accepted only
//! while their transaction is being ended.

use super::{batch, new_topic};
use crate::{
    AbortedTxn, AppendOutcome, BatchKind, CommittedOffset, Metastore, PendingOffset, ProducerBatch, Refused,
    SegmentCommit, TransactionMeta, TxnPartition, TxnState, TxnWrite,
};
use uuid::Uuid;

fn meta(id: &str, producer_id: i64, epoch: i16, state: TxnState, partitions: Vec<TxnPartition>) -> TransactionMeta {
    TransactionMeta {
        transactional_id: id.into(),
        producer_id,
        producer_epoch: epoch,
        last_producer_epoch: -1,
        state,
        timeout_ms: 60_000,
        start_ms: 10,
        updated_ms: 10,
        partitions,
        groups: Vec::new(),
        pending_offsets: Vec::new(),
    }
}

fn write(m: TransactionMeta) -> TxnWrite {
    TxnWrite { meta: m, publish_offsets: Vec::new() }
}

async fn append(
    store: &dyn Metastore,
    key: &str,
    topic: Uuid,
    pid: i64,
    epoch: i16,
    seq: i32,
    kind: BatchKind,
) -> AppendOutcome {
    let mut b = batch(topic, 0, 0, 1, 1);
    b.kind = kind;
    let seq = if matches!(kind, BatchKind::Marker { .. }) { -1 } else { seq };
    b.producer = Some(ProducerBatch { producer_id: pid, epoch, first_sequence: seq, last_sequence: seq });
    let commit = SegmentCommit { object_key: key.into(), object_size: 100, created_ms: 20, batches: vec![b] };
    let out = store.commit_segment(commit).await.expect("commit").outcomes;
    out[0]
}

pub async fn transactions(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-txn", 2)).await.expect("create");
    let pid = store.allocate_producer_id().await.expect("id");
    let p0 = TxnPartition { topic: t.name.clone(), topic_id: t.id, partition: 0 };

    // A refusal stores nothing; an update is read back whole.
    let refused = store.update_transaction("tx-a", Box::new(|_| Err(Refused(47)))).await.expect("update");
    assert_eq!(refused, Err(Refused(47)));
    assert_eq!(store.transaction("tx-a").await.expect("read"), None);
    let ongoing = meta("tx-a", pid, 0, TxnState::Ongoing, vec![p0.clone()]);
    let m = ongoing.clone();
    let stored = store.update_transaction(
        "tx-a",
        Box::new(move |cur| {
            assert_eq!(cur, None);
            Ok(write(m))
        }),
    );
    assert_eq!(stored.await.expect("update"), Ok(ongoing.clone()));
    assert_eq!(store.transaction("tx-a").await.expect("read"), Some(ongoing.clone()));

    // KIP-890: data only for partitions in the ongoing transaction, at its epoch.
    let tx = BatchKind::Transactional;
    assert_eq!(
        append(store, "tx-s1", t.id, pid, 0, 0, tx).await,
        AppendOutcome::Appended { base_offset: 0, log_start: 0 }
    );
    let mut other = batch(t.id, 1, 0, 1, 1);
    other.kind = tx;
    other.producer = Some(ProducerBatch { producer_id: pid, epoch: 0, first_sequence: 0, last_sequence: 0 });
    let commit = SegmentCommit { object_key: "tx-s2".into(), object_size: 100, created_ms: 20, batches: vec![other] };
    assert_eq!(store.commit_segment(commit).await.expect("commit").outcomes, vec![AppendOutcome::InvalidTxnState]);
    let stranger = store.allocate_producer_id().await.expect("id");
    assert_eq!(append(store, "tx-s3", t.id, stranger, 0, 0, tx).await, AppendOutcome::InvalidTxnState);

    // Plain data after the open transaction moves the end but not the last stable offset.
    let plain = append(store, "tx-s4", t.id, stranger, 0, 0, BatchKind::Plain).await;
    assert_eq!(plain, AppendOutcome::Appended { base_offset: 1, log_start: 0 });
    let bounds = store.partition_offsets(t.id, 0).await.expect("offsets").expect("exists");
    assert_eq!((bounds.next_offset, bounds.last_stable), (2, 0));
    let producers = store.producers(t.id, 0).await.expect("producers");
    assert_eq!(producers.iter().find(|p| p.producer_id == pid).map(|p| p.txn_start_offset), Some(0));

    // An abort marker (of the transaction being aborted) closes the range, records it, and releases the last
    // stable offset.
    let abort = BatchKind::Marker { commit: false };
    let m = meta("tx-a", pid, 0, TxnState::PrepareAbort, vec![p0.clone()]);
    store.update_transaction("tx-a", Box::new(move |_| Ok(write(m)))).await.expect("update").expect("stored");
    assert_eq!(
        append(store, "tx-s5", t.id, pid, 0, 0, abort).await,
        AppendOutcome::Appended { base_offset: 2, log_start: 0 }
    );
    let bounds = store.partition_offsets(t.id, 0).await.expect("offsets").expect("exists");
    assert_eq!((bounds.next_offset, bounds.last_stable), (3, 3));
    let aborted = store.aborted_transactions(t.id, 0, 0, 3).await.expect("aborted");
    assert_eq!(aborted, vec![AbortedTxn { producer_id: pid, first_offset: 0, last_offset: 2 }]);
    assert!(store.aborted_transactions(t.id, 0, 3, 10).await.expect("aborted").is_empty(), "range ends at the marker");

    // A transaction that commits publishes its staged offsets in the same update.
    let staged = PendingOffset {
        group: "g-txn".into(),
        offset: CommittedOffset {
            topic: t.name.clone(),
            partition: 1,
            offset: 17,
            leader_epoch: -1,
            metadata: None,
            commit_ms: 30,
        },
    };
    let mut with_offsets = ongoing.clone();
    with_offsets.groups = vec!["g-txn".into()];
    with_offsets.pending_offsets = vec![staged.clone()];
    let m = with_offsets.clone();
    store.update_transaction("tx-a", Box::new(move |_| Ok(write(m)))).await.expect("update").expect("stored");
    assert_eq!(store.pending_txn_offsets("g-txn").await.expect("pending"), vec![(t.name.clone(), 1)]);
    assert!(store.committed_offsets("g-txn", None).await.expect("offsets").is_empty(), "not visible before commit");
    let mut done = meta("tx-a", pid, 0, TxnState::CompleteCommit, Vec::new());
    done.start_ms = -1;
    let d = done.clone();
    let update = Box::new(move |cur: Option<TransactionMeta>| {
        let cur = cur.expect("exists");
        Ok(TxnWrite { meta: d, publish_offsets: cur.pending_offsets })
    });
    assert_eq!(store.update_transaction("tx-a", update).await.expect("update"), Ok(done.clone()));
    assert!(store.pending_txn_offsets("g-txn").await.expect("pending").is_empty());
    let published = store.committed_offsets("g-txn", None).await.expect("offsets");
    assert_eq!(published.iter().map(|o| (o.partition, o.offset)).collect::<Vec<_>>(), vec![(1, 17)]);

    // Listing filters by state; only finished transactions expire.
    let other_pid = store.allocate_producer_id().await.expect("id");
    let m = meta("tx-b", other_pid, 3, TxnState::Ongoing, Vec::new());
    store.update_transaction("tx-b", Box::new(move |_| Ok(write(m)))).await.expect("update").expect("stored");
    let ongoing_ids: Vec<String> = store
        .list_transactions(Some(&[TxnState::Ongoing]))
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.transactional_id)
        .collect();
    assert_eq!(ongoing_ids, vec!["tx-b".to_string()]);
    let repeated = store.list_transactions(Some(&[TxnState::Empty, TxnState::Empty, TxnState::CompleteCommit])).await;
    assert_eq!(repeated.expect("list").iter().map(|t| t.transactional_id.as_str()).collect::<Vec<_>>(), vec!["tx-a"]);
    assert!(store.list_transactions(Some(&[])).await.expect("list").is_empty());
    assert_eq!(store.list_transactions(None).await.expect("list").len(), 2);
    assert_eq!(store.expire_transactions(11).await.expect("expire"), 1, "tx-a is complete, tx-b is open");
    assert_eq!(store.transaction("tx-a").await.expect("read"), None);
    assert!(store.transaction("tx-b").await.expect("read").is_some());
}

/// Stores `m` as the transaction's state (what the coordinator's rules would write).
async fn set(store: &dyn Metastore, m: TransactionMeta) {
    let id = m.transactional_id.clone();
    store.update_transaction(&id, Box::new(move |_| Ok(write(m)))).await.expect("update").expect("stored");
}

/// A coordinator that lost a transaction writes its markers late: after the new owner completed it and the
/// producer began its next transaction at the same epoch in the same partition. The late markers must not
/// close (or abort) the new transaction's data.
pub async fn late_markers_are_fenced(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-txn-late", 1)).await.expect("create");
    let pid = store.allocate_producer_id().await.expect("id");
    let p0 = TxnPartition { topic: t.name.clone(), topic_id: t.id, partition: 0 };
    let (commit, abort) = (BatchKind::Marker { commit: true }, BatchKind::Marker { commit: false });
    let appended = |base_offset| AppendOutcome::Appended { base_offset, log_start: 0 };
    let offsets = || async {
        let b = store.partition_offsets(t.id, 0).await.expect("offsets").expect("exists");
        (b.next_offset, b.last_stable)
    };

    // The first transaction: data, then the decision to commit; its owner writes the marker and completes.
    set(store, meta("tx-late", pid, 0, TxnState::Ongoing, vec![p0.clone()])).await;
    assert_eq!(append(store, "late-1", t.id, pid, 0, 0, BatchKind::Transactional).await, appended(0));
    set(store, meta("tx-late", pid, 0, TxnState::PrepareCommit, vec![p0.clone()])).await;
    assert_eq!(append(store, "late-2", t.id, pid, 0, 0, commit).await, appended(1));
    let mut done = meta("tx-late", pid, 0, TxnState::CompleteCommit, Vec::new());
    done.start_ms = -1;
    set(store, done).await;
    assert_eq!(append(store, "late-3", t.id, pid, 0, 0, commit).await, AppendOutcome::MarkerFenced, "completed");

    // The producer's next transaction at the same epoch, in the same partition.
    let mut next = meta("tx-late", pid, 0, TxnState::Ongoing, vec![p0.clone()]);
    next.start_ms = 30;
    set(store, next.clone()).await;
    assert_eq!(append(store, "late-4", t.id, pid, 0, 1, BatchKind::Transactional).await, appended(2));
    assert_eq!(offsets().await, (3, 2));

    // Late markers of the first transaction, either decision: refused, nothing stored, the range stays open.
    assert_eq!(append(store, "late-5", t.id, pid, 0, 0, commit).await, AppendOutcome::MarkerFenced);
    assert_eq!(append(store, "late-6", t.id, pid, 0, 0, abort).await, AppendOutcome::MarkerFenced);
    assert_eq!(offsets().await, (3, 2), "the last stable offset stays at the open transaction");
    assert!(store.aborted_transactions(t.id, 0, 0, 10).await.expect("aborted").is_empty());
    let producers = store.producers(t.id, 0).await.expect("producers");
    assert_eq!(producers.iter().find(|p| p.producer_id == pid).map(|p| p.txn_start_offset), Some(2));

    // Once the next transaction is being aborted: a commit marker or one of another epoch is still refused;
    // its abort marker is taken and records its range.
    next.state = TxnState::PrepareAbort;
    set(store, next).await;
    assert_eq!(append(store, "late-7", t.id, pid, 0, 0, commit).await, AppendOutcome::MarkerFenced);
    assert_eq!(append(store, "late-8", t.id, pid, 1, 0, abort).await, AppendOutcome::MarkerFenced);
    assert_eq!(offsets().await, (3, 2));
    assert_eq!(append(store, "late-9", t.id, pid, 0, 0, abort).await, appended(3));
    assert_eq!(offsets().await, (4, 4));
    let aborted = store.aborted_transactions(t.id, 0, 0, 10).await.expect("aborted");
    assert_eq!(aborted, vec![AbortedTxn { producer_id: pid, first_offset: 2, last_offset: 3 }]);
}
