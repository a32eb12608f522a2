//! The agent registry: which agents exist, where clients reach them, and which are alive.

use crate::Result;
use async_trait::async_trait;

/// One agent as it registers: where clients reach it and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRegistration {
    /// The node id the agent was configured with; `None` asks the registry for a free one.
    pub node_id: Option<i32>,
    pub host: String,
    pub port: i32,
    /// Availability zone (Kafka's rack); empty when not configured.
    pub zone: String,
    /// Roles, as configured (e.g. `["jobs", "kafka"]`).
    pub roles: Vec<String>,
    /// The advertised endpoint of each named Kafka listener (Kafka's `advertised.listeners`); `host` and
    /// `port` above are the first of them.
    pub listeners: Vec<AgentEndpoint>,
    pub started_ms: i64,
    /// `HOST:PORT` where agents of its zone read objects from it; `None` when it serves none.
    pub peer_endpoint: Option<String>,
}

/// Where clients of one named listener reach an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEndpoint {
    /// The listener name (`PLAINTEXT`, `SSL`, `INTERNAL` ...), upper case.
    pub listener: String,
    pub host: String,
    pub port: i32,
}

/// A registered incarnation of an agent: its node id and the generation that fences older incarnations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentIncarnation {
    pub node_id: i32,
    pub generation: i64,
}

/// A live agent as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub node_id: i32,
    pub generation: i64,
    pub host: String,
    pub port: i32,
    pub zone: String,
    pub roles: Vec<String>,
    /// Its advertised endpoint per listener name. A row registered before listeners were recorded has one,
    /// `PLAINTEXT` at `host:port`.
    pub listeners: Vec<AgentEndpoint>,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    /// As registered (see [`AgentRegistration::peer_endpoint`]).
    pub peer_endpoint: Option<String>,
}

/// What the registry owns: one row per node id with its current generation, address, advertised listeners,
/// zone, roles, peer read endpoint and last heartbeat.
///
/// Invariants: each registration of a node id gets a generation greater than every earlier one of that id,
/// so an older incarnation is fenced (its heartbeats and deregistration fail). A node id asked for with
/// `node_id: None` is the id last registered at the same host and port (the same agent restarted), else
/// one no live agent holds at the moment of registering (ids are reused once free, as agents keep no local
/// state). An agent is live while its last heartbeat is within the TTL the reader
/// passes and it has not deregistered. Each call is atomic on its own.
///
/// Used by: the agent's membership task (register, heartbeat, deregister, live view).
#[async_trait]
pub trait Agents: Send + Sync + 'static {
    /// Registers a new incarnation at `now_ms` (its first heartbeat). A missing node id is allocated: the id
    /// registered at the same host and port if any, else the smallest non-negative id with no agent live
    /// within `ttl_ms`.
    async fn register_agent(&self, agent: &AgentRegistration, now_ms: i64, ttl_ms: i64) -> Result<AgentIncarnation>;

    /// Records a heartbeat; false if this incarnation is fenced (a newer generation registered) or has
    /// deregistered.
    async fn heartbeat_agent(&self, agent: AgentIncarnation, now_ms: i64) -> Result<bool>;

    /// Marks this incarnation stopped (graceful shutdown); false if it was already fenced or stopped.
    async fn deregister_agent(&self, agent: AgentIncarnation, now_ms: i64) -> Result<bool>;

    /// Agents not stopped whose last heartbeat is at or after `now_ms - ttl_ms`, by node id.
    async fn live_agents(&self, now_ms: i64, ttl_ms: i64) -> Result<Vec<AgentRecord>>;
}
