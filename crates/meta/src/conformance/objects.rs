//! Conformance of [`crate::Objects`] (with the log start moves and size retention that make objects dead):
//! objects die with their last index row and are forgotten after deletion.

use super::{batch, new_topic};
use crate::{Metastore, PartitionOffsets, SegmentCommit};

pub(super) fn commit(key: &str, batches: Vec<crate::BatchAppend>) -> SegmentCommit {
    SegmentCommit { object_key: key.into(), object_size: 1000, created_ms: 1, batches }
}

/// Dead objects of one check (the suite shares a store), sorted.
pub(super) async fn dead_with(store: &dyn Metastore, prefix: &str, before: i64) -> Vec<String> {
    let mut dead = store.dead_objects(before, 1000).await.expect("dead objects");
    dead.retain(|k| k.starts_with(prefix));
    dead.sort();
    dead
}

pub async fn log_start_and_dead_objects(store: &dyn Metastore) {
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

/// The collector fences an orphan before deleting it: a commit of that key afterwards fails, and a key that
/// was committed is never fenced.
pub async fn orphans_are_fenced_against_late_commits(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-fence", 1)).await.expect("create");
    store.commit_segment(commit("fence-committed", vec![batch(t.id, 0, 0, 5, 1)])).await.expect("commit");
    let keys = vec!["fence-committed".to_string(), "fence-late".to_string()];
    assert_eq!(store.fence_orphans(&keys, 50).await.expect("fence"), vec!["fence-late".to_string()]);
    assert!(store.fence_orphans(&keys, 60).await.expect("fence again").is_empty(), "fencing is idempotent");
    let late = store.commit_segment(commit("fence-late", vec![batch(t.id, 0, 0, 5, 2)])).await;
    assert!(matches!(late, Err(crate::MetaError::ObjectFenced { .. })), "a late commit is refused: {late:?}");
    let end = store.partition_offsets(t.id, 0).await.expect("offsets").expect("exists");
    assert_eq!(end.next_offset, 5, "the refused commit assigned no offsets");
    assert_eq!(dead_with(store, "fence-", i64::MAX).await, vec!["fence-late".to_string()]);
    assert!(dead_with(store, "fence-", 50).await.is_empty(), "dead from the fencing time");
    store.forget_objects(&keys[1..]).await.expect("forget");
    assert!(store.unknown_objects(&keys).await.expect("unknown") == vec!["fence-late".to_string()]);
}

/// A segment none of whose batches is stored (every one refused) is dead from its commit, alone or in a group;
/// a segment holding any stored batch is not, even beside refused ones.
pub async fn segments_with_nothing_stored_are_dead_at_commit(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-unused", 1)).await.expect("create");
    let group = vec![
        commit("unused-refused", vec![batch(t.id, 7, 0, 5, 1)]),
        commit("unused-mixed", vec![batch(t.id, 7, 0, 5, 1), batch(t.id, 0, 100, 5, 1)]),
        commit("unused-stored", vec![batch(t.id, 0, 0, 5, 1)]),
    ];
    let done = store.commit_segments(group).await.expect("group commit");
    let outcomes: Vec<_> = done.segments.into_iter().map(|s| s.expect("not fenced")).collect();
    assert_eq!(outcomes[0], vec![crate::AppendOutcome::UnknownPartition]);
    assert_eq!(outcomes[1][0], crate::AppendOutcome::UnknownPartition);
    store.commit_segment(commit("unused-alone", vec![batch(t.id, 3, 0, 5, 1)])).await.expect("refused commit");
    assert_eq!(
        dead_with(store, "unused-", i64::MAX).await,
        vec!["unused-alone".to_string(), "unused-refused".to_string()]
    );
    assert!(dead_with(store, "unused-", 0).await.is_empty(), "dead from the commit's time (1), not before");
    assert_eq!(store.partition_offsets(t.id, 0).await.expect("offsets").expect("exists").next_offset, 10);
}

/// The collector's bulk calls over more keys than one statement takes (and a duplicate): unknown keys come
/// back in their order, each orphan is fenced once, and forgetting drops dead objects but never a live one.
pub async fn many_keys_are_checked_fenced_and_forgotten_in_bulk(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-bulk", 1)).await.expect("create");
    store.commit_segment(commit("bulk-live", vec![batch(t.id, 0, 0, 5, 1)])).await.expect("commit");
    let orphans: Vec<String> = (0..450).map(|i| format!("bulk-orphan-{i:03}")).collect();
    let mut keys = orphans.clone();
    keys.insert(200, "bulk-live".to_string());
    keys.push(orphans[7].clone());
    let mut unknown = orphans.clone();
    unknown.push(orphans[7].clone());
    assert_eq!(store.unknown_objects(&keys).await.expect("unknown"), unknown, "in order, duplicates too");
    assert_eq!(store.fence_orphans(&keys, 70).await.expect("fence"), orphans, "each orphan once, in order");
    assert!(store.unknown_objects(&keys).await.expect("unknown").is_empty());
    assert_eq!(dead_with(store, "bulk-", i64::MAX).await, orphans, "fenced orphans are dead; the live object is not");
    store.forget_objects(&keys).await.expect("forget");
    assert_eq!(store.unknown_objects(&keys).await.expect("unknown"), unknown, "a live object is never forgotten");
    assert!(dead_with(store, "bulk-", i64::MAX).await.is_empty());
}
