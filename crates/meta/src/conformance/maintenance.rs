//! Conformance: configs, log start moves, index rewrites, dead objects and leases.

use super::{batch, new_topic};
use crate::{BatchRewrite, BatchRow, MetaError, Metastore, NewObject, PartitionOffsets, SegmentCommit};
use std::collections::BTreeMap;

pub(super) async fn run(store: &dyn Metastore) {
    configs(store).await;
    log_start_and_dead_objects(store).await;
    rewrites(store).await;
    leases(store).await;
}

fn commit(key: &str, batches: Vec<crate::BatchAppend>) -> SegmentCommit {
    SegmentCommit { object_key: key.into(), object_size: 1000, created_ms: 1, batches }
}

/// Dead objects of one check (the suite shares a store), sorted.
async fn dead_with(store: &dyn Metastore, prefix: &str, before: i64) -> Vec<String> {
    let mut dead = store.dead_objects(before, 1000).await.expect("dead objects");
    dead.retain(|k| k.starts_with(prefix));
    dead.sort();
    dead
}

async fn configs(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-configs", 1)).await.expect("create");
    let mut want = BTreeMap::new();
    want.insert("cleanup.policy".to_string(), "compact".to_string());
    let changed = store.set_topic_configs("conf-configs", want.clone()).await.expect("set");
    assert_eq!(changed.configs, want, "configs are replaced, not merged");
    assert_eq!(store.topic("conf-configs").await.expect("get").map(|x| x.configs), Some(want));
    assert_eq!(changed.id, t.id);
    assert!(matches!(store.set_topic_configs("conf-nope", BTreeMap::new()).await, Err(MetaError::UnknownTopic { .. })));
    assert!(store.cluster_configs().await.expect("cluster").is_empty());
    let mut cluster = BTreeMap::new();
    cluster.insert("log.retention.ms".to_string(), "1000".to_string());
    cluster.insert("message.max.bytes".to_string(), "2000".to_string());
    store.set_cluster_configs(cluster.clone()).await.expect("set cluster");
    assert_eq!(store.cluster_configs().await.expect("cluster"), cluster);
    cluster.remove("message.max.bytes");
    store.set_cluster_configs(cluster.clone()).await.expect("set cluster");
    assert_eq!(store.cluster_configs().await.expect("cluster"), cluster);
}

async fn log_start_and_dead_objects(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-logstart", 2)).await.expect("create");
    // seg-a holds p0 0..10 and p1 0..5; seg-b holds p0 10..20; seg-c holds p0 20..30.
    store.commit_segment(commit("ls-a", vec![batch(t.id, 0, 0, 10, 1), batch(t.id, 1, 100, 5, 1)])).await.expect("a");
    store.commit_segment(commit("ls-b", vec![batch(t.id, 0, 0, 10, 2)])).await.expect("b");
    store.commit_segment(commit("ls-c", vec![batch(t.id, 0, 0, 10, 3)])).await.expect("c");
    // Size retention: keep the newest batches totalling at least the limit (each batch is 100 bytes).
    assert_eq!(store.retention_offset_by_size(t.id, 0, 150).await.expect("size"), Some(10));
    assert_eq!(store.retention_offset_by_size(t.id, 0, 100).await.expect("size"), Some(20));
    assert_eq!(store.retention_offset_by_size(t.id, 0, 301).await.expect("size"), None, "all fits");

    let bounds = store.advance_log_start(t.id, 0, 15, 100).await.expect("advance").expect("exists");
    assert_eq!(bounds, PartitionOffsets { log_start: 15, next_offset: 30, last_stable: 30 });
    let rows = store.read_index(t.id, 0, 15, u64::MAX, 100).await.expect("read");
    assert_eq!(rows.iter().map(|b| b.base_offset).collect::<Vec<_>>(), vec![10, 20], "the straddling batch stays");
    assert!(dead_with(store, "ls-", i64::MAX).await.is_empty(), "ls-a still holds p1");
    let back = store.advance_log_start(t.id, 0, 3, 100).await.expect("advance").expect("exists");
    assert_eq!(back.log_start, 15, "the log start never moves back");
    let end = store.advance_log_start(t.id, 0, 99, 200).await.expect("advance").expect("exists");
    assert_eq!(end.log_start, 30, "the log start stops at the end");
    assert!(store.read_index(t.id, 0, 30, u64::MAX, 100).await.expect("read").is_empty());
    assert_eq!(dead_with(store, "ls-", i64::MAX).await, vec!["ls-b".to_string(), "ls-c".to_string()]);
    assert!(dead_with(store, "ls-", 150).await.is_empty(), "dead at 200, not before 150");
    assert!(store.advance_log_start(uuid::Uuid::new_v4(), 0, 1, 1).await.expect("unknown").is_none());

    store.delete_topic("conf-logstart", 300).await.expect("delete");
    assert!(dead_with(store, "ls-", i64::MAX).await.contains(&"ls-a".to_string()));
    let keys = vec!["ls-a".to_string(), "ls-b".to_string(), "never-committed".to_string()];
    assert_eq!(store.unknown_objects(&keys).await.expect("unknown"), vec!["never-committed".to_string()]);
    store.forget_objects(&keys[..2]).await.expect("forget");
    assert_eq!(store.unknown_objects(&keys).await.expect("unknown").len(), 3);
    assert!(!dead_with(store, "ls-", i64::MAX).await.contains(&"ls-a".to_string()));
}

async fn rewrites(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-rewrite", 1)).await.expect("create");
    store.commit_segment(commit("rw-a", vec![batch(t.id, 0, 0, 10, 1)])).await.expect("a");
    store.commit_segment(commit("rw-b", vec![batch(t.id, 0, 0, 10, 2)])).await.expect("b");
    let row = |base, last, start| BatchRow {
        base_offset: base,
        last_offset: last,
        record_count: 3,
        max_timestamp: 2,
        byte_start: start,
        byte_len: 50,
    };
    let merge = BatchRewrite {
        topic_id: t.id,
        partition: 0,
        object: Some(NewObject { key: "rw-merged".into(), size: 100, created_ms: 5 }),
        replaced: vec![(0, "rw-a".into()), (10, "rw-b".into())],
        added: vec![row(2, 9, 0), row(10, 19, 50)],
        removed_markers: vec![],
        clean_offset: Some(20),
        now_ms: 7,
    };
    assert!(store.replace_batches(merge.clone()).await.expect("rewrite"), "rows are intact");
    let rows = store.read_index(t.id, 0, 0, u64::MAX, 100).await.expect("read");
    assert_eq!(
        rows.iter().map(|b| (b.base_offset, b.object_key.as_str())).collect::<Vec<_>>(),
        vec![(2, "rw-merged"), (10, "rw-merged")]
    );
    let storage = store.partition_storage(t.id).await.expect("storage");
    assert_eq!(storage.len(), 1);
    assert_eq!((storage[0].1.bytes, storage[0].1.batches, storage[0].1.objects), (100, 2, 1));
    assert_eq!((storage[0].1.clean_offset, storage[0].1.dirty_bytes), (20, 0));
    assert_eq!(dead_with(store, "rw-", i64::MAX).await, vec!["rw-a".to_string(), "rw-b".to_string()]);
    // A second rewrite of rows that are gone applies nothing; its object is dead at once.
    let stale = BatchRewrite { object: Some(NewObject { key: "rw-stale".into(), size: 1, created_ms: 8 }), ..merge };
    assert!(!store.replace_batches(stale).await.expect("rewrite"), "rows changed since read");
    assert!(dead_with(store, "rw-", i64::MAX).await.contains(&"rw-stale".to_string()));
    assert_eq!(store.read_index(t.id, 0, 0, u64::MAX, 100).await.expect("read").len(), 2);
    assert_eq!(store.partition_offsets(t.id, 0).await.expect("offsets").map(|o| o.next_offset), Some(20));
}

async fn leases(store: &dyn Metastore) {
    assert!(store.acquire_lease("gc", "agent-a", 1000, 500).await.expect("lease"), "free lease");
    assert!(!store.acquire_lease("gc", "agent-b", 1200, 500).await.expect("lease"), "held by a");
    assert!(store.acquire_lease("gc", "agent-a", 1400, 500).await.expect("lease"), "a renews");
    assert!(!store.acquire_lease("gc", "agent-b", 1800, 500).await.expect("lease"), "renewed until 1900");
    assert!(store.acquire_lease("gc", "agent-b", 1901, 500).await.expect("lease"), "expired: b takes it");
    assert!(store.acquire_lease("other", "agent-a", 1901, 500).await.expect("lease"), "leases are by name");
}
