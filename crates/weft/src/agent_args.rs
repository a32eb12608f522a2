//! `weft agent`: flags, `WEFT_*` environment variables and a TOML file, merged in that order of precedence
//! over the defaults of [`AgentConfig`].

use anyhow::{Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use weft_agent::AgentConfig;

/// Every option is also a TOML key (same name with underscores) and a `WEFT_*` variable.
#[derive(clap::Args, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentArgs {
    /// TOML file with any of the options below (keys in snake_case, e.g. `flush_interval_ms = 5`).
    #[arg(long, env = "WEFT_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Kafka listener; port 0 picks a free port [default: 127.0.0.1:9092]
    #[arg(long, env = "WEFT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// HOST:PORT given to clients in Metadata [default: the bound listener address]
    #[arg(long, env = "WEFT_ADVERTISED_LISTENER")]
    pub advertised_listener: Option<String>,
    /// Admin HTTP listener for /healthz and /readyz; "off" disables it [default: 127.0.0.1:9644]
    #[arg(long, env = "WEFT_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// Directory of the embedded default (objects and SQLite metadata) [default: ./weft-data]
    #[arg(long, env = "WEFT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Object store URL: file:///abs/path or memory:// [default: file://<data-dir>/objects]
    #[arg(long, env = "WEFT_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Metastore URL: sqlite:///abs/path.db [default: sqlite://<data-dir>/meta.db]
    #[arg(long, env = "WEFT_METASTORE")]
    pub metastore: Option<String>,
    /// Broker id reported to clients [default: 0]
    #[arg(long, env = "WEFT_NODE_ID")]
    pub node_id: Option<i32>,
    /// Flush a segment once this many bytes are buffered [default: 8388608]
    #[arg(long, env = "WEFT_FLUSH_BYTES")]
    pub flush_bytes: Option<usize>,
    /// Flush a segment once its oldest batch has waited this long [default: 4]
    #[arg(long, env = "WEFT_FLUSH_INTERVAL_MS")]
    pub flush_interval_ms: Option<u64>,
    /// Produce bytes buffered before sockets stop being read [default: 268435456]
    #[arg(long, env = "WEFT_MAX_BUFFERED_BYTES")]
    pub max_buffered_bytes: Option<usize>,
    /// Segment uploads in flight at once [default: 8]
    #[arg(long, env = "WEFT_MAX_INFLIGHT_FLUSHES")]
    pub max_inflight_flushes: Option<usize>,
    /// Largest request frame accepted, as socket.request.max.bytes [default: 104857600]
    #[arg(long, env = "WEFT_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Open client connections allowed [default: 10000]
    #[arg(long, env = "WEFT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// connections.max.idle.ms: close connections with no request activity for this long [default: 600000]
    #[arg(long, env = "WEFT_CONNECTIONS_MAX_IDLE_MS")]
    pub connections_max_idle_ms: Option<u64>,
    /// Close a connection whose started request frame stalls (no byte arrives) this long; a frame must also complete within connections.max.idle.ms [default: 60000]
    #[arg(long, env = "WEFT_REQUEST_READ_TIMEOUT_MS")]
    pub request_read_timeout_ms: Option<u64>,
    /// queued.max.request.bytes: bytes of requests being read, over all connections [default: 268435456]
    #[arg(long, env = "WEFT_QUEUED_MAX_REQUEST_BYTES")]
    pub queued_max_request_bytes: Option<usize>,
    /// Open connections of the admin HTTP listener [default: 64]
    #[arg(long, env = "WEFT_ADMIN_MAX_CONNECTIONS")]
    pub admin_max_connections: Option<usize>,
    /// Admin connections must send a request head within this of connecting or of their last response
    /// (also the keep-alive idle timeout) [default: 10000]
    #[arg(long, env = "WEFT_ADMIN_HEADER_TIMEOUT_MS")]
    pub admin_header_timeout_ms: Option<u64>,
    /// How often writes to the object store and metastore are probed for /readyz [default: 1000]
    #[arg(long, env = "WEFT_HEALTH_CHECK_INTERVAL_MS")]
    pub health_check_interval_ms: Option<u64>,
    /// Requests in progress per connection [default: 16]
    #[arg(long, env = "WEFT_MAX_INFLIGHT_PER_CONNECTION")]
    pub max_inflight_per_connection: Option<usize>,
    /// Upper bound on a fetch's max_wait_ms [default: 30000]
    #[arg(long, env = "WEFT_MAX_FETCH_WAIT_MS")]
    pub max_fetch_wait_ms: Option<u64>,
    /// Bytes of segments cached in memory for reads [default: 536870912]
    #[arg(long, env = "WEFT_CACHE_BYTES")]
    pub cache_bytes: Option<usize>,
    /// auto.create.topics.enable [default: true]
    #[arg(long, env = "WEFT_AUTO_CREATE_TOPICS")]
    pub auto_create_topics: Option<bool>,
    /// num.partitions for auto-created topics [default: 1]
    #[arg(long, env = "WEFT_DEFAULT_PARTITIONS")]
    pub default_partitions: Option<i32>,
    /// message.max.bytes, the default max.message.bytes of topics [default: 1048588]
    #[arg(long, env = "WEFT_MESSAGE_MAX_BYTES")]
    pub message_max_bytes: Option<i32>,
    /// group.initial.rebalance.delay.ms: how long a new group waits for more members [default: 3000]
    #[arg(long, env = "WEFT_GROUP_INITIAL_REBALANCE_DELAY_MS")]
    pub group_initial_rebalance_delay_ms: Option<u64>,
    /// group.min.session.timeout.ms [default: 6000]
    #[arg(long, env = "WEFT_GROUP_MIN_SESSION_TIMEOUT_MS")]
    pub group_min_session_timeout_ms: Option<i32>,
    /// group.max.session.timeout.ms [default: 1800000]
    #[arg(long, env = "WEFT_GROUP_MAX_SESSION_TIMEOUT_MS")]
    pub group_max_session_timeout_ms: Option<i32>,
    /// group.max.size: members allowed in one group [default: unlimited]
    #[arg(long, env = "WEFT_GROUP_MAX_SIZE")]
    pub group_max_size: Option<usize>,
    /// offsets.retention.minutes: committed offsets of groups without members expire after this [default: 10080]
    #[arg(long, env = "WEFT_OFFSETS_RETENTION_MINUTES")]
    pub offsets_retention_minutes: Option<u64>,
    /// producer.id.expiration.ms: idle idempotent-producer state is forgotten after this [default: 86400000]
    #[arg(long, env = "WEFT_PRODUCER_ID_EXPIRATION_MS")]
    pub producer_id_expiration_ms: Option<u64>,
    /// group.consumer.heartbeat.interval.ms for KIP-848 groups [default: 5000]
    #[arg(long, env = "WEFT_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS")]
    pub group_consumer_heartbeat_interval_ms: Option<i32>,
    /// group.consumer.session.timeout.ms for KIP-848 groups [default: 45000]
    #[arg(long, env = "WEFT_GROUP_CONSUMER_SESSION_TIMEOUT_MS")]
    pub group_consumer_session_timeout_ms: Option<u64>,
    /// transaction.max.timeout.ms: the largest transaction timeout a producer may ask for [default: 900000]
    #[arg(long, env = "WEFT_TRANSACTION_MAX_TIMEOUT_MS")]
    pub transaction_max_timeout_ms: Option<i32>,
    /// transactional.id.expiration.ms: unused transactional ids are forgotten after this [default: 604800000]
    #[arg(long, env = "WEFT_TRANSACTIONAL_ID_EXPIRATION_MS")]
    pub transactional_id_expiration_ms: Option<u64>,
    /// How often timed-out transactions are aborted and unfinished commits completed [default: 1000]
    #[arg(long, env = "WEFT_TRANSACTION_CHECK_INTERVAL_MS")]
    pub transaction_check_interval_ms: Option<u64>,
    /// How often retention, log compaction, object compaction and garbage collection run (the agent holding
    /// the maintenance lease runs them) [default: 5000]
    #[arg(long, env = "WEFT_MAINTENANCE_INTERVAL_MS")]
    pub maintenance_interval_ms: Option<u64>,
    /// log.segment.delete.delay.ms: unreferenced objects are deleted after this grace period [default: 60000]
    #[arg(long, env = "WEFT_GC_GRACE_MS")]
    pub gc_grace_ms: Option<u64>,
    /// Uploads never committed (crash between upload and commit) are deleted once this old [default: 600000]
    #[arg(long, env = "WEFT_ORPHAN_GRACE_MS")]
    pub orphan_grace_ms: Option<u64>,
    /// Flush segments younger than this are not merged by object compaction [default: 10000]
    #[arg(long, env = "WEFT_MERGE_MIN_AGE_MS")]
    pub merge_min_age_ms: Option<u64>,
    /// Bytes object compaction copies into one per-partition object at most [default: 16777216]
    #[arg(long, env = "WEFT_MERGE_TARGET_BYTES")]
    pub merge_target_bytes: Option<u64>,
}

macro_rules! merge {
    ($cli:ident, $file:ident, $($field:ident),*) => {
        $( if $cli.$field.is_none() { $cli.$field = $file.$field.take(); } )*
    };
}

impl AgentArgs {
    fn into_config(mut self) -> Result<AgentConfig> {
        if let Some(path) = &self.config {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
            let mut file: AgentArgs =
                toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
            merge!(
                self,
                file,
                listen,
                advertised_listener,
                admin_listen,
                data_dir,
                object_store,
                metastore,
                node_id,
                flush_bytes,
                flush_interval_ms,
                max_buffered_bytes,
                max_inflight_flushes,
                max_frame_bytes,
                max_connections,
                connections_max_idle_ms,
                request_read_timeout_ms,
                queued_max_request_bytes,
                admin_max_connections,
                admin_header_timeout_ms,
                health_check_interval_ms,
                max_inflight_per_connection,
                max_fetch_wait_ms,
                cache_bytes,
                auto_create_topics,
                default_partitions,
                message_max_bytes,
                group_initial_rebalance_delay_ms,
                group_min_session_timeout_ms,
                group_max_session_timeout_ms,
                group_max_size,
                offsets_retention_minutes,
                producer_id_expiration_ms,
                group_consumer_heartbeat_interval_ms,
                group_consumer_session_timeout_ms,
                transaction_max_timeout_ms,
                transactional_id_expiration_ms,
                transaction_check_interval_ms,
                maintenance_interval_ms,
                gc_grace_ms,
                orphan_grace_ms,
                merge_min_age_ms,
                merge_target_bytes
            );
        }
        let mut c = AgentConfig::with_data_dir(self.data_dir.unwrap_or_else(|| PathBuf::from("weft-data")));
        if let Some(v) = self.listen {
            c.listen = v;
        }
        c.advertised_listener = self.advertised_listener.or(c.advertised_listener);
        match self.admin_listen.as_deref() {
            None => {}
            Some("off") | Some("") => c.admin_listen = None,
            Some(v) => {
                c.admin_listen = Some(
                    v.parse().with_context(|| format!("invalid --admin-listen {v:?}: expected HOST:PORT or off"))?,
                )
            }
        }
        c.object_store = self.object_store.or(c.object_store);
        c.metastore = self.metastore.or(c.metastore);
        if let Some(v) = self.node_id {
            c.node_id = v;
        }
        if let Some(v) = self.flush_bytes {
            c.flush_bytes = v;
        }
        if let Some(v) = self.flush_interval_ms {
            c.flush_interval = Duration::from_millis(v);
        }
        if let Some(v) = self.max_buffered_bytes {
            c.max_buffered_bytes = v;
        }
        if let Some(v) = self.max_inflight_flushes {
            c.max_inflight_flushes = v;
        }
        if let Some(v) = self.max_frame_bytes {
            c.max_frame_bytes = v;
        }
        if let Some(v) = self.max_connections {
            c.max_connections = v;
        }
        if let Some(v) = self.connections_max_idle_ms {
            c.connections_max_idle = Duration::from_millis(v);
        }
        if let Some(v) = self.request_read_timeout_ms {
            c.request_read_timeout = Duration::from_millis(v);
        }
        if let Some(v) = self.queued_max_request_bytes {
            c.queued_max_request_bytes = v;
        }
        if let Some(v) = self.admin_max_connections {
            c.admin_max_connections = v;
        }
        if let Some(v) = self.admin_header_timeout_ms {
            c.admin_header_timeout = Duration::from_millis(v);
        }
        if let Some(v) = self.health_check_interval_ms {
            c.health_check_interval = Duration::from_millis(v);
        }
        if let Some(v) = self.max_inflight_per_connection {
            c.max_inflight_per_connection = v;
        }
        if let Some(v) = self.max_fetch_wait_ms {
            c.max_fetch_wait = Duration::from_millis(v);
        }
        if let Some(v) = self.cache_bytes {
            c.cache_bytes = v;
        }
        if let Some(v) = self.auto_create_topics {
            c.auto_create_topics = v;
        }
        if let Some(v) = self.default_partitions {
            c.default_partitions = v;
        }
        if let Some(v) = self.message_max_bytes {
            c.message_max_bytes = v;
        }
        if let Some(v) = self.group_initial_rebalance_delay_ms {
            c.group_initial_rebalance_delay_ms = v;
        }
        if let Some(v) = self.group_min_session_timeout_ms {
            c.group_min_session_timeout_ms = v;
        }
        if let Some(v) = self.group_max_session_timeout_ms {
            c.group_max_session_timeout_ms = v;
        }
        if let Some(v) = self.group_max_size {
            c.group_max_size = v;
        }
        if let Some(v) = self.group_consumer_heartbeat_interval_ms {
            c.group_consumer_heartbeat_interval_ms = v;
        }
        if let Some(v) = self.group_consumer_session_timeout_ms {
            c.group_consumer_session_timeout_ms = v;
        }
        if let Some(v) = self.producer_id_expiration_ms {
            c.producer_id_expiration = Duration::from_millis(v);
        }
        if let Some(v) = self.transaction_max_timeout_ms {
            c.transaction_max_timeout_ms = v;
        }
        if let Some(v) = self.transactional_id_expiration_ms {
            c.transactional_id_expiration = Duration::from_millis(v);
        }
        if let Some(v) = self.transaction_check_interval_ms {
            c.transaction_check_interval = Duration::from_millis(v);
        }
        if let Some(v) = self.maintenance_interval_ms {
            c.maintenance_interval = Duration::from_millis(v);
        }
        if let Some(v) = self.gc_grace_ms {
            c.gc_grace = Duration::from_millis(v);
        }
        if let Some(v) = self.orphan_grace_ms {
            c.orphan_grace = Duration::from_millis(v);
        }
        if let Some(v) = self.merge_min_age_ms {
            c.merge_min_age = Duration::from_millis(v);
        }
        if let Some(v) = self.merge_target_bytes {
            c.merge_target_bytes = v;
        }
        if let Some(v) = self.offsets_retention_minutes {
            c.offsets_retention = Duration::from_secs(v.saturating_mul(60));
        }
        validate(&c)?;
        Ok(c)
    }
}

fn validate(c: &AgentConfig) -> Result<()> {
    let positive = [
        ("flush-bytes", c.flush_bytes),
        ("max-buffered-bytes", c.max_buffered_bytes),
        ("max-inflight-flushes", c.max_inflight_flushes),
        ("max-frame-bytes", c.max_frame_bytes),
        ("max-connections", c.max_connections),
        ("max-inflight-per-connection", c.max_inflight_per_connection),
        ("queued-max-request-bytes", c.queued_max_request_bytes),
        ("admin-max-connections", c.admin_max_connections),
    ];
    if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
        anyhow::bail!("--{name} must be greater than 0");
    }
    if c.default_partitions <= 0 {
        anyhow::bail!("--default-partitions must be greater than 0, was {}", c.default_partitions);
    }
    if c.transaction_max_timeout_ms <= 0 {
        anyhow::bail!("--transaction-max-timeout-ms must be greater than 0, was {}", c.transaction_max_timeout_ms);
    }
    if c.transaction_check_interval.is_zero() {
        anyhow::bail!("--transaction-check-interval-ms must be greater than 0");
    }
    let durations = [
        ("connections-max-idle-ms", c.connections_max_idle),
        ("request-read-timeout-ms", c.request_read_timeout),
        ("admin-header-timeout-ms", c.admin_header_timeout),
        ("health-check-interval-ms", c.health_check_interval),
    ];
    if let Some((name, _)) = durations.iter().find(|(_, v)| v.is_zero()) {
        anyhow::bail!("--{name} must be greater than 0");
    }
    if c.maintenance_interval.is_zero() {
        anyhow::bail!("--maintenance-interval-ms must be greater than 0");
    }
    if c.merge_target_bytes == 0 {
        anyhow::bail!("--merge-target-bytes must be greater than 0");
    }
    if c.message_max_bytes <= 0 {
        anyhow::bail!("--message-max-bytes must be greater than 0, was {}", c.message_max_bytes);
    }
    Ok(())
}

pub async fn run(args: AgentArgs) -> Result<()> {
    let config = args.into_config()?;
    let agent = weft_agent::start(config).await?;
    wait_for_signal().await?;
    tracing::info!("signal received, shutting down");
    agent.shutdown();
    agent.wait().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
