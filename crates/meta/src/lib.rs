//! The metadata store: topics, partitions, the offset index of every stored batch.
//!
//! One narrow trait, [`Metastore`], with one SQL implementation ([`SqlMetastore`]) that runs on SQLite (the
//! embedded default) and, later, PostgreSQL. Kafka semantics (offset assignment, log start/end) live in
//! these transactions once, not once per backend. [`conformance`] is the suite every backend must pass.

pub mod conformance;
mod producers;
mod record_set;
mod schema;
mod sql;
mod txn;
mod types;

pub use sql::SqlMetastore;
pub use txn::*;
pub use types::*;

use async_trait::async_trait;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("topic {name:?} already exists")]
    TopicExists { name: String },
    #[error("topic {name:?} does not exist")]
    UnknownTopic { name: String },
    #[error("topic {name:?} has {current} partitions; cannot change to {requested}")]
    BadPartitionCount { name: String, current: i32, requested: i32 },
    #[error("unsupported metastore url {url:?} (expected sqlite:///abs/path.db)")]
    BadUrl { url: String },
    #[error("metastore schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("metastore data is corrupt: {0}")]
    Corrupt(String),
    #[error("{reason}; writes are refused until the agent restarts")]
    FilesChanged { reason: String },
    #[error("metastore query failed: {0}")]
    Sql(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, MetaError>;

/// Everything the agent asks of the metadata store.
#[async_trait]
pub trait Metastore: Send + Sync + 'static {
    /// The cluster id, created once when the store is initialised.
    async fn cluster_id(&self) -> Result<String>;

    async fn create_topic(&self, spec: NewTopic) -> Result<Topic>;
    /// Deletes a topic and its index; its objects are marked dead at `now_ms`.
    async fn delete_topic(&self, name: &str, now_ms: i64) -> Result<Topic>;
    async fn topic(&self, name: &str) -> Result<Option<Topic>>;
    async fn topic_by_id(&self, id: Uuid) -> Result<Option<Topic>>;
    async fn list_topics(&self) -> Result<Vec<Topic>>;
    /// Grows a topic to `total` partitions.
    async fn add_partitions(&self, name: &str, total: i32) -> Result<Topic>;

    /// Records a durable segment object and, in one transaction, assigns every batch in it its base offset.
    /// Outcomes are returned in the order of `commit.batches`. Transactional batches are checked against the
    /// producer's transaction (KIP-890 part 1), open it in their partition, and markers close it.
    async fn commit_segment(&self, commit: SegmentCommit) -> Result<SegmentCommitted>;

    /// Log start and end offsets of a partition, if it exists.
    async fn partition_offsets(&self, topic_id: Uuid, partition: i32) -> Result<Option<PartitionOffsets>>;
    /// Offsets of every partition of every topic (used to warm caches at start).
    async fn all_partition_offsets(&self) -> Result<Vec<(Uuid, i32, PartitionOffsets)>>;

    /// Bytes of record batches stored per partition (those not yet below the log start), for every partition
    /// that holds any (DescribeLogDirs, topic sizes).
    async fn partition_sizes(&self) -> Result<Vec<(Uuid, i32, u64)>>;

    /// Batches holding offsets at or after `from_offset`, in offset order, stopping once `max_bytes` is
    /// reached (at least one batch is returned when any exists) or `max_batches` are listed.
    async fn read_index(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        max_bytes: u64,
        max_batches: u32,
    ) -> Result<Vec<BatchRef>>;

    /// The first batch (by offset) whose max timestamp is at or after `timestamp`.
    async fn first_batch_at_or_after_time(
        &self,
        topic_id: Uuid,
        partition: i32,
        timestamp: i64,
    ) -> Result<Option<BatchRef>>;

    /// The batch holding the largest timestamp of the partition (the earliest such batch on ties).
    async fn max_timestamp_batch(&self, topic_id: Uuid, partition: i32) -> Result<Option<BatchRef>>;

    /// Stores a group's committed offsets (replacing earlier commits of the same partitions) in one transaction.
    async fn commit_offsets(&self, group: &str, offsets: &[CommittedOffset]) -> Result<()>;
    /// A group's committed offsets, all of them or those of `topics`.
    async fn committed_offsets(&self, group: &str, topics: Option<&[String]>) -> Result<Vec<CommittedOffset>>;
    /// Groups that have committed offsets.
    async fn groups_with_offsets(&self) -> Result<Vec<String>>;
    /// Deletes a group's offsets (all, or those of the given partitions); returns how many were removed.
    async fn delete_offsets(&self, group: &str, partitions: Option<&[(String, i32)]>) -> Result<u64>;

    /// Deletes committed offsets older than `older_than_ms`, except those of `active_groups` (Kafka's
    /// offsets.retention.minutes for empty groups). Returns how many were removed.
    async fn expire_offsets(&self, older_than_ms: i64, active_groups: &[String]) -> Result<u64>;

    /// Forgets idempotent-producer state not updated since `older_than_ms` (producer.id.expiration.ms).
    /// Returns how many (producer, partition) entries were removed.
    async fn expire_producers(&self, older_than_ms: i64) -> Result<u64>;

    /// A new, never used producer id (InitProducerId).
    async fn allocate_producer_id(&self) -> Result<i64>;

    /// Atomically reads one transactional id's state, applies `update` and stores what it returns (with the
    /// offsets it publishes). A refusal changes nothing and is handed back.
    async fn update_transaction(
        &self,
        transactional_id: &str,
        update: TxnUpdate<'_>,
    ) -> Result<std::result::Result<TransactionMeta, Refused>>;
    /// One transactional id's state.
    async fn transaction(&self, transactional_id: &str) -> Result<Option<TransactionMeta>>;
    /// Every transactional id (without partitions, groups and pending offsets), optionally only those in `states`.
    async fn list_transactions(&self, states: Option<&[TxnState]>) -> Result<Vec<TransactionMeta>>;
    /// Forgets transactional ids with no transaction in progress, not used since `older_than_ms`
    /// (transactional.id.expiration.ms). Returns how many were removed.
    async fn expire_transactions(&self, older_than_ms: i64) -> Result<u64>;
    /// Aborted transactions of a partition whose range overlaps `from_offset..to_offset`, by first offset.
    async fn aborted_transactions(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        to_offset: i64,
    ) -> Result<Vec<AbortedTxn>>;
    /// Producers with state in a partition (DescribeProducers).
    async fn producers(&self, topic_id: Uuid, partition: i32) -> Result<Vec<ProducerInfo>>;
    /// Partitions of `group` with an offset commit waiting in an open transaction (OffsetFetch require_stable).
    async fn pending_txn_offsets(&self, group: &str) -> Result<Vec<(String, i32)>>;

    /// Replaces a topic's explicit configs (defaults are never stored).
    async fn set_topic_configs(&self, name: &str, configs: BTreeMap<String, String>) -> Result<Topic>;
    /// Cluster-wide dynamic broker configs (Kafka's `--entity-default` broker configs).
    async fn cluster_configs(&self) -> Result<BTreeMap<String, String>>;
    /// Replaces the cluster-wide dynamic broker configs.
    async fn set_cluster_configs(&self, configs: BTreeMap<String, String>) -> Result<()>;

    /// Moves a partition's log start forward to `offset` (never back, never past the end): retention and
    /// DeleteRecords. Index rows wholly below it go; objects left unreferenced are marked dead at `now_ms`.
    /// Returns the new bounds, or `None` if the partition does not exist.
    async fn advance_log_start(
        &self,
        topic_id: Uuid,
        partition: i32,
        offset: i64,
        now_ms: i64,
    ) -> Result<Option<PartitionOffsets>>;
    /// The log start that size retention allows: the base offset of the oldest batch that must stay so that
    /// at least `retained_bytes` remain (Kafka keeps whole segments while the rest is still that large).
    async fn retention_offset_by_size(
        &self,
        topic_id: Uuid,
        partition: i32,
        retained_bytes: u64,
    ) -> Result<Option<i64>>;
    /// Stored bytes, batches, objects and cleaner position of every partition of a topic, by partition.
    async fn partition_storage(&self, topic_id: Uuid) -> Result<Vec<(i32, PartitionStorage)>>;
    /// Applies a rewrite of index rows if they are unchanged since read; returns whether it applied.
    async fn replace_batches(&self, rewrite: BatchRewrite) -> Result<bool>;

    /// Objects no index row references, dead since before `dead_before_ms`, oldest first.
    async fn dead_objects(&self, dead_before_ms: i64, limit: u32) -> Result<Vec<String>>;
    /// Forgets objects after they were deleted from the object store.
    async fn forget_objects(&self, keys: &[String]) -> Result<()>;
    /// The keys among `keys` that the metastore has never recorded (uploads whose commit never happened).
    async fn unknown_objects(&self, keys: &[String]) -> Result<Vec<String>>;
    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`; false if another holder has it.
    async fn acquire_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool>;

    /// A small durable write transaction: fails while the store cannot take writes (read-only, full, or its
    /// files were removed under the running process). Readiness probes call it periodically.
    async fn write_probe(&self, now_ms: i64) -> Result<()>;

    /// Checks the store answers.
    async fn ping(&self) -> Result<()>;
}

/// Opens the metastore named by `url`.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Metastore>> {
    Ok(std::sync::Arc::new(SqlMetastore::open(url).await?))
}
