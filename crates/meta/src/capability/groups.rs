//! Consumer groups' committed offsets and coordinator state.

use crate::{CommittedOffset, GroupStateRecord, LeaseFence, Result};
use async_trait::async_trait;

/// What groups own: each group's committed offsets, which of them wait in an open transaction, and the group's
/// coordinator state (membership, generation, assignments), so another coordinator can take the group over.
///
/// Invariants: a commit of several partitions is one transaction and replaces earlier commits of the same
/// partitions; offsets staged by a transaction become visible only when it commits (see
/// [`crate::Transactions::update_transaction`]).
///
/// Used by: the group coordinator handlers (OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups,
/// ListGroups), the group coordinator itself (group state), offset retention at the agent, and the metrics
/// exporter.
#[async_trait]
pub trait Groups: Send + Sync + 'static {
    /// Stores a group's committed offsets (replacing earlier commits of the same partitions) in one transaction.
    /// With a `fence`, only while its lease is held (as [`Groups::store_group_state`]); returns false,
    /// storing nothing, when it is not.
    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[CommittedOffset],
        fence: Option<&LeaseFence>,
    ) -> Result<bool>;

    /// A group's committed offsets, all of them or those of `topics`.
    async fn committed_offsets(&self, group: &str, topics: Option<&[String]>) -> Result<Vec<CommittedOffset>>;

    /// Groups that have committed offsets.
    async fn groups_with_offsets(&self) -> Result<Vec<String>>;

    /// Deletes a group's offsets (all, or those of the given partitions); returns how many were removed.
    async fn delete_offsets(&self, group: &str, partitions: Option<&[(String, i32)]>) -> Result<u64>;

    /// Deletes committed offsets older than `older_than_ms`, except those of `active_groups` (Kafka's
    /// offsets.retention.minutes for empty groups), then the stored state of every group outside
    /// `active_groups` stored as "Empty" that has no offsets left (Kafka's group cleanup turns such a group
    /// Dead). Returns how many offsets were removed.
    async fn expire_offsets(&self, older_than_ms: i64, active_groups: &[String]) -> Result<u64>;

    /// Partitions of `group` with an offset commit waiting in an open transaction (OffsetFetch require_stable).
    async fn pending_txn_offsets(&self, group: &str) -> Result<Vec<(String, i32)>>;

    /// Stores a group's coordinator state, replacing what was stored for the group. With a `fence`, only while
    /// the fence's lease is held by its holder (checked and share-locked in the same transaction, so a new
    /// coordinator taking the lease waits for this write or sees none of it); returns false, storing nothing,
    /// when it is not. Without one (a single agent), always stores and returns true.
    async fn store_group_state(&self, record: &GroupStateRecord, fence: Option<&LeaseFence>) -> Result<bool>;

    /// A group's stored coordinator state, if any.
    async fn load_group_state(&self, group: &str) -> Result<Option<GroupStateRecord>>;

    /// Removes a group's stored coordinator state; returns whether there was any.
    async fn delete_group_state(&self, group: &str) -> Result<bool>;

    /// Every stored group, ordered by id, with `document` left empty (for ListGroups).
    async fn list_group_states(&self) -> Result<Vec<GroupStateRecord>>;
}
