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
