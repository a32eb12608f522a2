//! Dynamic group configs (KIP-848 and KIP-932): the explicit configs of the GROUP config resource.

use crate::Result;
use async_trait::async_trait;
use std::collections::BTreeMap;

/// One group's explicit configs and the version they were written at (0: none stored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredGroupConfigs {
    pub configs: BTreeMap<String, String>,
    pub version: i64,
}

/// What group configs own: per group id, the configs set on the group (names to values as the client sent
/// them) and a version bumped by every write.
///
/// Invariants: a group's configs are replaced whole, and only if their version is still the one the writer
/// read (compare and set), so a read-validate-write by one agent never overwrites a concurrent one by another;
/// an empty set removes the group's entry (its version starts again from 0). Names and values are not checked
/// here (the agent checks them as Kafka does); the store keeps what it is given. A group's configs exist
/// whether or not the group does (Kafka allows configuring a group before its first member).
///
/// Used by: DescribeConfigs, AlterConfigs and IncrementalAlterConfigs on GROUP resources, the group config
/// cache the coordinators read (session timeouts, heartbeat intervals, share-group settings), DeleteGroups.
#[async_trait]
pub trait GroupConfigs: Send + Sync + 'static {
    /// A group's explicit configs and their version (empty, version 0, when none are stored).
    async fn group_configs(&self, group: &str) -> Result<StoredGroupConfigs>;

    /// Replaces a group's configs with `configs` if their stored version is still `expected_version`; an empty
    /// `configs` removes them. Returns the new version (0 after a removal), or `None`, storing nothing, when
    /// another writer changed them first.
    async fn replace_group_configs(
        &self,
        group: &str,
        expected_version: i64,
        configs: &BTreeMap<String, String>,
    ) -> Result<Option<i64>>;

    /// Every group with explicit configs, ordered by group id.
    async fn all_group_configs(&self) -> Result<Vec<(String, StoredGroupConfigs)>>;

    /// Removes a group's configs whatever their version; returns whether there were any.
    async fn delete_group_configs(&self, group: &str) -> Result<bool>;
}
