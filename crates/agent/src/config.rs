//! The agent's resolved configuration (every default is here, once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything an agent needs to start. The CLI fills it from flags, `WEFT_*` variables and a TOML file.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Kafka listener; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Host and port given to clients in Metadata; defaults to the bound listener address.
    pub advertised_listener: Option<String>,
    /// Admin HTTP listener (`/healthz`, `/readyz`); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// The embedded default keeps objects and metadata under this directory.
    pub data_dir: PathBuf,
    /// Object store URL; defaults to `file://<data_dir>/objects`.
    pub object_store: Option<String>,
    /// Metastore URL; defaults to `sqlite://<data_dir>/meta.db`.
    pub metastore: Option<String>,
    /// This agent's broker id in Metadata.
    pub node_id: i32,
    /// A segment is flushed when this many bytes are buffered...
    pub flush_bytes: usize,
    /// ...or when the oldest buffered batch has waited this long.
    pub flush_interval: Duration,
    /// Produce bytes buffered or in flight to storage before sockets stop being read (backpressure).
    pub max_buffered_bytes: usize,
    /// Segment uploads in flight at once (commits stay in order).
    pub max_inflight_flushes: usize,
    /// Largest request frame accepted (Kafka's socket.request.max.bytes).
    pub max_frame_bytes: usize,
    /// Open client connections; further ones are closed at accept.
    pub max_connections: usize,
    /// Kafka's connections.max.idle.ms: a connection with no request in progress and no bytes moved for
    /// this long is closed.
    pub connections_max_idle: Duration,
    /// A client that started a request frame may stall (send no byte of it) for at most this, and must finish
    /// it within `connections_max_idle` of its start (time the agent spends not reading, e.g. waiting for
    /// request budget, does not count). Kafka has no such limit; its idle timeout covers it.
    pub request_read_timeout: Duration,
    /// Kafka's queued.max.request.bytes: bytes of requests being read, over all connections. Frames above
    /// 64 KiB wait for a reservation of their announced size before their body is read; a frame larger
    /// than this is refused.
    pub queued_max_request_bytes: usize,
    /// Open connections of the admin HTTP listener; it stops accepting at this many.
    pub admin_max_connections: usize,
    /// An admin connection must send a complete request head within this of being accepted or of its
    /// previous response (so it is also the keep-alive idle timeout).
    pub admin_header_timeout: Duration,
    /// How often the agent checks that it can write to the object store and the metastore (readiness).
    pub health_check_interval: Duration,
    /// Requests a single connection may have in progress (pipelining depth).
    pub max_inflight_per_connection: usize,
    /// Upper bound on a fetch's max_wait_ms.
    pub max_fetch_wait: Duration,
    /// Bytes of recently written or read segments kept in memory.
    pub cache_bytes: usize,
    /// Kafka's auto.create.topics.enable.
    pub auto_create_topics: bool,
    /// Kafka's num.partitions, for auto-created topics.
    pub default_partitions: i32,
    /// Kafka's message.max.bytes: the default of the topic config max.message.bytes.
    pub message_max_bytes: i32,
    /// Kafka's group.initial.rebalance.delay.ms.
    pub group_initial_rebalance_delay_ms: u64,
    /// Kafka's group.min.session.timeout.ms and group.max.session.timeout.ms.
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    /// Kafka's group.max.size.
    pub group_max_size: usize,
    /// Kafka's offsets.retention.minutes: committed offsets of groups without members expire after this.
    pub offsets_retention: Duration,
    /// Kafka's producer.id.expiration.ms: idempotent-producer state idle this long is forgotten.
    pub producer_id_expiration: Duration,
    /// Kafka's group.consumer.heartbeat.interval.ms and group.consumer.session.timeout.ms (KIP-848 groups).
    pub group_consumer_heartbeat_interval_ms: i32,
    pub group_consumer_session_timeout_ms: u64,
    /// Kafka's transaction.max.timeout.ms: the largest transaction.timeout.ms a producer may ask for.
    pub transaction_max_timeout_ms: i32,
    /// Kafka's transactional.id.expiration.ms: a transactional id unused this long is forgotten.
    pub transactional_id_expiration: Duration,
    /// Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms: how often transactions past their
    /// timeout are looked for (and aborted) and unfinished commits or aborts are completed.
    pub transaction_check_interval: Duration,
    /// How often the agent holding the maintenance lease runs retention, log compaction, object compaction
    /// and garbage collection. Log compaction becomes visible within this delay plus min.compaction.lag.ms.
    pub maintenance_interval: Duration,
    /// Kafka's log.segment.delete.delay.ms: how long an unreferenced object is kept before it is deleted, so
    /// reads already in flight finish.
    pub gc_grace: Duration,
    /// Uploads never committed (a crash between upload and commit) are deleted once this old.
    pub orphan_grace: Duration,
    /// Flush segments younger than this are not merged by object compaction.
    pub merge_min_age: Duration,
    /// Bytes object compaction copies into one per-partition object at most.
    pub merge_target_bytes: u64,
}

impl AgentConfig {
    /// The embedded default rooted at `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        AgentConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_listener: None,
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9644))),
            data_dir: data_dir.into(),
            object_store: None,
            metastore: None,
            node_id: 0,
            flush_bytes: 8 * 1024 * 1024,
            flush_interval: Duration::from_millis(4),
            max_buffered_bytes: 256 * 1024 * 1024,
            max_inflight_flushes: 8,
            max_frame_bytes: 100 * 1024 * 1024,
            max_connections: 10_000,
            connections_max_idle: Duration::from_secs(600),
            request_read_timeout: Duration::from_secs(60),
            queued_max_request_bytes: 256 * 1024 * 1024,
            admin_max_connections: 64,
            admin_header_timeout: Duration::from_secs(10),
            health_check_interval: Duration::from_secs(1),
            max_inflight_per_connection: 16,
            max_fetch_wait: Duration::from_secs(30),
            cache_bytes: 512 * 1024 * 1024,
            auto_create_topics: true,
            default_partitions: 1,
            message_max_bytes: 1_048_588,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_max_size: usize::MAX,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            producer_id_expiration: Duration::from_secs(24 * 3600),
            group_consumer_heartbeat_interval_ms: 5_000,
            group_consumer_session_timeout_ms: 45_000,
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration: Duration::from_secs(7 * 24 * 3600),
            transaction_check_interval: Duration::from_secs(1),
            maintenance_interval: Duration::from_secs(5),
            gc_grace: Duration::from_secs(60),
            orphan_grace: Duration::from_secs(600),
            merge_min_age: Duration::from_secs(10),
            merge_target_bytes: 16 * 1024 * 1024,
        }
    }

    pub fn object_store_url(&self) -> String {
        self.object_store.clone().unwrap_or_else(|| format!("file://{}", abs(&self.data_dir.join("objects")).display()))
    }

    pub fn metastore_url(&self) -> String {
        self.metastore.clone().unwrap_or_else(|| format!("sqlite://{}", abs(&self.data_dir.join("meta.db")).display()))
    }
}

fn abs(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self::with_data_dir("weft-data")
    }
}
