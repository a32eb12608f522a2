//! This agent's place in the cluster as handlers see it: the live brokers (for Metadata, DescribeCluster and
//! leader hints), who coordinates a key (FindCoordinator) and whether this agent may serve a key now.

use crate::config::AgentConfig;
use kafka_protocol::ResponseError;
use std::sync::Arc;
use uuid::Uuid;
use weft_clock::Clock;
use weft_cluster::{Member, Membership, MembershipConfig, ShardListener, Shards, View, shard_of};
use weft_groups::Coordinator;
use weft_meta::Metastore;

/// Registers this agent and sets up its coordinator shards.
pub(crate) async fn join(
    config: &AgentConfig,
    meta: Arc<dyn Metastore>,
    clock: Arc<dyn Clock>,
    advertised: &[weft_meta::AgentEndpoint],
    peer_endpoint: Option<String>,
    groups: Arc<Coordinator>,
) -> Result<Cluster, weft_cluster::ClusterError> {
    let settings = MembershipConfig {
        node_id: config.node_id,
        host: advertised.first().map(|e| e.host.clone()).unwrap_or_default(),
        port: advertised.first().map_or(0, |e| e.port),
        listeners: advertised.to_vec(),
        zone: config.zone.clone().unwrap_or_default(),
        kafka: config.roles.kafka,
        roles: config.roles.names().into_iter().map(str::to_string).collect(),
        heartbeat_interval: config.broker_heartbeat_interval,
        session_timeout: config.broker_session_timeout,
        peer_endpoint,
    };
    let membership = match Membership::register(meta.clone(), clock.clone(), settings.clone()).await {
        Ok(membership) => membership,
        Err(e) => {
            // A read-only or failing metastore: serve reads alone (readiness says why) rather than not start.
            tracing::error!(error = %e, "cannot register in the agent registry; serving alone, coordinating no groups or transactions, until restarted");
            Membership::unregistered(meta.clone(), clock.clone(), settings)
        }
    };
    let gained_ms: GainedAt = Default::default();
    let hooks = CoordinatorShards {
        held: Default::default(),
        groups: groups.clone(),
        store: meta.clone(),
        clock: clock.clone(),
        gained_ms: gained_ms.clone(),
    };
    let shards = Shards::new(membership.clone(), meta, clock, Arc::new(hooks));
    // Group state is written only under the group's shard lease (weak: the shards' listener holds `groups`).
    let fence_shards = Arc::downgrade(&shards);
    groups.set_fence(Arc::new(move |group: &str| fence_shards.upgrade().and_then(|s| s.fence_for(group))));
    Ok(Cluster { membership, shards, gained_ms })
}

/// What follows a coordinator shard moving: the group coordinator drops the groups of a shard it lost
/// (writing nothing; the new owner loads them) and loads every stored group of a shard it gained, as Kafka's
/// coordinator loads a partition of its offsets topic, so members of groups nobody names again still time
/// out. The shards held are the metric `weft_coordinator_shards`.
struct CoordinatorShards {
    held: std::sync::atomic::AtomicI64,
    groups: Arc<Coordinator>,
    store: Arc<dyn Metastore>,
    clock: Arc<dyn Clock>,
    gained_ms: GainedAt,
}

/// When (ms) this agent gained each coordinator shard it holds.
type GainedAt = Arc<std::sync::Mutex<std::collections::HashMap<u32, i64>>>;

fn gained_map(m: &GainedAt) -> std::sync::MutexGuard<'_, std::collections::HashMap<u32, i64>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ShardListener for CoordinatorShards {
    fn shard_gained(&self, shard: u32) {
        gained_map(&self.gained_ms).insert(shard, self.clock.now_ms());
        let held = self.held.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        metrics::gauge!("weft_coordinator_shards").set(held as f64);
        let (groups, store) = (self.groups.clone(), self.store.clone());
        tokio::spawn(async move {
            let stored = match store.list_group_states().await {
                Ok(stored) => stored,
                Err(e) => {
                    // Each group still loads when a request names it.
                    tracing::warn!(shard, error = %e, "listing stored groups of a gained shard failed");
                    return;
                }
            };
            for record in stored.into_iter().filter(|r| shard_of(&r.group) == shard) {
                if let Err(e) = groups.load(&record.group).await {
                    tracing::warn!(shard, group = %record.group, error = %e, "loading a group of a gained shard failed");
                }
            }
        });
    }

    fn renewed(&self, held: &dyn Fn(u32) -> bool) {
        let evicted = self.groups.evict(|group| !held(shard_of(group)));
        if evicted > 0 {
            tracing::info!(evicted, "dropped groups of shards this agent does not hold (a load raced a shard move)");
        }
    }

    fn shard_lost(&self, shard: u32) {
        gained_map(&self.gained_ms).remove(&shard);
        let held = self.held.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) - 1;
        metrics::gauge!("weft_coordinator_shards").set(held as f64);
        let evicted = self.groups.evict(|group| shard_of(group) == shard);
        tracing::info!(shard, evicted, "coordinator shard lost; its groups are coordinated elsewhere now");
    }
}

/// Membership and coordinator shards of one agent.
pub(crate) struct Cluster {
    pub membership: Arc<Membership>,
    pub shards: Arc<Shards>,
    gained_ms: GainedAt,
}

impl Cluster {
    pub fn node_id(&self) -> i32 {
        self.membership.node_id()
    }

    pub fn view(&self) -> Arc<View> {
        self.membership.view()
    }

    /// The live brokers as clients of `listener` see them (those with that listener, at its endpoint).
    pub fn view_on(&self, listener: &str) -> View {
        self.membership.view().on_listener(listener)
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

    /// The one agent that serves share partition `(topic_id, partition)` to every share group: rendezvous over
    /// all live brokers whatever their zone (a share partition's state must have one writer cluster-wide);
    /// the Metadata leader whenever clients name no zone. This agent when it sees no live broker.
    pub fn share_owner(&self, topic_id: Uuid, partition: i32) -> i32 {
        let view = self.view();
        let all: Vec<&Member> = view.brokers.iter().collect();
        View::leader(&all, topic_id, partition).unwrap_or_else(|| self.node_id())
    }

    /// Since when (ms) this agent has held the coordinator shard of `key`; `None` when it does not hold it.
    pub fn shard_held_since(&self, key: &str) -> Option<i64> {
        gained_map(&self.gained_ms).get(&shard_of(key)).copied()
    }

    /// The agent coordinating the group or transactional id `key`, by this agent's view, at its endpoint on
    /// `listener`; `None` when no agent is live or the coordinator lacks that listener.
    pub fn coordinator(&self, key: &str, listener: &str) -> Option<Member> {
        let view = self.view();
        let owner = view.shard_owner(shard_of(key))?;
        view.on_listener(listener).member(owner).cloned()
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
