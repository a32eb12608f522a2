//! The durable state of share-group partitions (KIP-932): what Kafka's share coordinator persists, kept in the
//! metastore so an agent that takes a share partition over (or restarts) resumes where the last one stopped.

use crate::Result;
use async_trait::async_trait;
use uuid::Uuid;

/// One share partition: a topic partition as consumed by one share group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharePartitionKey {
    pub group: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// A run of offsets that share one delivery state and count, as KIP-932 persists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareStateBatch {
    pub first_offset: i64,
    /// Inclusive.
    pub last_offset: i64,
    /// Kafka's record state ids: 0 available, 2 acknowledged, 4 archived (acquired is never persisted).
    pub delivery_state: i8,
    pub delivery_count: i16,
}

/// The persisted state of one share partition: Kafka's WriteShareGroupState payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareStateRecord {
    pub key: SharePartitionKey,
    /// Bumped by every reset of the start offset (initialisation, AlterShareGroupOffsets); a writer that loaded
    /// an older epoch is fenced.
    pub state_epoch: i32,
    /// Bumped by each agent that takes the partition's share state over; an older holder is fenced.
    pub leader_epoch: i32,
    /// The share-partition start offset (SPSO): every offset below it is acknowledged or archived.
    pub start_offset: i64,
    /// The in-flight runs at and above `start_offset`, ordered and disjoint.
    pub batches: Vec<ShareStateBatch>,
}

impl ShareStateRecord {
    /// The start offset of a deleted state (a tombstone).
    pub const DELETED: i64 = -1;

    /// Whether this is a deleted state: no start offset, no runs, only the epochs a new state must outgrow.
    pub fn is_deleted(&self) -> bool {
        self.start_offset == Self::DELETED
    }
}

/// The epochs a conditional write expects to find stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareEpochs {
    pub state_epoch: i32,
    pub leader_epoch: i32,
}

/// A share partition's start offset and state epoch, without its batches (DescribeShareGroupOffsets, lag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareStartOffset {
    pub topic_id: Uuid,
    pub partition: i32,
    pub start_offset: i64,
    pub state_epoch: i32,
}

/// What share states own: per (group, topic id, partition) the state epoch, leader epoch, start offset and
/// in-flight runs.
///
/// Invariants: [`ShareStates::write_share_state`] is a compare-and-set on both epochs, so of two agents that
/// loaded the same state at most one can write it (the other is fenced and must reload); an alteration of
/// start offsets changes every named partition or none, bumping each state epoch, so no holder of the old
/// state can write over it.
///
/// Epochs are never reused: a deletion leaves a tombstone ([`ShareStateRecord::is_deleted`]) with the state
/// epoch bumped, which [`ShareStates::share_state`] returns (so a new state is written over it with a
/// compare-and-set, above its epochs) and [`ShareStates::share_start_offsets`] leaves out. A holder of the
/// deleted state (an agent that cached it) is therefore fenced, even after the group is created again.
///
/// Used by: the share-partition leaders (load on takeover, write after state changes), DeleteGroups,
/// DescribeShareGroupOffsets, AlterShareGroupOffsets and DeleteShareGroupOffsets.
#[async_trait]
pub trait ShareStates: Send + Sync + 'static {
    /// The stored state of one share partition, if any; a deleted one is returned as its tombstone.
    async fn share_state(&self, key: &SharePartitionKey) -> Result<Option<ShareStateRecord>>;

    /// Stores `record` if the stored epochs are `expected` (`None`: only if nothing is stored); returns false,
    /// storing nothing, when they are not (fenced). The record's own epochs become the stored ones, so a
    /// takeover is a write of the loaded state with `leader_epoch + 1`.
    async fn write_share_state(&self, record: &ShareStateRecord, expected: Option<ShareEpochs>) -> Result<bool>;

    /// Every stored partition of `group` with its start offset, ordered by topic id and partition (deleted
    /// ones left out).
    async fn share_start_offsets(&self, group: &str) -> Result<Vec<ShareStartOffset>>;

    /// Sets the start offset of each `(topic id, partition, offset)` of `group` in one transaction, dropping
    /// its in-flight runs and bumping its state epoch (a partition not stored is created at state epoch 0
    /// and leader epoch 0). Whether the group may be altered (it must be empty) is the caller's check.
    /// Returns the new epochs, in the order given.
    async fn alter_share_start_offsets(&self, group: &str, offsets: &[(Uuid, i32, i64)]) -> Result<Vec<ShareEpochs>>;

    /// Deletes the state of `group`'s partitions (all, or those given) in one transaction, leaving tombstones
    /// with the state epoch bumped; returns how many were removed (tombstones not counted).
    async fn delete_share_states(&self, group: &str, partitions: Option<&[(Uuid, i32)]>) -> Result<u64>;
}
