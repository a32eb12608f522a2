//! The Weft agent: it wires the services of one agent together and speaks Kafka's APIs over them.
//!
//! A request travels: listener session (`weft-listener`) → [`dispatch`] (decode, one [`request::RequestContext`],
//! route) → a handler in [`handlers`] (authorize each resource, call services) → response. The services
//! own their state and live in their own crates: the partition log (`weft-log`: produce buffer, flusher,
//! committer, reader, high-watermark watch), the group coordinator (`weft-groups`), the transaction
//! coordinator (`weft-txn`), the topic cache and configs (`weft-topics`) and the maintenance loop
//! (`weft-maintenance`). State of record lives in the
//! metastore and the object store; what an agent holds in memory can be rebuilt from them.

/// The agent's configuration, declared in the `weft-config` crate.
pub mod config {
    pub use weft_config::*;
}
mod admin_audit;
mod authorizer;
mod client_traffic;
mod dispatch;
mod error;
mod handlers;
mod health;
mod http;
mod in_process;
mod legacy;
mod listeners;
mod membership;
mod metrics;
mod peers;
mod request;
mod routing;
mod sasl;
mod server;
mod share;
mod store_setup;
mod throttle;

/// Injected sources of time and ids (re-exported for tests that drive an agent deterministically).
pub mod clock {
    pub use weft_clock::*;
}

pub use config::AgentConfig;
pub use server::{RunningAgent, start, start_on, start_with};

use std::sync::Arc;
use weft_clock::{Clock, IdSource};
use weft_meta::Metastore;
use weft_storage::ObjectStorage;

/// The services of one agent, handed to every connection. Each field is a service that owns its state;
/// handlers call them, they never call handlers.
pub(crate) struct Agent {
    pub config: AgentConfig,
    pub meta: Arc<dyn Metastore>,
    pub storage: ObjectStorage,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub cluster_id: String,
    /// Where clients of each listener are told to connect (advertised.listeners), in configuration order.
    pub advertised: Vec<weft_meta::AgentEndpoint>,
    /// The TLS acceptor of SSL and SASL_SSL listeners and of the admin listener with `--admin-ssl`.
    pub tls: Option<Arc<weft_tls::Tls>>,
    pub topics: Arc<weft_topics::TopicCache>,
    /// Schemas by id and the ids of subjects, for broker-side schema validation.
    pub schemas: Arc<weft_registry::ids::SchemaIds>,
    /// High watermarks of partitions, for fetches waiting on new data.
    pub partitions: Arc<weft_log::PartitionWatch>,
    /// The write side of the log: buffer, flusher and committer.
    pub produce: weft_log::ProduceBuffer,
    /// The read side of the log.
    pub reader: weft_log::LogReader,
    pub groups: Arc<weft_groups::Coordinator>,
    /// Groups' dynamic configs (the GROUP config resource) over the broker's group defaults.
    pub group_configs: Arc<weft_groups::config::GroupConfigCache>,
    pub txns: weft_txn::TxnCoordinator,
    /// Bytes of requests being read, over all connections (queued.max.request.bytes).
    pub request_budget: weft_listener::RequestBudget,
    /// Whether writes to the object store and the metastore work (readiness).
    pub health: Arc<weft_log::health::Health>,
    /// The live agents and the coordinator shards this agent holds.
    pub cluster: membership::Cluster,
    /// SASL authentication of the Kafka listener, when its security protocol requires it.
    pub sasl: Option<Arc<sasl::Authenticator>>,
    /// Client quotas in force and the rates of the clients they apply to.
    pub quotas: Arc<weft_quota::QuotaManager>,
    /// The ACL authorizer (`--authorizer acl`); `None` allows everything.
    pub authorizer: Option<Arc<authorizer::AclAuthorizer>>,
    /// Where authentications, denials and admin changes are recorded (`--audit-log`; always counted in metrics).
    pub audit: Arc<weft_audit::AuditLog>,
    /// Share groups (KIP-932): their coordinator, the share partitions led here and the share sessions.
    pub share: share::Share,
    /// Per-client-id produce observations for `weft advise` (admin HTTP `/v1/clients`).
    pub client_traffic: client_traffic::ClientTraffic,
}

impl Agent {
    /// This agent's advertised endpoint on `listener`, if it has that listener.
    pub(crate) fn advertised_on(&self, listener: &str) -> Option<&weft_meta::AgentEndpoint> {
        self.advertised.iter().find(|e| e.listener == listener)
    }
}
