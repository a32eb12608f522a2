//! The partition log: how batches become durable and how they are read back.
//!
//! Produce requests hand validated batches to the [`ProduceBuffer`]; its flusher cuts them into one segment
//! object per flush and uploads it, and the committer assigns offsets in one metastore transaction per
//! segment, in flush order, before any producer is answered. [`PartitionWatch`] publishes each partition's
//! high watermark to waiting fetches; [`LogReader`] reads committed batches back for fetch and ListOffsets,
//! finding the rows of recent commits in the [`IndexTail`] before asking the metastore.
//! [`health::Health`] records the outcome of every write for readiness.

mod buffer;
mod committer;
pub mod health;
mod read_ahead;
mod reader;
pub mod tail;
#[cfg(test)]
mod testutil;
mod watch;

pub use buffer::{Append, FlushDeps, FlushFailure, FlushFailureKind, FlushResult, ProduceBuffer, ProduceLimits};
pub use read_ahead::Ahead;
pub use reader::{LEADER_EPOCH, LogReader, MAX_RUN_BYTES, ReadError, ReadRecords, read_batch, read_run, read_runs};
pub use tail::IndexTail;
pub use watch::PartitionWatch;
