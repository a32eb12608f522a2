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
//! Their pace is bounded ([`Pace`]): a byte rate and a per-pass allowance ([`budget`]) on what they read
//! and write, and a low-priority thread ([`worker`]) for their CPU-heavy steps, so they never show in the
//! latency of clients served by the same agent.
//!
//! Every job is crash-safe by construction: new objects are written before the index points at them, the
//! index changes in one metastore transaction that first checks the rows it replaces are unchanged, and old
//! objects are only marked dead there; deletion from the bucket happens later, in [`gc`].

pub mod budget;
pub mod cleaner;
pub mod gc;
pub mod merge;
pub mod retention;
mod service;
pub mod worker;

pub use budget::{Budget, BudgetLimits};
pub use service::{Deps, Maintainer, Schedule};
pub use worker::Worker;

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
    #[error(transparent)]
    Worker(#[from] worker::WorkerGone),
}

/// How fast background jobs may go: their I/O budget and where their CPU-heavy steps run.
#[derive(Debug)]
pub struct Pace {
    pub budget: Budget,
    pub worker: Worker,
}

impl Pace {
    /// No byte limits, CPU steps on the blocking pool: for a job called on its own (tests, tools).
    pub fn unlimited() -> Self {
        Pace { budget: Budget::new(BudgetLimits::UNLIMITED), worker: Worker::blocking_pool() }
    }

    /// Runs one metastore write of a background job (an index rewrite), then rests for the budget's share
    /// of the metastore's time ([`Budget::rest_after_write`]).
    pub async fn metastore_write<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        let started = tokio::time::Instant::now();
        let out = write.await;
        self.budget.rest_after_write(started.elapsed()).await;
        out
    }
}

pub type Result<T> = std::result::Result<T, MaintenanceError>;

/// Reads indexed batches and patches their base offsets in, as the fetch path serves them (the log's one
/// reader of stored batches): adjacent batches of one object with one range read, each read paid for in the
/// pace's byte budget first, and no object pulled into the consumers' cache.
pub(crate) async fn read_batches(
    storage: &weft_storage::ObjectStorage,
    rows: &[weft_meta::BatchRef],
    pace: &Pace,
) -> Result<Vec<bytes::BytesMut>> {
    let mut out = Vec::with_capacity(rows.len());
    for run in weft_log::read_runs(rows) {
        let run = &rows[run];
        pace.budget.take(run.iter().map(|r| u64::from(r.byte_len)).sum()).await;
        let object = run.first().map(|r| r.object_key.clone()).unwrap_or_default();
        let batches = weft_log::read_run(storage, run).await.map_err(|e| match e {
            weft_log::ReadError::Meta(e) => MaintenanceError::Meta(e),
            weft_log::ReadError::Storage(e) => MaintenanceError::Storage(e),
            weft_log::ReadError::BadStoredBatch { offset, reason } => {
                MaintenanceError::BadBatch { object: object.clone(), offset, reason }
            }
        })?;
        out.extend(batches);
    }
    Ok(out)
}
