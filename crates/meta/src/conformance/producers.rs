//! Conformance of [`crate::Producers`]: fresh producer ids, idempotent sequence checks in the commit, expiry.

use super::{batch, new_topic};
use crate::{AppendOutcome, Metastore, SegmentCommit};

pub async fn idempotent_producers(store: &dyn Metastore) {
    let a = store.allocate_producer_id().await.expect("id");
    let b = store.allocate_producer_id().await.expect("id");
    assert!(b > a && a >= 0, "producer ids are fresh: {a} then {b}");
    let t = store.create_topic(new_topic("conf-idem", 1)).await.expect("create");
    let pb = |first, last| {
        let mut x = batch(t.id, 0, 16, i64::from(last - first + 1), 1);
        x.producer =
            Some(crate::ProducerBatch { producer_id: a, epoch: 0, first_sequence: first, last_sequence: last });
        x
    };
    let commit =
        |key: &str, batches| SegmentCommit { object_key: key.into(), object_size: 100, created_ms: 5, batches };
    let out = store.commit_segment(commit("seg-p1", vec![pb(0, 2), pb(3, 3)])).await.expect("commit").outcomes;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::Appended { base_offset: 3, log_start: 0 }
        ]
    );
    // A retry of both (as after a lost response), a gap, and the next batch, in one commit.
    let out = store
        .commit_segment(commit("seg-p2", vec![pb(0, 2), pb(3, 3), pb(9, 9), pb(4, 5)]))
        .await
        .expect("commit")
        .outcomes;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Duplicate { base_offset: 0, log_start: 0 },
            AppendOutcome::Duplicate { base_offset: 3, log_start: 0 },
            AppendOutcome::OutOfOrderSequence,
            AppendOutcome::Appended { base_offset: 4, log_start: 0 },
        ]
    );
    assert_eq!(store.partition_offsets(t.id, 0).await.expect("offsets").map(|o| o.next_offset), Some(6));
    // Expired state is forgotten: the producer then counts as new to the partition.
    assert_eq!(store.expire_producers(4).await.expect("expire"), 0, "state updated at 5 is kept");
    assert_eq!(store.expire_producers(6).await.expect("expire"), 1);
    let out = store.commit_segment(commit("seg-p3", vec![pb(6, 6)])).await.expect("commit").outcomes;
    assert_eq!(out, vec![AppendOutcome::UnknownProducerId]);
}

/// Several producers on several partitions in one commit: each (producer, partition) is checked against its
/// own state only, whatever else the store holds for the same producers and partitions.
pub async fn producers_across_partitions(store: &dyn Metastore) {
    let a = store.allocate_producer_id().await.expect("id");
    let b = store.allocate_producer_id().await.expect("id");
    let t = store.create_topic(new_topic("conf-idem-many", 2)).await.expect("create");
    let pb = |producer_id, partition, seq| {
        let mut x = batch(t.id, partition, 16, 1, 1);
        x.producer = Some(crate::ProducerBatch { producer_id, epoch: 0, first_sequence: seq, last_sequence: seq });
        x
    };
    let commit =
        |key: &str, batches| SegmentCommit { object_key: key.into(), object_size: 100, created_ms: 5, batches };
    let appended = |base_offset| AppendOutcome::Appended { base_offset, log_start: 0 };
    let out = store.commit_segment(commit("seg-m1", vec![pb(a, 0, 0), pb(b, 1, 0)])).await.expect("commit").outcomes;
    assert_eq!(out, vec![appended(0), appended(0)]);
    // `a` is new to partition 1 and `b` to partition 0 (their states elsewhere do not count); `b` retries.
    let batches = vec![pb(a, 1, 0), pb(b, 0, 0), pb(a, 0, 1), pb(b, 1, 0), pb(b, 1, 1), pb(a, 0, 3)];
    let out = store.commit_segment(commit("seg-m2", batches)).await.expect("commit").outcomes;
    assert_eq!(
        out,
        vec![
            appended(1),
            appended(1),
            appended(2),
            AppendOutcome::Duplicate { base_offset: 0, log_start: 0 },
            appended(2),
            AppendOutcome::OutOfOrderSequence,
        ]
    );
    // Every state written by the group commit is read back by the next one.
    let batches = vec![pb(a, 0, 2), pb(a, 1, 1), pb(b, 0, 1), pb(b, 1, 2)];
    let out = store.commit_segment(commit("seg-m3", batches)).await.expect("commit").outcomes;
    assert_eq!(out, vec![appended(3), appended(3), appended(4), appended(4)]);
}
