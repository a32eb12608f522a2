//! Background maintenance of stored data, shared by every agent but run by one at a time (a metastore
//! lease, taken by the caller):
//! - [`retention`]: time and size retention move each partition's log start forward;
//! - [`cleaner`]: log compaction keeps the latest record per key on compacted topics;
//! - [`merge`]: object compaction merges a partition's batches out of small multi-partition flush segments
//!   into one object per partition;
//! - [`gc`]: deletes objects nothing references any more, after a grace period, and uploads whose commit
//!   never happened.
//!
//! [`Maintainer`] is the service that schedules these jobs on the agent holding the maintenance lease.
//!
//! Every job is crash-safe by construction: new objects are written before the index points at them, the
//! index changes in one metastore transaction that first checks the rows it replaces are unchanged, and old
//! objects are only marked dead there; deletion from the bucket happens later, in [`gc`].

pub mod cleaner;
pub mod gc;
pub mod merge;
pub mod retention;
mod service;

pub use service::{Deps, Maintainer, Schedule};

use weft_meta::MetaError;
use weft_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored batch at offset {offset} of {object} is unreadable: {reason}")]
    BadBatch { object: String, offset: i64, reason: String },
}

pub type Result<T> = std::result::Result<T, MaintenanceError>;

/// Reads one indexed batch and patches its base offset in, as the fetch path serves it (the log's one reader
/// of stored batches).
pub(crate) async fn read_batch(
    storage: &weft_storage::ObjectStorage,
    b: &weft_meta::BatchRef,
) -> Result<bytes::BytesMut> {
    weft_log::read_batch(storage, b).await.map_err(|e| match e {
        weft_log::ReadError::Meta(e) => MaintenanceError::Meta(e),
        weft_log::ReadError::Storage(e) => MaintenanceError::Storage(e),
        weft_log::ReadError::BadStoredBatch { offset, reason } => {
            MaintenanceError::BadBatch { object: b.object_key.clone(), offset, reason }
        }
    })
}
