//! The change feed: commits made by any agent sharing the store, as they happen.

use crate::{PartitionOffsets, Result};
use async_trait::async_trait;
use uuid::Uuid;

/// One event of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A commit (by any agent) left a partition with these bounds.
    Offsets { topic_id: Uuid, partition: i32, offsets: PartitionOffsets },
    /// Changes may have been missed (the feed connected or reconnected, or its reader fell behind): read
    /// the bounds of every partition again.
    Resync,
}

/// What the change feed owns: telling one agent about commits made by the others.
///
/// Invariants: a receiver gets a [`Change::Resync`] first and after any gap, so a reader that re-reads on
/// `Resync` and applies every `Offsets` never misses a commit that landed while it listened. Events are only
/// hints: bounds only grow, and a stale event is harmless to a reader that keeps the larger value.
///
/// Used by: the agent, to wake long-polling fetches waiting on partitions other agents write.
#[async_trait]
pub trait Changes: Send + Sync + 'static {
    /// A bounded stream of changes, ended when the receiver is dropped; `None` if the store has no other
    /// writers to hear from (SQLite: one process).
    async fn changes(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Change>>>;
}
