//! Conformance of [`crate::LogMaintenance`]: index rewrites apply only to unchanged rows; storage figures.

use super::objects::{commit, dead_with};
use super::{batch, new_topic};
use crate::{BatchRewrite, BatchRow, Metastore, NewObject};

pub async fn rewrites(store: &dyn Metastore) {
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
        object_recorded: false,
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

/// The row of a one-record batch at `offset`, 100 bytes at `offset * 100` of the new object.
fn one_record_row(offset: i64) -> BatchRow {
    BatchRow {
        base_offset: offset,
        last_offset: offset,
        record_count: 1,
        max_timestamp: 1,
        byte_start: offset as u64 * 100,
        byte_len: 100,
    }
}

/// A rewrite of more rows than one statement lists (`sql::bulk::CHUNK`): a row changed in a later chunk still
/// stops it, and an applied one replaces every row and marks every old object dead.
pub async fn large_rewrites(store: &dyn Metastore) {
    const N: i64 = 450;
    let t = store.create_topic(new_topic("conf-rewrite-large", 1)).await.expect("create");
    for i in 0..N {
        store.commit_segment(commit(&format!("rwl-{i:03}"), vec![batch(t.id, 0, 0, 1, 1)])).await.expect("commit");
    }
    let replaced: Vec<(i64, String)> = (0..N).map(|i| (i, format!("rwl-{i:03}"))).collect();
    let added = (0..N).map(one_record_row).collect();
    let merge = BatchRewrite {
        topic_id: t.id,
        partition: 0,
        object: Some(NewObject { key: "rwl-merged".into(), size: N as u64 * 100, created_ms: 5 }),
        object_recorded: false,
        replaced,
        added,
        removed_markers: vec![],
        clean_offset: None,
        now_ms: 7,
    };
    let mut stale = merge.clone();
    stale.replaced[420].1 = "rwl-elsewhere".into();
    stale.object = Some(NewObject { key: "rwl-stale".into(), size: 1, created_ms: 5 });
    assert!(!store.replace_batches(stale).await.expect("rewrite"), "row 420 is not as read");
    let rows = store.read_index(t.id, 0, 0, u64::MAX, 1000).await.expect("read");
    assert_eq!(rows.len(), N as usize);
    assert!(rows.iter().all(|r| r.object_key != "rwl-merged"));
    assert!(store.replace_batches(merge).await.expect("rewrite"), "rows are intact");
    let rows = store.read_index(t.id, 0, 0, u64::MAX, 1000).await.expect("read");
    assert_eq!(rows.len(), N as usize);
    assert!(rows.iter().enumerate().all(|(i, r)| r.object_key == "rwl-merged" && r.base_offset == i as i64));
    let dead = dead_with(store, "rwl-", i64::MAX).await;
    assert_eq!(dead.len(), N as usize + 1, "every old object and the stale rewrite's");
    assert!(!dead.contains(&"rwl-merged".to_string()));
}

/// A long rewrite applied in steps: the first records the new object, continuations add rows into it while
/// it is recorded and live, and a continuation whose rows changed, or whose object was never recorded,
/// changes nothing.
pub async fn continued_rewrites(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-rewrite-steps", 1)).await.expect("create");
    for i in 0..4 {
        store.commit_segment(commit(&format!("rws-{i}"), vec![batch(t.id, 0, 0, 1, 1)])).await.expect("commit");
    }
    let step = |rows: std::ops::Range<i64>, key: &str, recorded: bool| BatchRewrite {
        topic_id: t.id,
        partition: 0,
        object: Some(NewObject { key: key.into(), size: 400, created_ms: 5 }),
        object_recorded: recorded,
        replaced: rows.clone().map(|i| (i, format!("rws-{i}"))).collect(),
        added: rows.map(one_record_row).collect(),
        removed_markers: vec![],
        clean_offset: None,
        now_ms: 7,
    };
    let keys = || async {
        let rows = store.read_index(t.id, 0, 0, u64::MAX, 100).await.expect("read");
        rows.into_iter().map(|r| r.object_key).collect::<Vec<_>>()
    };
    assert!(store.replace_batches(step(0..2, "rws-merged", false)).await.expect("first step"));
    assert_eq!(keys().await, ["rws-merged", "rws-merged", "rws-2", "rws-3"]);
    assert!(!store.replace_batches(step(2..4, "rws-never", true)).await.expect("unknown object"));
    assert_eq!(store.unknown_objects(&["rws-never".into()]).await.expect("unknown"), ["rws-never"]);
    let mut stale = step(2..4, "rws-merged", true);
    stale.replaced[1].1 = "rws-elsewhere".into();
    assert!(!store.replace_batches(stale).await.expect("stale step"));
    assert_eq!(keys().await, ["rws-merged", "rws-merged", "rws-2", "rws-3"], "a stale step changes nothing");
    assert!(store.replace_batches(step(2..4, "rws-merged", true)).await.expect("second step"));
    assert_eq!(keys().await, ["rws-merged"; 4]);
    let dead = dead_with(store, "rws-", i64::MAX).await;
    assert_eq!(dead, ["rws-0", "rws-1", "rws-2", "rws-3"], "every old object, never the merged one");
}
