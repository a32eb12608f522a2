//! The Weft agent: the Kafka listener, request handlers, the produce and fetch paths over object storage,
//! and the admin HTTP endpoint. State of record lives in the metastore and the object store; what an agent
//! holds in memory (topic cache, high-watermark watches, segment cache) can be rebuilt from them.

pub mod clock;
/// The agent's configuration, declared in the `weft-config` crate.
pub mod config {
    pub use weft_config::*;
}
mod conn_timeouts;
mod connection;
mod dispatch;
mod error;
mod fetch;
mod frame_reader;
mod groups;
mod handlers;
mod health;
mod http;
mod legacy;
mod maintenance;
mod metrics;
mod partitions;
mod produce;
mod records;
mod request_budget;
mod server;
pub mod topic_config;
mod topics;
mod txn;

pub use config::AgentConfig;
pub use server::{RunningAgent, start, start_with};

use clock::{Clock, IdSource};
use std::sync::Arc;
use weft_meta::Metastore;
use weft_storage::ObjectStorage;

/// Shared state of one agent, handed to every connection.
pub(crate) struct Agent {
    pub config: AgentConfig,
    pub meta: Arc<dyn Metastore>,
    pub storage: ObjectStorage,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub cluster_id: String,
    /// Host and port clients are told to connect to.
    pub advertised_host: String,
    pub advertised_port: i32,
    pub topics: topics::TopicCache,
    pub partitions: Arc<partitions::PartitionWatch>,
    pub produce: produce::ProduceBuffer,
    pub groups: Arc<groups::Coordinator>,
    pub txns: txn::TxnLocks,
    pub maintenance: maintenance::MaintenanceState,
    /// Bytes of requests being read, over all connections (queued.max.request.bytes).
    pub request_budget: request_budget::RequestBudget,
    /// Whether writes to the object store and the metastore work (readiness).
    pub health: Arc<health::Health>,
}
