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

/// Deletes data objects older than `orphan_grace_ms` that the metastore has never recorded.
pub async fn collect_orphans(
    meta: &dyn Metastore,
    storage: &ObjectStorage,
    now_ms: i64,
    orphan_grace_ms: i64,
) -> Result<usize> {
    let cutoff = now_ms.saturating_sub(orphan_grace_ms);
    let mut deleted = 0;
    for dir in keys::DATA_DIRS {
        let mut listing = storage.list_chunks(dir, MAX_DELETES_PER_PASS as usize);
        while let Some(chunk) = listing.next().await? {
            let old: Vec<String> = chunk
                .into_iter()
                .filter(|o| keys::created_ms(&o.key).is_some_and(|ms| ms < cutoff))
                .map(|o| o.key)
                .collect();
            if old.is_empty() {
                continue;
            }
            let orphans = meta.unknown_objects(&old).await?;
            for key in &orphans {
                tracing::info!(object = %key, "deleting orphaned object (uploaded, never committed)");
            }
            storage.delete_many(&orphans).await?;
            deleted += orphans.len();
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weft_meta::SqlMetastore;

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
        let deleted = collect_orphans(&meta, &storage, 10_000, 5_000).await.unwrap();
        assert_eq!(deleted as u64, old);
        assert!(storage.list(keys::SEGMENTS_DIR).await.unwrap().is_empty());
        assert_eq!(storage.list(keys::MERGED_DIR).await.unwrap().len(), 1, "the young orphan waits for its grace");
    }
}
