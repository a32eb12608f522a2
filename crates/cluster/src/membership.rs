//! This agent's registration in the metastore's agent registry and its view of the live agents.
//!
//! At start the agent registers (taking a free node id when none is configured) and gets a generation;
//! every heartbeat interval it renews its heartbeat and rereads the live agents. A heartbeat refused
//! because a newer incarnation of the node id registered fences this one: it logs that, stops
//! heartbeating and stops coordinating (see `Shards`). When the registry cannot be read for a whole
//! session timeout the view falls back to this agent alone, which can always serve its clients.

use crate::ClusterError;
use crate::rendezvous::{object_key, owner, partition_key};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;
use weft_clock::Clock;
use weft_meta::{AgentEndpoint, AgentIncarnation, AgentRegistration, Agents};

/// The generation of an agent that never registered (registered generations start at 1).
const UNREGISTERED: i64 = 0;

/// How this agent registers and how often it heartbeats.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// The configured node id; `None` takes a free one from the registry.
    pub node_id: Option<i32>,
    pub host: String,
    pub port: i32,
    /// The advertised endpoint of each named listener (`host`/`port` are the first).
    pub listeners: Vec<AgentEndpoint>,
    /// Empty when not configured.
    pub zone: String,
    /// Whether this agent serves Kafka clients (is a broker).
    pub kafka: bool,
    /// Role names, as registered.
    pub roles: Vec<String>,
    pub heartbeat_interval: Duration,
    /// An agent without a heartbeat for this long is dead.
    pub session_timeout: Duration,
    /// `HOST:PORT` where agents of this zone read objects from this one; `None` when it serves none.
    pub peer_endpoint: Option<String>,
}

/// A live agent that serves Kafka clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub node_id: i32,
    /// Where clients reach it: its first listener's endpoint, or in a view for one listener
    /// ([`View::on_listener`]) that listener's.
    pub host: String,
    pub port: i32,
    /// Empty when the agent has no zone.
    pub zone: String,
    /// Where agents of its zone read objects from it (`None`: it serves none, so it owns no objects).
    pub peer_endpoint: Option<String>,
    /// Its advertised endpoint per listener name.
    pub endpoints: Vec<AgentEndpoint>,
}

/// The live brokers as this agent last saw them, by node id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub brokers: Vec<Member>,
}

impl View {
    /// The brokers as clients of listener `name` see them: those with that listener, at its endpoint. Agents
    /// without it are left out, as Kafka leaves out brokers without the request's listener.
    pub fn on_listener(&self, name: &str) -> View {
        let brokers = self
            .brokers
            .iter()
            .filter_map(|m| {
                let e = m.endpoints.iter().find(|e| e.listener == name)?;
                Some(Member { host: e.host.clone(), port: e.port, ..m.clone() })
            })
            .collect();
        View { brokers }
    }

    /// The brokers a client of `zone` is given: those of its zone when there are any, else all.
    pub fn for_zone(&self, zone: Option<&str>) -> Vec<&Member> {
        let local: Vec<&Member> = match zone {
            Some(z) => self.brokers.iter().filter(|m| m.zone == z).collect(),
            None => Vec::new(),
        };
        if local.is_empty() { self.brokers.iter().collect() } else { local }
    }

    /// The leader of a partition among `brokers` (a subset of this view), by rendezvous hashing.
    pub fn leader(brokers: &[&Member], topic_id: Uuid, partition: i32) -> Option<i32> {
        owner(partition_key(topic_id, partition), brokers.iter().map(|m| m.node_id))
    }

    /// The coordinator of a shard: rendezvous over every live broker, whatever its zone.
    pub fn shard_owner(&self, shard: u32) -> Option<i32> {
        owner(crate::shards::shard_key(shard), self.brokers.iter().map(|m| m.node_id))
    }

    pub fn member(&self, node_id: i32) -> Option<&Member> {
        self.brokers.iter().find(|m| m.node_id == node_id)
    }

    /// The agent of `zone` that reads the object `key` from the store for its zone: rendezvous over the
    /// live brokers of that zone (agents without a zone form one zone) that serve peer reads.
    pub fn object_owner(&self, zone: &str, key: &str) -> Option<&Member> {
        let owners = self.brokers.iter().filter(|m| m.zone == zone && m.peer_endpoint.is_some());
        let node = owner(object_key(key), owners.map(|m| m.node_id))?;
        self.member(node)
    }
}

/// This agent's place in the cluster: its incarnation and its view of the others.
pub struct Membership {
    registry: Arc<dyn Agents>,
    clock: Arc<dyn Clock>,
    config: MembershipConfig,
    me: AgentIncarnation,
    view: watch::Sender<Arc<View>>,
    fenced: AtomicBool,
    /// When the registry was last read successfully (ms).
    last_read_ms: AtomicI64,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Membership {
    /// Registers this agent (its first heartbeat) and reads the live agents once.
    pub async fn register(
        registry: Arc<dyn Agents>,
        clock: Arc<dyn Clock>,
        config: MembershipConfig,
    ) -> Result<Arc<Membership>, ClusterError> {
        let now = clock.now_ms();
        let registration = AgentRegistration {
            node_id: config.node_id,
            host: config.host.clone(),
            port: config.port,
            zone: config.zone.clone(),
            roles: config.roles.clone(),
            listeners: config.listeners.clone(),
            started_ms: now,
            peer_endpoint: config.peer_endpoint.clone(),
        };
        let ttl = millis(config.session_timeout);
        let me = registry.register_agent(&registration, now, ttl).await.map_err(|source| ClusterError::Register {
            node: config.node_id.map_or_else(|| "with a generated id".to_string(), |n| n.to_string()),
            source,
        })?;
        tracing::info!(node_id = me.node_id, generation = me.generation, zone = %config.zone, "agent registered");
        let membership = Arc::new(Membership {
            registry,
            clock,
            config,
            me,
            view: watch::channel(Arc::new(View::default())).0,
            fenced: AtomicBool::new(false),
            last_read_ms: AtomicI64::new(now),
        });
        membership.view.send_replace(Arc::new(membership.alone()));
        membership.refresh().await;
        Ok(membership)
    }

    /// A membership that could not register (the registry refuses writes, e.g. a read-only metastore): the
    /// agent serves alone under its configured id (or 0), never heartbeats, and coordinates nothing (it is
    /// fenced from the start) until it is restarted on a writable store. Reads keep working meanwhile.
    pub fn unregistered(registry: Arc<dyn Agents>, clock: Arc<dyn Clock>, config: MembershipConfig) -> Arc<Membership> {
        let now = clock.now_ms();
        let me = AgentIncarnation { node_id: config.node_id.unwrap_or(0), generation: UNREGISTERED };
        let membership = Arc::new(Membership {
            registry,
            clock,
            config,
            me,
            view: watch::channel(Arc::new(View::default())).0,
            fenced: AtomicBool::new(true),
            last_read_ms: AtomicI64::new(now),
        });
        membership.view.send_replace(Arc::new(membership.alone()));
        membership
    }

    pub fn node_id(&self) -> i32 {
        self.me.node_id
    }

    pub fn incarnation(&self) -> AgentIncarnation {
        self.me
    }

    pub fn config(&self) -> &MembershipConfig {
        &self.config
    }

    /// The current view of the live brokers.
    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// Whether a newer incarnation of this node id registered.
    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    fn myself(&self) -> Member {
        Member {
            node_id: self.me.node_id,
            host: self.config.host.clone(),
            port: self.config.port,
            zone: self.config.zone.clone(),
            peer_endpoint: self.config.peer_endpoint.clone(),
            endpoints: self.config.listeners.clone(),
        }
    }

    /// The view of this agent alone (no broker if it does not serve Kafka clients).
    fn alone(&self) -> View {
        View { brokers: if self.config.kafka { vec![self.myself()] } else { Vec::new() } }
    }

    /// Heartbeats and refreshes the view every heartbeat interval, until the task is aborted.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(this.config.heartbeat_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                this.beat().await;
            }
        })
    }

    /// One round: heartbeat, then reread the live agents.
    pub async fn beat(&self) {
        self.heartbeat().await;
        self.refresh().await;
    }

    async fn heartbeat(&self) {
        if self.is_fenced() {
            return;
        }
        let call = self.registry.heartbeat_agent(self.me, self.clock.now_ms());
        match tokio::time::timeout(self.config.heartbeat_interval, call).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                self.fenced.store(true, Ordering::SeqCst);
                tracing::error!(
                    node_id = self.me.node_id,
                    generation = self.me.generation,
                    "agent fenced: a newer incarnation of this node id registered (or this one was deregistered); \
                     this agent no longer heartbeats or coordinates groups and transactions; restart it with a \
                     node id of its own"
                );
            }
            Ok(Err(e)) => tracing::warn!(node_id = self.me.node_id, error = %e, "agent heartbeat failed"),
            Err(_) => tracing::warn!(node_id = self.me.node_id, "agent heartbeat timed out"),
        }
    }

    /// Rereads the live agents. This agent is always in its own view unless fenced (its heartbeat may be
    /// late in the registry while it is serving).
    pub async fn refresh(&self) {
        if self.me.generation == UNREGISTERED {
            return; // alone, as it started
        }
        let now = self.clock.now_ms();
        let ttl = millis(self.config.session_timeout);
        let read = tokio::time::timeout(self.config.heartbeat_interval, self.registry.live_agents(now, ttl)).await;
        let view = match read {
            Ok(Ok(agents)) => {
                self.last_read_ms.store(now, Ordering::SeqCst);
                let mut brokers: Vec<Member> = agents
                    .into_iter()
                    .filter(|a| a.roles.iter().any(|r| r == "kafka"))
                    .filter(|a| {
                        !(self.is_fenced() && a.node_id == self.me.node_id && a.generation == self.me.generation)
                    })
                    .map(|a| Member {
                        node_id: a.node_id,
                        host: a.host,
                        port: a.port,
                        zone: a.zone,
                        peer_endpoint: a.peer_endpoint,
                        endpoints: a.listeners,
                    })
                    .collect();
                if self.config.kafka && !self.is_fenced() && !brokers.iter().any(|m| m.node_id == self.me.node_id) {
                    brokers.push(self.myself());
                    brokers.sort_by_key(|m| m.node_id);
                }
                View { brokers }
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_string(),
                };
                if now.saturating_sub(self.last_read_ms.load(Ordering::SeqCst)) <= ttl {
                    tracing::warn!(error = %reason, "reading the agent registry failed; keeping the last view");
                    return;
                }
                tracing::warn!(error = %reason, "agent registry unreadable for a session timeout; serving alone");
                self.alone()
            }
        };
        // Set on every refresh, not only on a change: the first view may equal the initial one.
        metrics::gauge!("weft_cluster_brokers").set(view.brokers.len() as f64);
        self.view.send_if_modified(|v| {
            let changed = **v != view;
            if changed {
                tracing::info!(brokers = ?view.brokers.iter().map(|m| m.node_id).collect::<Vec<_>>(), "live agents changed");
                *v = Arc::new(view);
            }
            changed
        });
    }

    /// Marks this incarnation stopped so others take over at once (graceful shutdown).
    pub async fn deregister(&self) {
        let call = self.registry.deregister_agent(self.me, self.clock.now_ms());
        match tokio::time::timeout(self.config.heartbeat_interval, call).await {
            Ok(Ok(_)) => tracing::info!(node_id = self.me.node_id, "agent deregistered"),
            Ok(Err(e)) => tracing::warn!(error = %e, "deregistering the agent failed; it expires after the session"),
            Err(_) => tracing::warn!("deregistering the agent timed out; it expires after the session timeout"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(node_id: i32, zone: &str, peer: bool) -> Member {
        Member {
            node_id,
            host: "10.0.0.1".into(),
            port: 9092 + node_id,
            zone: zone.into(),
            endpoints: Vec::new(),
            peer_endpoint: peer.then(|| format!("10.0.0.1:{}", 9500 + node_id)),
        }
    }

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("v1/segments/{:013}-{:016x}.seg", 1_700_000_000_000u64 + i as u64, i)).collect()
    }

    #[test]
    fn objects_are_owned_within_the_zone_by_agents_serving_peers() {
        let view = View {
            brokers: vec![member(0, "a", true), member(1, "a", true), member(2, "a", false), member(3, "b", true)],
        };
        let mut owned = [0usize; 4];
        for key in keys(3000) {
            let owner = view.object_owner("a", &key).expect("zone a has owners").node_id;
            owned[owner as usize] += 1;
            assert_eq!(view.object_owner("b", &key).map(|m| m.node_id), Some(3), "zone b has one owner");
        }
        assert_eq!((owned[2], owned[3]), (0, 0), "no endpoint or another zone: never an owner");
        assert!(owned[0] > 1300 && owned[1] > 1300, "spread evenly: {owned:?}");
        assert_eq!(view.object_owner("c", &keys(1)[0]), None, "a zone without live owners");
    }

    #[test]
    fn agents_without_a_zone_form_one_zone() {
        let view = View { brokers: vec![member(0, "", true), member(1, "", true), member(2, "a", true)] };
        for key in keys(200) {
            let owner = view.object_owner("", &key).expect("owner").node_id;
            assert!(owner == 0 || owner == 1);
        }
    }

    #[test]
    fn every_agent_with_the_same_view_names_the_same_owner() {
        let one = View { brokers: vec![member(0, "a", true), member(1, "a", true), member(2, "a", true)] };
        let mut reordered = one.clone();
        reordered.brokers.reverse();
        for key in keys(500) {
            assert_eq!(one.object_owner("a", &key), reordered.object_owner("a", &key));
        }
    }
}
