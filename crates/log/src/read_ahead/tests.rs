use super::*;
use crate::IndexTail;
use crate::testutil::{commit_object, one_record_batch, store_with_topic};
use std::sync::Arc;
use std::time::Duration;
use weft_clock::ManualClock;

/// After a fetch that left data behind, the objects its next fetch reads are loaded into the cache.
#[tokio::test]
async fn the_objects_of_the_next_read_are_loaded_into_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (meta, storage, topic_id) = store_with_topic(dir.path(), 1 << 20).await;
    let data = one_record_batch();
    for key in ["s0", "s1", "s2"] {
        commit_object(&meta, &storage, topic_id, key, &data).await;
    }
    let tail = Arc::new(IndexTail::new(Arc::new(ManualClock::default()), Duration::ZERO));
    let reader = LogReader::new(meta, storage.clone(), tail);
    assert!(!storage.cache().contains("s1"), "written outside the cache");

    // The next read starts at offset 1 and is bounded to two batches' bytes: s1 and s2, not s0.
    let next = Ahead { topic_id, partition: 0, from_offset: 1, max_bytes: 2 * data.len() as u64 };
    reader.read_ahead(vec![next]);
    for _ in 0..200 {
        if reader.ahead.available_permits() == MAX_PASSES && storage.cache().contains("s2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(storage.cache().contains("s1") && storage.cache().contains("s2"), "both loaded");
    assert!(!storage.cache().contains("s0"), "nothing before the next read");
}

/// While a pass runs, another fetch's read-ahead is skipped rather than queued.
#[tokio::test]
async fn a_busy_read_ahead_is_skipped_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let (meta, storage, topic_id) = store_with_topic(dir.path(), 1 << 20).await;
    commit_object(&meta, &storage, topic_id, "s0", &one_record_batch()).await;
    let tail = Arc::new(IndexTail::new(Arc::new(ManualClock::default()), Duration::ZERO));
    let reader = LogReader::new(meta, storage.clone(), tail);
    let held = reader.ahead.clone().try_acquire_owned().unwrap();
    reader.read_ahead(vec![Ahead { topic_id, partition: 0, from_offset: 0, max_bytes: u64::MAX }]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!storage.cache().contains("s0"), "skipped while the only pass was taken");
    drop(held);
}
