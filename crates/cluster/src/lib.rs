//! Cluster membership of one agent among many sharing a metastore: the registry heartbeat and live view
//! ([`Membership`]), who leads a partition and who coordinates a key ([`rendezvous`]), the client's zone
//! from its client.id ([`zone`]), and the coordinator shards this agent holds a lease on ([`Shards`]).
//!
//! Nothing here is state of record: the registry and the leases live in the metastore; a view that is
//! stale only sends clients to another agent, which serves them too (coordinators excepted, which the
//! leases make exclusive).

mod membership;
pub mod rendezvous;
mod shards;
pub mod zone;

pub use membership::{Member, Membership, MembershipConfig, View};
pub use shards::{SHARDS, ShardListener, Shards, shard_of};

/// Membership could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot register agent {node} in the metastore: {source}")]
    Register { node: String, source: weft_meta::MetaError },
}
