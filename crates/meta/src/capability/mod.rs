//! The metastore by capability: one narrow trait per kind of state, so that a service can take only what it
//! uses (`Arc<dyn Groups>`, `&dyn Objects`) and a backend can be read one capability at a time.
//!
//! [`Metastore`] is the umbrella: every type that implements all the capabilities is a `Metastore`, and an
//! `Arc<dyn Metastore>` upcasts to any one of them (trait upcasting, Rust 1.86+):
//!
//! ```
//! # async fn demo(store: std::sync::Arc<dyn weft_meta::Metastore>) -> weft_meta::Result<()> {
//! use weft_meta::prelude::*;
//! let catalog: std::sync::Arc<dyn Catalog> = store;
//! let _id = catalog.cluster_id().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The split follows the callers: the catalog is read through the topic cache, the log by produce and fetch,
//! groups by the group coordinator, transactions by the transaction coordinator, objects by the garbage
//! collector, leases by the maintenance scheduler and coordinator shards, agents by cluster membership, health
//! by the probes, changes by the high-watermark watches, credentials by SASL authentication and the SCRAM
//! credential APIs, group configs by the config handlers and the group coordinators, quotas by the quota
//! manager and the quota APIs, ACLs by the authorizer, schemas by the schema registry, share states by the
//! share-partition leaders. Each trait documents what it owns, what is atomic, and who uses it.

mod acls;
mod agents;
mod catalog;
mod changes;
mod credentials;
mod group_configs;
mod groups;
mod health;
mod leases;
mod log;
mod log_maintenance;
mod objects;
mod producers;
mod quotas;
mod schemas;
mod share_states;
mod transactions;

pub use acls::{AclRecord, AclSnapshot, Acls};
pub use agents::{AgentEndpoint, AgentIncarnation, AgentRecord, AgentRegistration, Agents};
pub use catalog::Catalog;
pub use changes::{Change, Changes};
pub use credentials::{Credentials, ScramCredential};
pub use group_configs::{GroupConfigs, StoredGroupConfigs};
pub use groups::Groups;
pub use health::Health;
pub use leases::Leases;
pub use log::Log;
pub use log_maintenance::LogMaintenance;
pub use objects::Objects;
pub use producers::Producers;
pub use quotas::Quotas;
pub use schemas::{
    Deletion, Placement, Registration, RegistryConfig, SchemaContent, SchemaReference, Schemas, StoredSchema,
    SubjectVersion,
};
pub use share_states::{
    ShareEpochs, SharePartitionKey, ShareStartOffset, ShareStateBatch, ShareStateRecord, ShareStates,
};
pub use transactions::Transactions;

/// Everything the agent asks of the metadata store: all capabilities together.
///
/// Implemented for every type that implements each capability; a backend implements the capabilities, never
/// this trait. Calls on `dyn Metastore` need no further import; calls on a concrete backend need the
/// capability traits in scope (`use weft_meta::prelude::*;`).
pub trait Metastore:
    Catalog
    + Log
    + LogMaintenance
    + Groups
    + GroupConfigs
    + Producers
    + Transactions
    + Objects
    + Leases
    + Agents
    + Health
    + Changes
    + Credentials
    + Quotas
    + Acls
    + Schemas
    + ShareStates
{
}

impl<T> Metastore for T where
    T: Catalog
        + Log
        + LogMaintenance
        + Groups
        + GroupConfigs
        + Producers
        + Transactions
        + Objects
        + Leases
        + Agents
        + Health
        + Changes
        + Credentials
        + Quotas
        + Acls
        + Schemas
        + ShareStates
        + ?Sized
{
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn store() -> (tempfile::TempDir, Arc<dyn Metastore>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/meta.db", dir.path().display());
        let store = crate::open(&url).await.expect("open");
        (dir, store)
    }

    /// An `Arc<dyn Metastore>` hands each service only the capability it needs, and every view reaches the
    /// same store.
    #[tokio::test]
    async fn the_umbrella_upcasts_to_each_capability() {
        let (_dir, store) = store().await;
        let catalog: Arc<dyn Catalog> = store.clone();
        let id = catalog.cluster_id().await.expect("cluster id");
        let topic = crate::NewTopic {
            name: "up".into(),
            id: uuid::Uuid::new_v4(),
            partitions: 1,
            configs: Default::default(),
            created_ms: 0,
        };
        let created = catalog.create_topic(topic).await.expect("create");
        let log: Arc<dyn Log> = store.clone();
        assert!(log.partition_offsets(created.id, 0).await.expect("offsets").is_some());
        let groups: Arc<dyn Groups> = store.clone();
        assert!(groups.groups_with_offsets().await.expect("groups").is_empty());
        let producers: Arc<dyn Producers> = store.clone();
        assert!(producers.allocate_producer_id().await.expect("id") >= 0);
        let txns: Arc<dyn Transactions> = store.clone();
        assert_eq!(txns.transaction("none").await.expect("txn"), None);
        let objects: Arc<dyn Objects> = store.clone();
        assert!(objects.dead_objects(i64::MAX, 10).await.expect("dead").is_empty());
        let leases: Arc<dyn Leases> = store.clone();
        assert!(leases.acquire_lease("l", "me", 0, 10).await.expect("lease"));
        let maintenance: Arc<dyn LogMaintenance> = store.clone();
        assert_eq!(maintenance.partition_storage(created.id).await.expect("storage").len(), 1);
        let health: Arc<dyn Health> = store.clone();
        health.ping().await.expect("ping");
        assert_eq!(catalog.cluster_id().await.expect("cluster id"), id);
        // References upcast too.
        let whole: &dyn Metastore = &*store;
        let by_ref: &dyn Catalog = whole;
        assert!(by_ref.topic("up").await.expect("topic").is_some());
    }
}
