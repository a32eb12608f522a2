//! The catalog: the cluster id, topics with their partition counts, and configs (per topic and cluster-wide).
//!
//! Separate from the log because it changes rarely and is read through the agent's topic cache, while the
//! log changes on every produce.

use crate::{NewTopic, Result, Topic};
use async_trait::async_trait;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What the catalog owns: the cluster id, topics (name, id, partition count, explicit configs) and the
/// cluster-wide dynamic broker configs.
///
/// Invariants: the cluster id never changes once the store is initialised; topic names and ids are unique;
/// a topic's partition count only grows; each call is one atomic transaction (creating a topic creates all
/// its partitions, deleting one removes its index, producer and transaction ranges and marks its objects
/// dead, all or nothing). Defaults are never stored, only explicit configs.
///
/// Used by: the agent's topic cache and the Metadata, CreateTopics, DeleteTopics, CreatePartitions,
/// DescribeConfigs/AlterConfigs handlers; the maintenance scheduler lists topics.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// The cluster id, created once when the store is initialised.
    async fn cluster_id(&self) -> Result<String>;

    /// Creates a topic with all its partitions (empty logs); [`crate::MetaError::TopicExists`] if the name is
    /// taken.
    async fn create_topic(&self, spec: NewTopic) -> Result<Topic>;

    /// Deletes a topic and its index; its objects are marked dead at `now_ms`.
    async fn delete_topic(&self, name: &str, now_ms: i64) -> Result<Topic>;

    /// A topic by name.
    async fn topic(&self, name: &str) -> Result<Option<Topic>>;

    /// A topic by id.
    async fn topic_by_id(&self, id: Uuid) -> Result<Option<Topic>>;

    /// Every topic, by name.
    async fn list_topics(&self) -> Result<Vec<Topic>>;

    /// Grows a topic to `total` partitions.
    async fn add_partitions(&self, name: &str, total: i32) -> Result<Topic>;

    /// Replaces a topic's explicit configs (defaults are never stored).
    async fn set_topic_configs(&self, name: &str, configs: BTreeMap<String, String>) -> Result<Topic>;

    /// Cluster-wide dynamic broker configs (Kafka's `--entity-default` broker configs).
    async fn cluster_configs(&self) -> Result<BTreeMap<String, String>>;

    /// Replaces the cluster-wide dynamic broker configs.
    async fn set_cluster_configs(&self, configs: BTreeMap<String, String>) -> Result<()>;
}
