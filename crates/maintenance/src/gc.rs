//! Garbage collection of objects: dead objects (no index row references them) are deleted from the bucket
//! once they have been dead for the grace period, so that a read that looked a row up just before the row
//! went still finds its bytes; then the metastore forgets them. Orphans (uploads whose commit never
//! happened: a crash or a failed commit between upload and commit) are found by listing the bucket and
//! deleted once older than the orphan grace period, which must exceed the longest upload-to-commit delay.
//!
//! Every step is idempotent: a crash between deleting and forgetting repeats the delete next time.

use crate::Result;
use weft_meta::Metastore;
use weft_storage::{ObjectStorage, keys};

/// Most objects deleted per pass.
pub const MAX_DELETES_PER_PASS: u32 = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    pub deleted: usize,
    pub orphans: usize,
}

/// Deletes objects dead for longer than `grace_ms`.
pub async fn collect_dead(meta: &dyn Metastore, storage: &ObjectStorage, now_ms: i64, grace_ms: i64) -> Result<usize> {
    let dead = meta.dead_objects(now_ms.saturating_sub(grace_ms), MAX_DELETES_PER_PASS).await?;
    for key in &dead {
        storage.delete(key).await?;
    }
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
        let old: Vec<String> = storage
            .list(dir)
            .await?
            .into_iter()
            .filter(|o| keys::created_ms(&o.key).is_some_and(|ms| ms < cutoff))
            .map(|o| o.key)
            .collect();
        for chunk in old.chunks(MAX_DELETES_PER_PASS as usize) {
            for key in meta.unknown_objects(chunk).await? {
                tracing::info!(object = %key, "deleting orphaned object (uploaded, never committed)");
                storage.delete(&key).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
