//! The behaviour every [`Metastore`] backend must show. Each backend's test calls [`run_all`] on a fresh,
//! empty store; the suite uses only the trait, so it pins semantics, not SQL.

use crate::{
    AppendOutcome, BatchAppend, CommittedOffset, MetaError, Metastore, NewTopic, PartitionOffsets, SegmentCommit,
};
use std::collections::BTreeMap;

mod maintenance;
mod record_sets;
mod txn;
use uuid::Uuid;

pub(crate) fn new_topic(name: &str, partitions: i32) -> NewTopic {
    let mut configs = BTreeMap::new();
    configs.insert("retention.ms".to_string(), "1000".to_string());
    NewTopic { name: name.into(), id: Uuid::new_v4(), partitions, configs, created_ms: 42 }
}

static NEXT_SET: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub(crate) fn batch(topic_id: Uuid, partition: i32, byte_start: u64, span: i64, max_ts: i64) -> BatchAppend {
    BatchAppend {
        topic_id,
        partition,
        byte_start,
        byte_len: 100,
        offset_span: span,
        record_count: span as i32,
        max_timestamp: max_ts,
        producer: None,
        kind: crate::BatchKind::Plain,
        // Each batch is its own record set unless a case groups them.
        record_set: NEXT_SET.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    }
}

/// Runs every check; panics with a description on the first violation.
pub async fn run_all(store: &dyn Metastore) {
    topics_lifecycle(store).await;
    offsets_are_dense_across_commits(store).await;
    index_reads_and_time_lookups(store).await;
    deleted_partitions_refuse_appends(store).await;
    group_offsets(store).await;
    idempotent_producers(store).await;
    txn::transactions(store).await;
    record_sets::run(store).await;
    maintenance::run(store).await;
}

async fn idempotent_producers(store: &dyn Metastore) {
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

async fn group_offsets(store: &dyn Metastore) {
    let c = |topic: &str, partition, offset, metadata: Option<&str>| CommittedOffset {
        topic: topic.into(),
        partition,
        offset,
        leader_epoch: 3,
        metadata: metadata.map(String::from),
        commit_ms: 77,
    };
    store
        .commit_offsets("g1", &[c("a", 0, 10, Some("m")), c("a", 1, 20, None), c("b", 0, 5, Some(""))])
        .await
        .expect("commit");
    store.commit_offsets("g1", &[c("a", 0, 11, Some("m2"))]).await.expect("recommit");
    store.commit_offsets("g2", &[c("a", 0, 1, None)]).await.expect("commit g2");
    let all = store.committed_offsets("g1", None).await.expect("fetch");
    assert_eq!(all, vec![c("a", 0, 11, Some("m2")), c("a", 1, 20, None), c("b", 0, 5, Some(""))]);
    let only_b = store.committed_offsets("g1", Some(&["b".to_string()])).await.expect("fetch b");
    assert_eq!(only_b, vec![c("b", 0, 5, Some(""))]);
    assert_eq!(store.groups_with_offsets().await.expect("groups"), vec!["g1".to_string(), "g2".to_string()]);
    assert_eq!(store.delete_offsets("g1", Some(&[("a".to_string(), 1)])).await.expect("delete one"), 1);
    assert_eq!(store.committed_offsets("g1", None).await.expect("fetch").len(), 2);
    assert_eq!(store.delete_offsets("g1", None).await.expect("delete all"), 2);
    assert!(store.committed_offsets("g1", None).await.expect("fetch").is_empty());
    assert_eq!(store.groups_with_offsets().await.expect("groups"), vec!["g2".to_string()]);
    // Retention: old offsets of inactive groups go; active groups and recent commits stay.
    let at = |topic: &str, commit_ms| CommittedOffset { commit_ms, ..c(topic, 0, 1, None) };
    store.commit_offsets("old", &[at("a", 10), at("b", 500)]).await.expect("commit");
    store.commit_offsets("busy", &[at("a", 10)]).await.expect("commit");
    assert_eq!(store.expire_offsets(100, &["busy".to_string()]).await.expect("expire"), 2, "g2 (77) and old/a (10)");
    assert_eq!(store.committed_offsets("old", None).await.expect("fetch"), vec![at("b", 500)]);
    assert_eq!(store.committed_offsets("busy", None).await.expect("fetch").len(), 1);
}

async fn topics_lifecycle(store: &dyn Metastore) {
    let id = store.cluster_id().await.expect("cluster id");
    assert_eq!(id, store.cluster_id().await.expect("cluster id"), "cluster id is stable");
    let t = store.create_topic(new_topic("conf-a", 3)).await.expect("create");
    assert!(matches!(store.create_topic(new_topic("conf-a", 1)).await, Err(MetaError::TopicExists { .. })));
    let got = store.topic("conf-a").await.expect("get").expect("exists");
    assert_eq!(got, t);
    assert_eq!(store.topic_by_id(t.id).await.expect("by id"), Some(t.clone()));
    assert_eq!(got.configs.get("retention.ms").map(String::as_str), Some("1000"));
    assert!(store.list_topics().await.expect("list").iter().any(|x| x.name == "conf-a"));
    let grown = store.add_partitions("conf-a", 5).await.expect("grow");
    assert_eq!(grown.partitions, 5);
    assert_eq!(
        store.partition_offsets(t.id, 4).await.expect("offsets"),
        Some(PartitionOffsets { log_start: 0, next_offset: 0, last_stable: 0 })
    );
    assert!(matches!(store.add_partitions("conf-a", 2).await, Err(MetaError::BadPartitionCount { .. })));
    assert!(matches!(store.add_partitions("nope", 2).await, Err(MetaError::UnknownTopic { .. })));
    store.delete_topic("conf-a", 50).await.expect("delete");
    assert_eq!(store.topic("conf-a").await.expect("get"), None);
    assert_eq!(store.partition_offsets(t.id, 0).await.expect("offsets"), None);
    assert!(matches!(store.delete_topic("conf-a", 50).await, Err(MetaError::UnknownTopic { .. })));
    store.ping().await.expect("ping");
    store.write_probe(1).await.expect("a writable store passes the write probe");
}

async fn offsets_are_dense_across_commits(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-dense", 2)).await.expect("create");
    let first = SegmentCommit {
        object_key: "seg-1".into(),
        object_size: 1000,
        created_ms: 1,
        batches: vec![batch(t.id, 0, 16, 3, 10), batch(t.id, 1, 116, 1, 11), batch(t.id, 0, 216, 2, 12)],
    };
    let out = store.commit_segment(first).await.expect("commit 1").outcomes;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::Appended { base_offset: 3, log_start: 0 },
        ]
    );
    let second = SegmentCommit {
        object_key: "seg-2".into(),
        object_size: 500,
        created_ms: 2,
        batches: vec![batch(t.id, 0, 16, 4, 13)],
    };
    let out = store.commit_segment(second).await.expect("commit 2").outcomes;
    assert_eq!(out, vec![AppendOutcome::Appended { base_offset: 5, log_start: 0 }]);
    assert_eq!(
        store.partition_offsets(t.id, 0).await.expect("p0"),
        Some(PartitionOffsets { log_start: 0, next_offset: 9, last_stable: 9 })
    );
    assert_eq!(
        store.partition_offsets(t.id, 1).await.expect("p1"),
        Some(PartitionOffsets { log_start: 0, next_offset: 1, last_stable: 1 })
    );
    let all = store.all_partition_offsets().await.expect("all");
    assert!(all.contains(&(t.id, 0, PartitionOffsets { log_start: 0, next_offset: 9, last_stable: 9 })));
}

async fn index_reads_and_time_lookups(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-index", 1)).await.expect("create");
    let batches = vec![batch(t.id, 0, 16, 10, 500), batch(t.id, 0, 116, 10, 300), batch(t.id, 0, 216, 10, 900)];
    store
        .commit_segment(SegmentCommit { object_key: "seg-i".into(), object_size: 400, created_ms: 3, batches })
        .await
        .expect("commit");
    let sizes = store.partition_sizes().await.expect("sizes");
    assert!(sizes.contains(&(t.id, 0, 300)), "three batches of 100 bytes: {sizes:?}");
    let from_middle = store.read_index(t.id, 0, 15, u64::MAX, 100).await.expect("read");
    assert_eq!(from_middle.iter().map(|b| b.base_offset).collect::<Vec<_>>(), vec![10, 20]);
    assert_eq!(from_middle[0].last_offset, 19);
    assert_eq!(from_middle[0].byte_start, 116);
    assert_eq!(from_middle[0].object_key, "seg-i");
    let capped = store.read_index(t.id, 0, 0, 150, 100).await.expect("read");
    assert_eq!(capped.len(), 1, "byte cap stops after the first batch");
    let at_least_one = store.read_index(t.id, 0, 0, 1, 100).await.expect("read");
    assert_eq!(at_least_one.len(), 1, "one batch is returned even when it exceeds max bytes");
    assert!(store.read_index(t.id, 0, 30, u64::MAX, 100).await.expect("read").is_empty());
    let limited = store.read_index(t.id, 0, 0, u64::MAX, 2).await.expect("read");
    assert_eq!(limited.len(), 2);
    let by_time = store.first_batch_at_or_after_time(t.id, 0, 400).await.expect("time").expect("found");
    assert_eq!(by_time.base_offset, 0);
    let by_time = store.first_batch_at_or_after_time(t.id, 0, 600).await.expect("time").expect("found");
    assert_eq!(by_time.base_offset, 20);
    assert_eq!(store.first_batch_at_or_after_time(t.id, 0, 901).await.expect("time"), None);
    let max = store.max_timestamp_batch(t.id, 0).await.expect("max").expect("found");
    assert_eq!((max.base_offset, max.max_timestamp), (20, 900));
}

async fn deleted_partitions_refuse_appends(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-gone", 1)).await.expect("create");
    let commit = SegmentCommit {
        object_key: "seg-g".into(),
        object_size: 100,
        created_ms: 4,
        batches: vec![batch(t.id, 0, 16, 1, 1), batch(t.id, 7, 116, 1, 1), batch(Uuid::new_v4(), 0, 216, 1, 1)],
    };
    let out = store.commit_segment(commit).await.expect("commit").outcomes;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::UnknownPartition,
            AppendOutcome::UnknownPartition
        ]
    );
}
