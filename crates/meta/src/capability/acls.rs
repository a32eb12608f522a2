//! Access control lists: the ACL bindings every agent authorizes requests with.

use crate::Result;
use async_trait::async_trait;

/// One stored ACL binding, in Kafka's wire codes (resource type, pattern type, operation, permission), so the
/// store needs no ACL model: the agent validates bindings before storing them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclRecord {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

/// Every stored binding, with the version of the set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclSnapshot {
    /// The set is at least this new: a change committed after `version` was read may already be in `acls`,
    /// never the other way round, so a reader that reloads when the version moves misses nothing.
    pub version: i64,
    /// Sorted.
    pub acls: Vec<AclRecord>,
}

/// What ACLs own: a set of bindings (each stored at most once) and a version that grows with every change.
///
/// Invariants: creating a stored binding or deleting an absent one changes nothing (and leaves the version);
/// every call that changes the set increases the version, atomically with the change; a call is one
/// transaction (all of its bindings or none).
///
/// Used by: the agent's authorizer (polls the version, reloads the set), CreateAcls, DescribeAcls, DeleteAcls.
#[async_trait]
pub trait Acls: Send + Sync + 'static {
    /// Stores each of `acls` not stored yet; returns the version after.
    async fn create_acls(&self, acls: &[AclRecord]) -> Result<i64>;

    /// Removes each of `acls` that is stored; returns the ones removed, each once, in the order given.
    async fn delete_acls(&self, acls: &[AclRecord]) -> Result<Vec<AclRecord>>;

    /// Every stored binding.
    async fn acls(&self) -> Result<AclSnapshot>;

    /// The version of the stored set (cheap: for polling).
    async fn acl_version(&self) -> Result<i64>;
}
