//! Coordinator shards: group ids and transactional ids hash into [`SHARDS`] shards (as Kafka hashes them
//! into its 50 offsets-topic partitions). Each shard's owner is chosen by rendezvous over the live
//! brokers; the owner takes and renews the lease `coordinator-<shard>` and serves the shard only while it
//! holds it, so two agents whose views disagree never both coordinate a key: the second one's lease is
//! refused until the first one's expires. A [`ShardListener`] hears when a shard is gained or lost, so
//! coordinator state can be loaded or evicted.

use crate::Membership;
use crate::rendezvous::hash_bytes;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use weft_clock::Clock;
use weft_meta::Leases;

/// How many coordinator shards keys are spread over.
pub const SHARDS: u32 = 50;

/// The shard of a group id or transactional id.
pub fn shard_of(key: &str) -> u32 {
    (hash_bytes(key.as_bytes()) % u64::from(SHARDS)) as u32
}

/// The rendezvous key of a shard.
pub(crate) fn shard_key(shard: u32) -> u64 {
    hash_bytes(lease_name(shard).as_bytes())
}

/// The lease holder of one incarnation of a node.
fn holder_name(node_id: i32, generation: i64) -> String {
    format!("agent-{node_id}-generation-{generation}")
}

fn lease_name(shard: u32) -> String {
    format!("coordinator-{shard}")
}

/// Told when this agent starts or stops coordinating a shard. Called from the renewal task; keep it quick.
pub trait ShardListener: Send + Sync + 'static {
    fn shard_gained(&self, shard: u32);
    fn shard_lost(&self, shard: u32);
    /// After every renewal round, with which shards are held now: a listener drops whatever state of shards
    /// not held slipped in meanwhile (e.g. a load that raced a shard move).
    fn renewed(&self, _held: &dyn Fn(u32) -> bool) {}
}

/// A listener that ignores shard changes.
impl ShardListener for () {
    fn shard_gained(&self, _: u32) {}
    fn shard_lost(&self, _: u32) {}
}

/// The coordinator shards this agent holds a lease on.
pub struct Shards {
    membership: Arc<Membership>,
    leases: Arc<dyn Leases>,
    clock: Arc<dyn Clock>,
    /// This incarnation, as lease holder (an older incarnation of the node id is a different holder).
    holder: String,
    /// Shards held, with when the lease ends by this agent's clock (counted from before the renewal).
    held: Mutex<BTreeMap<u32, i64>>,
    listener: Arc<dyn ShardListener>,
}

impl Shards {
    pub fn new(
        membership: Arc<Membership>,
        leases: Arc<dyn Leases>,
        clock: Arc<dyn Clock>,
        listener: Arc<dyn ShardListener>,
    ) -> Arc<Shards> {
        let me = membership.incarnation();
        let holder = holder_name(me.node_id, me.generation);
        Arc::new(Shards { membership, leases, clock, holder, held: Mutex::new(BTreeMap::new()), listener })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, i64>> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether this agent coordinates `shard` now (holds its unexpired lease).
    pub fn holds(&self, shard: u32) -> bool {
        let now = self.clock.now_ms();
        self.held().get(&shard).is_some_and(|until| now < *until)
    }

    /// Ends the coordinator leases still held by this node's earlier incarnations, which this registration
    /// fenced (an agent restarted in place: its predecessor is dead or can no longer heartbeat, and its
    /// writes of group state and offsets are refused by the lease fence). Without this, a restarted agent
    /// would answer COORDINATOR_LOAD_IN_PROGRESS for a whole session timeout, long enough for its clients'
    /// sessions to expire. Leases held by other agents are untouched. Call before the first renewal.
    pub async fn take_over_from_predecessors(&self) {
        let me = self.membership.incarnation();
        let names: Vec<String> = (0..SHARDS).map(lease_name).collect();
        let timeout = self.membership.config().heartbeat_interval;
        // A few generations back covers restarts quicker than a lease; older ones expired long ago.
        for generation in me.generation.saturating_sub(3).max(1)..me.generation {
            let old = holder_name(me.node_id, generation);
            // Renewed as the predecessor to end a millisecond ago: only rows it holds change hands.
            let end = self.leases.acquire_leases(&names, &old, self.clock.now_ms(), -1);
            match tokio::time::timeout(timeout, end).await {
                Ok(Ok(ended)) if !ended.is_empty() => {
                    tracing::info!(predecessor = %old, "ended any coordinator leases of this node's previous incarnation");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(predecessor = %old, error = %e, "ending a previous incarnation's leases failed")
                }
                Err(_) => tracing::warn!(predecessor = %old, "ending a previous incarnation's leases timed out"),
            }
        }
    }

    /// The fence of a write about `key` (a group's state): this agent's lease on the key's shard, or `None`
    /// when it does not hold that shard now.
    pub fn fence_for(&self, key: &str) -> Option<weft_meta::LeaseFence> {
        let shard = shard_of(key);
        self.holds(shard).then(|| weft_meta::LeaseFence {
            name: lease_name(shard),
            holder: self.holder.clone(),
            now_ms: self.clock.now_ms(),
        })
    }

    /// Whether this agent coordinates the group or transactional id `key` now.
    pub fn owns_key(&self, key: &str) -> bool {
        self.holds(shard_of(key))
    }

    /// Renews the leases of the shards this agent owns every heartbeat interval, until aborted.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(this.membership.config().heartbeat_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                this.renew().await;
            }
        })
    }

    /// One round: take or renew the lease of every shard this agent owns in its view (all in one metastore
    /// statement, so a slow store costs one timeout, not one per shard), give up the others.
    pub async fn renew(&self) {
        let view = self.membership.view();
        let me = self.membership.node_id();
        let ttl = i64::try_from(self.membership.config().session_timeout.as_millis()).unwrap_or(i64::MAX);
        let timeout = self.membership.config().heartbeat_interval;
        let mut mine = Vec::new();
        for shard in 0..SHARDS {
            if !self.membership.is_fenced() && view.shard_owner(shard) == Some(me) {
                mine.push(shard);
            } else {
                self.lose(shard);
            }
        }
        let names: Vec<String> = mine.iter().map(|&s| lease_name(s)).collect();
        let started = self.clock.now_ms();
        let take = self.leases.acquire_leases(&names, &self.holder, started, ttl);
        match tokio::time::timeout(timeout, take).await {
            Ok(Ok(taken)) => {
                for (shard, name) in mine.iter().zip(&names) {
                    if !taken.contains(name) {
                        self.lose(*shard);
                    } else if self.held().insert(*shard, started.saturating_add(ttl)).is_none() {
                        tracing::info!(shard, node_id = me, "coordinator shard gained");
                        self.listener.shard_gained(*shard);
                    }
                }
            }
            Ok(Err(e)) => tracing::warn!(shards = mine.len(), error = %e, "renewing the coordinator leases failed"),
            Err(_) => tracing::warn!(shards = mine.len(), "renewing the coordinator leases timed out"),
        }
        self.drop_expired();
        self.listener.renewed(&|shard| self.holds(shard));
    }

    fn lose(&self, shard: u32) {
        if self.held().remove(&shard).is_some() {
            tracing::info!(shard, "coordinator shard lost");
            self.listener.shard_lost(shard);
        }
    }

    fn drop_expired(&self) {
        let now = self.clock.now_ms();
        let expired: Vec<u32> = self.held().iter().filter(|(_, until)| now >= **until).map(|(s, _)| *s).collect();
        for shard in expired {
            self.lose(shard);
        }
    }

    /// Gives up every shard (at graceful shutdown): each lease is renewed to end now, so the next owner
    /// takes it at once instead of after the session timeout.
    pub async fn release_all(&self) {
        let all: Vec<u32> = self.held().keys().copied().collect();
        for &shard in &all {
            self.lose(shard);
        }
        // One statement under one deadline: with the metastore unreachable, shutdown must not wait per shard.
        let names: Vec<String> = all.iter().map(|&s| lease_name(s)).collect();
        let release = self.leases.acquire_leases(&names, &self.holder, self.clock.now_ms(), 0);
        let timeout = self.membership.config().heartbeat_interval;
        if !matches!(tokio::time::timeout(timeout, release).await, Ok(Ok(_))) {
            tracing::warn!(
                shards = all.len(),
                "releasing the coordinator leases failed or timed out; they expire after the session timeout"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_all_shards() {
        let mut counts = [0u32; SHARDS as usize];
        for i in 0..10_000 {
            counts[shard_of(&format!("group-{i}")) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (150..=250).contains(c)), "{counts:?}");
        assert_eq!(shard_of("orders"), shard_of("orders"));
    }
}
