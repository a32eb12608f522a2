//! Values exchanged with the metastore.

use std::collections::BTreeMap;
use uuid::Uuid;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    /// Only the configs set explicitly; defaults are not stored.
    pub configs: BTreeMap<String, String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
    pub created_ms: i64,
}

/// A partition's bounds: records live in `log_start..next_offset`; `next_offset` is the high watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub log_start: i64,
    pub next_offset: i64,
    /// The last stable offset: the first offset of the oldest open transaction, or `next_offset` when none
    /// is open. read_committed consumers read up to here.
    pub last_stable: i64,
}

/// One batch of a segment being committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAppend {
    pub topic_id: Uuid,
    pub partition: i32,
    pub byte_start: u64,
    pub byte_len: u32,
    /// Offsets the batch occupies (last offset delta + 1).
    pub offset_span: i64,
    pub record_count: i32,
    pub max_timestamp: i64,
    /// Set for batches of idempotent producers: their sequence is checked in the commit transaction.
    pub producer: Option<ProducerBatch>,
    pub kind: BatchKind,
    /// Consecutive batches of a commit with the same `record_set` are one partition's record set of one
    /// request: they are appended all or none (Kafka's `UnifiedLog.append`), and every batch of a refused set
    /// carries the set's outcome. They must all be of one partition. Neighbouring sets need different ids.
    pub record_set: u32,
}

/// A batch's part in transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BatchKind {
    /// Outside any transaction.
    #[default]
    Plain,
    /// Data of a transaction: accepted only while the producer's transaction is ongoing and holds the
    /// partition (KIP-890 part 1); opens the transaction in the partition (holding back the last stable offset).
    Transactional,
    /// A control record ending the producer's transaction in this partition (written by the coordinator only).
    Marker { commit: bool },
}

/// The idempotence fields of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_sequence: i32,
    pub last_sequence: i32,
}

/// A durable segment object and the batches it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCommit {
    pub object_key: String,
    pub object_size: u64,
    pub created_ms: i64,
    pub batches: Vec<BatchAppend>,
}

/// What a segment commit did: one outcome per batch, in order, and the new bounds of every partition touched.
/// The batches of one record set share its refusal; a set answered as a duplicate gives every batch the
/// duplicate's offset; an appended set gives each batch its own base offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCommitted {
    pub outcomes: Vec<AppendOutcome>,
    pub partitions: Vec<(Uuid, i32, PartitionOffsets)>,
}

/// What a group commit did: per segment, in order, its outcomes (as [`SegmentCommitted::outcomes`]), or
/// `None` if its object key was fenced (see [`crate::Objects::fence_orphans`]) and nothing of it was stored;
/// and the bounds every partition touched was left with after the whole group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentsCommitted {
    pub segments: Vec<Option<Vec<AppendOutcome>>>,
    pub partitions: Vec<(Uuid, i32, PartitionOffsets)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended {
        base_offset: i64,
        log_start: i64,
    },
    /// The topic or partition was deleted (or never existed) by the time of the commit.
    UnknownPartition,
    /// A retry of a batch already stored (one of the producer's last five): not stored again.
    Duplicate {
        base_offset: i64,
        log_start: i64,
    },
    /// The batch's sequence does not follow the producer's last one.
    OutOfOrderSequence,
    /// The batch carries an older epoch than the producer's current one.
    InvalidProducerEpoch,
    /// A producer unknown to the partition started with a sequence other than 0.
    UnknownProducerId,
    /// Transactional data for a partition that is not part of the producer's ongoing transaction.
    InvalidTxnState,
    /// A transaction marker while the producer's transaction is not being ended that way at the marker's
    /// epoch with this partition: a late marker of a coordinator that no longer owns the transaction
    /// (Kafka's TRANSACTION_COORDINATOR_FENCED). Nothing is stored.
    MarkerFenced,
}

/// Where a stored batch lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef {
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub object_key: String,
    pub byte_start: u64,
    pub byte_len: u32,
}

/// A consumer group's committed position in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub commit_ms: i64,
}

/// A consumer group's coordinator state as stored (Kafka keeps it as GroupMetadata or KIP-848 records in its
/// offsets topic): a few plain columns for listing and expiry, and the whole state as a versioned document
/// that only the group coordinator reads (opaque to the metastore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStateRecord {
    pub group: String,
    /// "classic" or "consumer" (KIP-848), as ListGroups names group types in lower case.
    pub kind: String,
    pub protocol_type: String,
    /// Kafka's state name (Empty, Stable, ...). A group stored as "Empty" is removed with its last offsets.
    pub state: String,
    pub document: String,
}

/// A write allowed only while `holder` holds lease `name` unexpired at `now_ms` (the coordinator-shard lease
/// of the group being written), so a coordinator that lost its shard cannot overwrite the new owner's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseFence {
    pub name: String,
    pub holder: String,
    pub now_ms: i64,
}

/// An index row written by a rewrite: a batch (possibly with fewer records than before) in a new object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub base_offset: i64,
    pub last_offset: i64,
    pub record_count: i32,
    pub max_timestamp: i64,
    pub byte_start: u64,
    pub byte_len: u32,
}

/// A durable object a rewrite points index rows at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    pub key: String,
    pub size: u64,
    pub created_ms: i64,
}

/// Replaces some index rows of one partition (object compaction merges them into one object; log
/// compaction drops superseded records). Applied only if every replaced row still exists as it was read;
/// otherwise nothing changes and the new object is marked dead, for the garbage collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRewrite {
    pub topic_id: Uuid,
    pub partition: i32,
    /// The new object; `None` when the replaced rows are dropped without replacement.
    pub object: Option<NewObject>,
    /// `object` was recorded by an earlier rewrite of the same copy, which this one continues: a long merge
    /// applies its rows in several short transactions, so that the metastore's single writer is never held
    /// long. Only the first inserts the object; a continuation applies only while the object is recorded and
    /// live.
    pub object_recorded: bool,
    /// The rows replaced: (base offset, object key) as they were read.
    pub replaced: Vec<(i64, String)>,
    pub added: Vec<BatchRow>,
    /// Abort markers removed by log compaction: their aborted ranges are forgotten with them.
    pub removed_markers: Vec<i64>,
    /// Log compaction: the partition is clean up to here.
    pub clean_offset: Option<i64>,
    pub now_ms: i64,
}

/// A partition's stored-data summary (topic describe, retention and cleaner decisions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionStorage {
    pub bytes: u64,
    pub batches: u64,
    pub objects: u64,
    /// Log compaction has cleaned the partition below this offset.
    pub clean_offset: i64,
    /// Bytes of batches at or after `clean_offset`.
    pub dirty_bytes: u64,
}
