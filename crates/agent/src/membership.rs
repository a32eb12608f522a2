//! This agent's place in the cluster as handlers see it: the live brokers (for Metadata, DescribeCluster and
//! leader hints), who coordinates a key (FindCoordinator) and whether this agent may serve a key now.

use crate::config::AgentConfig;
use kafka_protocol::ResponseError;
use std::sync::Arc;
use uuid::Uuid;
use weft_clock::Clock;
use weft_cluster::{Member, Membership, MembershipConfig, ShardListener, Shards, View, shard_of};
use weft_meta::Metastore;

/// Registers this agent and sets up its coordinator shards.
pub(crate) async fn join(
    config: &AgentConfig,
    meta: Arc<dyn Metastore>,
    clock: Arc<dyn Clock>,
    host: &str,
    port: i32,
) -> Result<Cluster, weft_cluster::ClusterError> {
    let settings = MembershipConfig {
        node_id: config.node_id,
        host: host.to_string(),
        port,
        zone: config.zone.clone().unwrap_or_default(),
        kafka: config.roles.kafka,
        roles: config.roles.names().into_iter().map(str::to_string).collect(),
        heartbeat_interval: config.broker_heartbeat_interval,
        session_timeout: config.broker_session_timeout,
    };
    let membership = Membership::register(meta.clone(), clock.clone(), settings).await?;
    let shards = Shards::new(membership.clone(), meta, clock, Arc::new(ShardGauge::default()));
    Ok(Cluster { membership, shards })
}

/// Counts the coordinator shards held, as the metric `weft_coordinator_shards`.
#[derive(Default)]
struct ShardGauge(std::sync::atomic::AtomicI64);

impl ShardListener for ShardGauge {
    fn shard_gained(&self, _shard: u32) {
        let held = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        metrics::gauge!("weft_coordinator_shards").set(held as f64);
    }

    fn shard_lost(&self, _shard: u32) {
        let held = self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) - 1;
        metrics::gauge!("weft_coordinator_shards").set(held as f64);
    }
}

/// Membership and coordinator shards of one agent.
pub(crate) struct Cluster {
    pub membership: Arc<Membership>,
    pub shards: Arc<Shards>,
}

impl Cluster {
    pub fn node_id(&self) -> i32 {
        self.membership.node_id()
    }

    pub fn view(&self) -> Arc<View> {
        self.membership.view()
    }

    /// The brokers a client of `zone` is given (its zone's when any are live, else all).
    pub fn brokers_for(view: &View, zone: Option<&str>) -> Vec<Member> {
        view.for_zone(zone).into_iter().cloned().collect()
    }

    /// The leader of a partition among `brokers`; this agent when the list is empty (it serves every
    /// partition).
    pub fn leader(&self, brokers: &[Member], topic_id: Uuid, partition: i32) -> i32 {
        let refs: Vec<&Member> = brokers.iter().collect();
        View::leader(&refs, topic_id, partition).unwrap_or_else(|| self.node_id())
    }

    /// The agent coordinating the group or transactional id `key`, by this agent's view.
    pub fn coordinator(&self, key: &str) -> Option<Member> {
        let view = self.view();
        view.shard_owner(shard_of(key)).and_then(|n| view.member(n).cloned())
    }

    /// `None` when this agent coordinates `key` now; else the error to answer: NOT_COORDINATOR when another
    /// agent owns it (the client finds it again), COORDINATOR_LOAD_IN_PROGRESS when this agent owns it but
    /// does not hold its lease yet (the client retries here).
    pub fn refusal(&self, key: &str) -> Option<i16> {
        let shard = shard_of(key);
        if self.shards.holds(shard) && !self.membership.is_fenced() {
            return None;
        }
        let owner = self.view().shard_owner(shard);
        if owner == Some(self.node_id()) && !self.membership.is_fenced() {
            Some(ResponseError::CoordinatorLoadInProgress.code())
        } else {
            Some(ResponseError::NotCoordinator.code())
        }
    }
}
