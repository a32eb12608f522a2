//! Garbage collection of objects: dead objects (no index row references them) are deleted from the bucket
//! once they have been dead for the grace period, so that a read that looked a row up just before the row
//! went still finds its bytes; then the metastore forgets them. Orphans (uploads whose commit never
//! happened: a crash or a failed commit between upload and commit) are found by listing the bucket and
//! deleted once older than the orphan grace period, which must exceed the longest upload-to-commit delay.
//!
//! The bucket listing is streamed and handled in chunks of [`MAX_DELETES_PER_PASS`] objects, so a bucket
//! of any size costs one chunk of memory; deletes go to the store in bulk.
//!
//! Every step is idempotent: a crash between deleting and forgetting repeats the delete next time.

use crate::Result;
use weft_meta::Metastore;
use weft_storage::{ObjectStorage, keys};

/// How long a fenced orphan's row outlives the deletion of its bytes.
const FENCE_HOLD_MS: i64 = 3_600_000;

/// Most objects deleted per pass; also the size of the chunks an orphan scan reads the listing in.
pub const MAX_DELETES_PER_PASS: u32 = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    pub deleted: usize,
    pub orphans: usize,
}

/// Deletes objects dead for longer than `grace_ms`.
pub async fn collect_dead(meta: &dyn Metastore, storage: &ObjectStorage, now_ms: i64, grace_ms: i64) -> Result<usize> {
    let dead = meta.dead_objects(now_ms.saturating_sub(grace_ms), MAX_DELETES_PER_PASS).await?;
    storage.delete_many(&dead).await?;
    meta.forget_objects(&dead).await?;
    Ok(dead.len())
}

/// Deletes data objects older than `orphan_grace_ms` that the metastore has never recorded, fencing them in
/// the metastore first (see `Objects::fence_orphans`).
///
/// `from_ms` limits the listing to objects created at or after it (keys sort by creation time, and the
/// store skips the rest itself): a scan that already went through everything created before an earlier
/// cutoff need not list it again, so a bucket of a week's objects is not listed whole every scan. `None`
/// lists everything (the first scan of a lease holder). Returns the objects deleted and the cutoff used,
/// the next scan's starting point.
pub async fn collect_orphans(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    now_ms: i64,
    orphan_grace_ms: i64,
    from_ms: Option<i64>,
) -> Result<(usize, i64)> {
    let cutoff = now_ms.saturating_sub(orphan_grace_ms);
    let mut deleted = 0;
    for dir in keys::DATA_DIRS {
        let chunk = MAX_DELETES_PER_PASS as usize;
        let mut listing = match from_ms {
            Some(ms) => storage.list_chunks_after(dir, &keys::created_from(dir, ms), chunk),
            None => storage.list_chunks(dir, chunk),
        };
        while let Some(chunk) = listing.next().await? {
            // Between chunks, clients' requests on the same runtime go first.
            tokio::task::yield_now().await;
            let old: Vec<String> = chunk
                .into_iter()
                .filter(|o| keys::created_ms(&o.key).is_some_and(|ms| ms < cutoff))
                .map(|o| o.key)
                .collect();
            if old.is_empty() {
                continue;
            }
            // Fenced first, so a late commit of one of them fails instead of pointing at deleted bytes.
            // The fence rows stay for FENCE_HOLD_MS (then the dead-object pass forgets them), far longer than
            // any commit can be in flight once the committer's own deadline (half the orphan grace) has passed.
            let orphans = meta.fence_orphans(&old, now_ms.saturating_add(FENCE_HOLD_MS)).await?;
            for key in &orphans {
                tracing::info!(object = %key, "deleting orphaned object (uploaded, never committed)");
            }
            storage.delete_many(&orphans).await?;
            deleted += orphans.len();
        }
    }
    Ok((deleted, cutoff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_meta::SqlMetastore;
    use weft_meta::prelude::*;

    #[tokio::test]
    async fn a_scan_from_an_earlier_cutoff_lists_only_newer_objects() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqlMetastore::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.unwrap();
        let storage = ObjectStorage::open("memory://", 0).unwrap();
        // Written at 1 000 and at 6 000, all orphans, all past the grace at 20 000.
        for (ms, nonce) in [(1_000, 1), (1_000, 2), (6_000, 3), (6_000, 4)] {
            storage.put_durable(&keys::segment_key(ms, nonce), Bytes::from_static(b"x")).await.unwrap();
        }
        storage.put_durable(&keys::merged_key(5_999, 5), Bytes::from_static(b"x")).await.unwrap();
        let lists = || storage.usage().of(weft_storage::RequestKind::List).requests;
        let before = lists();
        // A scan starting from 6 000 leaves what was created before it alone (an earlier scan saw it).
        let (deleted, cutoff) = collect_orphans(&meta, &storage, 20_000, 5_000, Some(6_000)).await.unwrap();
        assert_eq!((deleted, cutoff), (2, 15_000));
        assert_eq!(lists() - before, 2, "one listing per data directory");
        let left = storage.list(keys::SEGMENTS_DIR).await.unwrap();
        assert_eq!(left.iter().map(|o| keys::created_ms(&o.key)).collect::<Vec<_>>(), vec![Some(1_000); 2]);
        assert_eq!(storage.list(keys::MERGED_DIR).await.unwrap().len(), 1, "created before 6 000: not listed");
        // A full scan still finds them.
        let (deleted, _) = collect_orphans(&meta, &storage, 20_000, 5_000, None).await.unwrap();
        assert_eq!(deleted, 3);
    }

    #[test]
    fn created_from_sorts_between_older_and_newer_keys() {
        let from = keys::created_from(keys::SEGMENTS_DIR, 6_000);
        assert!(keys::segment_key(5_999, u64::MAX) < from);
        assert!(keys::segment_key(6_000, 0) > from);
        assert_eq!(keys::created_from(keys::MERGED_DIR, -5), format!("{}/{:013}", keys::MERGED_DIR, 0));
    }

    #[tokio::test]
    async fn orphans_past_their_grace_are_deleted_across_many_chunks_of_the_listing() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqlMetastore::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.unwrap();
        let storage = ObjectStorage::open("memory://", 0).unwrap();
        let old = 2 * MAX_DELETES_PER_PASS as u64 + 5;
        for nonce in 0..old {
            storage.put_durable(&keys::segment_key(1_000, nonce), Bytes::from_static(b"x")).await.unwrap();
        }
        storage.put_durable(&keys::merged_key(9_000, 1), Bytes::from_static(b"young")).await.unwrap();
        // The cutoff is 10 000 - 5 000: the segments written at 1 000 are past it, the merged object is not.
        let (deleted, cutoff) = collect_orphans(&meta, &storage, 10_000, 5_000, None).await.unwrap();
        assert_eq!((deleted as u64, cutoff), (old, 5_000));
        assert!(storage.list(keys::SEGMENTS_DIR).await.unwrap().is_empty());
        assert_eq!(storage.list(keys::MERGED_DIR).await.unwrap().len(), 1, "the young orphan waits for its grace");
        // An upload that was only late, not abandoned, can no longer be committed: nothing points at its
        // deleted bytes, and its producers get an error instead of an ack.
        let topic = weft_meta::NewTopic {
            name: "t".into(),
            id: uuid::Uuid::new_v4(),
            partitions: 1,
            configs: Default::default(),
            created_ms: 0,
        };
        let topic = meta.create_topic(topic).await.unwrap();
        let late = weft_meta::SegmentCommit {
            object_key: keys::segment_key(1_000, 0),
            object_size: 1,
            created_ms: 1_000,
            batches: vec![weft_meta::BatchAppend {
                topic_id: topic.id,
                partition: 0,
                byte_start: 0,
                byte_len: 1,
                offset_span: 1,
                record_count: 1,
                max_timestamp: 1_000,
                producer: None,
                kind: weft_meta::BatchKind::Plain,
                record_set: 0,
            }],
        };
        let refused = meta.commit_segment(late).await;
        assert!(matches!(refused, Err(weft_meta::MetaError::ObjectFenced { .. })), "{refused:?}");
        let fence = [keys::segment_key(1_000, 1)];
        assert!(meta.unknown_objects(&fence).await.unwrap().is_empty(), "the fence outlives the bytes");
        assert!(meta.dead_objects(10_000 + FENCE_HOLD_MS, 10_000).await.unwrap().is_empty(), "held for an hour");
        assert!(!meta.dead_objects(10_001 + FENCE_HOLD_MS, 10_000).await.unwrap().is_empty(), "then collected");
    }
}
