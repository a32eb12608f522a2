//! Starting and stopping an agent: open the stores, bind listeners, accept connections, shut down cleanly.

use crate::config::AgentConfig;
use crate::dispatch::KafkaApi;
use crate::{Agent, http};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use weft_clock::{Clock, IdSource, RandomIds, SystemClock};
use weft_listener::{AcceptErrors, SessionLimits};
use weft_log::{FlushDeps, IndexTail, LogReader, PartitionWatch, ProduceBuffer, ProduceLimits};
use weft_topics::TopicCache;

/// How long shutdown waits for connections to finish their in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long topic metadata is cached before the metastore is asked again.
const TOPIC_CACHE_TTL: Duration = Duration::from_secs(2);
/// How often the client quotas are read again (changes made through another agent apply within this).
const QUOTA_REFRESH: Duration = Duration::from_secs(2);
/// Quota windows kept at most (one per quota kind and sharing entity, about 200 bytes each).
const QUOTA_MAX_ENTITIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open metastore {url}: {source}")]
    Meta { url: String, source: weft_meta::MetaError },
    #[error("cannot open object store {url}: {source}")]
    Storage { url: String, source: Box<weft_storage::StorageError> },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(
        "cannot listen for the schema registry on {addr}: {source} (give --schema-registry-listen another address, or off)"
    )]
    RegistryBind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid advertised listener {value:?}: expected HOST:PORT")]
    Advertised { value: String },
    #[error("invalid --peer-advertised {value:?}: expected HOST:PORT")]
    PeerAdvertised { value: String },
    #[error("cannot start peer reads: {reason}")]
    Peer { reason: String },
    #[error("cannot listen on {listener}: {source}")]
    BindListener { listener: String, source: std::io::Error },
    #[error("--ssl-keystore-location is required: {needed} serves TLS")]
    NoKeystore { needed: String },
    #[error("--ssl-truststore-location is required: --peer-ssl checks the certificates of peers")]
    NoPeerTruststore,
    #[error("cannot set up tls: {0}")]
    Tls(#[from] weft_tls::TlsError),
    #[error(transparent)]
    Config(#[from] weft_config::ConfigError),
    #[error(transparent)]
    Cluster(#[from] weft_cluster::ClusterError),
    #[error(transparent)]
    Keys(#[from] weft_storage::KeyringError),
    #[error("encryption keys are given twice (--encryption-keys-file and {ENCRYPTION_KEYS_VAR}); give one")]
    KeysTwice,
    #[error(transparent)]
    Audit(#[from] weft_audit::AuditError),
    #[error(transparent)]
    Sasl(#[from] crate::sasl::AuthSetupError),
}

/// The variable that may hold the keyring text instead of `--encryption-keys-file` (never a flag, so keys
/// stay out of process listings).
pub const ENCRYPTION_KEYS_VAR: &str = "WEFT_ENCRYPTION_KEYS";

/// A started agent.
pub struct RunningAgent {
    /// The Kafka listener's address. An agent without the `kafka` role listens nowhere: this is then its
    /// configured `listen`, unbound (see `serves_kafka`).
    pub kafka_addr: SocketAddr,
    /// Whether the Kafka listener runs (the `kafka` role).
    pub serves_kafka: bool,
    /// The node id this agent registered with (configured or taken from the registry).
    pub node_id: i32,
    /// Each Kafka listener's name and bound address, in configuration order (none without the `kafka` role);
    /// `kafka_addr` is the first.
    pub listeners: Vec<(String, SocketAddr)>,
    pub admin_addr: Option<SocketAddr>,
    /// The schema registry listener's address (`None`: off).
    pub schema_registry_addr: Option<SocketAddr>,
    /// The peer listener's address (`None`: off, or no `kafka` role).
    pub peer_addr: Option<SocketAddr>,
    storage: weft_storage::ObjectStorage,
    /// The services, for requests answered in process ([`RunningAgent::answer`], `in_process.rs`).
    pub(crate) api: Arc<Agent>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningAgent {
    /// Asks the agent to stop: stop accepting, answer in-flight requests, flush, exit.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Object-store requests and bytes of this agent since it started (its own reads and writes, and its reads
    /// for peers).
    pub fn object_store_usage(&self) -> weft_storage::UsageSnapshot {
        self.storage.usage()
    }

    /// Waits until the agent has stopped.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Starts an agent with the system clock and random ids.
pub async fn start(config: AgentConfig) -> Result<RunningAgent, StartError> {
    start_with(config, Arc::new(SystemClock), Arc::new(RandomIds)).await
}

/// Starts an agent with injected time and id sources.
pub async fn start_with(
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
) -> Result<RunningAgent, StartError> {
    config.validate()?;
    // Shown (logs, errors) without its password.
    let meta_url = weft_meta::url_shown(&config.metastore_url());
    let meta = weft_meta::open(&config.metastore_url())
        .await
        .map_err(|source| StartError::Meta { url: meta_url.clone(), source })?;
    start_on(config, meta, clock, ids).await
}

/// The ACL authorizer if `--authorizer acl`, with the ACLs loaded.
async fn agent_authorizer(
    config: &AgentConfig,
    meta: &Arc<dyn weft_meta::Metastore>,
) -> Result<Option<Arc<crate::authorizer::AclAuthorizer>>, weft_meta::MetaError> {
    if config.authorizer != crate::config::Authorizer::Acl {
        return Ok(None);
    }
    let super_users = weft_acl::Policy::parse_super_users(config.super_users.as_deref().unwrap_or(""));
    let store: Arc<dyn weft_meta::Acls> = meta.clone();
    let a = crate::authorizer::AclAuthorizer::load(store, super_users, config.allow_everyone_if_no_acl_found).await?;
    Ok(Some(Arc::new(a)))
}

/// Starts an agent on an open metastore (`config.metastore` is then only shown in logs). Several agents of one
/// process share a store this way, as agents of several processes share one through its URL.
pub async fn start_on(
    config: AgentConfig,
    meta: Arc<dyn weft_meta::Metastore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
) -> Result<RunningAgent, StartError> {
    config.validate()?;
    let meta_url = weft_meta::url_shown(&config.metastore_url());
    let store_url = config.object_store_url();
    let cluster_id = meta.cluster_id().await.map_err(|source| StartError::Meta { url: meta_url.clone(), source })?;
    // Before anything is bound or registered: a listener that cannot authenticate (unreadable users file or
    // JWKS) stops the start with nothing left running.
    let specs = config.kafka_listeners()?;
    let sasl = match specs.iter().any(|s| s.protocol.uses_sasl()) {
        true => {
            Some(Arc::new(crate::sasl::Authenticator::new(&config, meta.clone(), clock.clone(), ids.clone()).await?))
        }
        false => None,
    };
    let memory = weft_config::memory::available();
    let cache_bytes = config.segment_cache_bytes(memory);
    tracing::info!(cache_bytes, memory = ?memory, "segment cache size");
    let storage = weft_storage::ObjectStorage::open_with(
        &store_url,
        cache_bytes,
        crate::store_setup::store_options(&config, &ids)?,
    )
    .map_err(|source| StartError::Storage {
        url: crate::store_setup::storage_url_shown(&store_url),
        source: Box::new(source),
    })?;
    if store_url.starts_with("memory:") {
        tracing::warn!(object_store = %store_url, metastore = %meta_url, "objects are kept in memory only: they are lost at exit while the metastore keeps pointing at them (for tests and diagnosis)");
    }
    let tls = crate::listeners::tls(&config, &specs)?;
    let bound = match config.roles.kafka {
        true => crate::listeners::bind(&specs).await?,
        false => Vec::new(),
    };
    let bound_addrs: Vec<(String, SocketAddr)> = match config.roles.kafka {
        true => bound.iter().map(|b| (b.name.to_string(), b.addr)).collect(),
        // Registered as configured, though nothing listens (no kafka role: not a broker).
        false => specs.iter().filter_map(|s| Some((s.name.clone(), spec_addr(s)?))).collect(),
    };
    let kafka_addr = bound.first().map(|b| b.addr);
    let advertised = crate::listeners::advertised(&specs, &bound_addrs);
    let group_config = weft_groups::GroupConfig {
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        max_size: config.group_max_size,
        consumer_session_timeout_ms: config.group_consumer_session_timeout_ms,
    };
    let groups = Arc::new(weft_groups::Coordinator::new(group_config, meta.clone()));
    // Peers reach this agent at the host its clients do (its first listener's advertised host).
    let advertised_host = advertised.first().map_or("127.0.0.1", |e| e.host.as_str()).to_string();
    let peer = crate::peers::bind(&config, &advertised_host).await?;
    let cluster = crate::membership::join(
        &config,
        meta.clone(),
        clock.clone(),
        &advertised,
        peer.as_ref().map(|p| p.endpoint.clone()),
        groups.clone(),
    )
    .await?;
    let storage = crate::peers::attach(storage, cluster.membership.clone(), &config)?;
    let admin = match config.admin_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
            let bound = l.local_addr().map_err(|source| StartError::Bind { addr, source })?;
            Some((l, bound))
        }
        None => None,
    };
    let registry_listener = bind_registry(&config).await?;
    let partitions = Arc::new(PartitionWatch::default());
    let tail = Arc::new(IndexTail::new(clock.clone(), config.index_tail_max_age()));
    let health = Arc::new(weft_log::health::Health::default());
    let produce = ProduceBuffer::new(ProduceLimits {
        flush_bytes: config.flush_bytes,
        flush_interval: config.effective_flush_interval(),
        max_buffered_bytes: config.max_buffered_bytes,
        max_inflight_flushes: config.max_inflight_flushes,
    });
    let flusher = produce.spawn(FlushDeps {
        storage: storage.clone(),
        meta: meta.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        partitions: partitions.clone(),
        tail: tail.clone(),
        health: health.clone(),
        // Half the orphan grace: a commit that could not start by then is refused rather than racing the
        // collector (which fences orphans in the metastore before deleting them anyway).
        commit_deadline: config.orphan_grace / 2,
    });
    crate::metrics::install();
    let reader = LogReader::new(meta.clone(), storage.clone(), tail);
    let txns =
        weft_txn::TxnCoordinator::new(meta.clone(), produce.clone(), clock.clone(), config.transaction_max_timeout_ms);
    let authorizer = match agent_authorizer(&config, &meta).await {
        Ok(a) => a,
        Err(source) => return Err(StartError::Meta { url: meta_url.clone(), source }),
    };
    let audit = Arc::new(match &config.audit_log {
        // The writer task ends when the agent (the last handle) is dropped.
        Some(path) => weft_audit::AuditLog::to_file(path, clock.clone())?.0,
        None => weft_audit::AuditLog::metrics_only(),
    });
    let http_auth = http::auth::HttpAuth::new(&config, meta.clone(), authorizer.clone(), audit.clone(), &*ids)
        .map_err(crate::sasl::AuthSetupError::from)?;
    // Group configs default to Kafka's broker settings with the agent's KIP-848 options over them.
    let session = i32::try_from(config.group_consumer_session_timeout_ms).unwrap_or(i32::MAX);
    let heartbeat = config.group_consumer_heartbeat_interval_ms;
    let defaults = weft_groups::config::BrokerGroupSettings::new(&[
        ("group.consumer.session.timeout.ms", session),
        ("group.consumer.heartbeat.interval.ms", heartbeat),
    ]);
    let group_configs = Arc::new(weft_groups::config::GroupConfigCache::new(meta.clone(), defaults, TOPIC_CACHE_TTL));
    let agent = Arc::new(Agent {
        group_configs,
        sasl,
        authorizer,
        audit,
        topics: Arc::new(TopicCache::new(TOPIC_CACHE_TTL, config.message_max_bytes)),
        schemas: Arc::new(weft_registry::ids::SchemaIds::new(meta.clone())),
        meta,
        storage,
        clock,
        ids,
        cluster_id,
        advertised,
        tls,
        partitions,
        reader,
        txns,
        produce,
        request_budget: weft_listener::RequestBudget::new(config.queued_max_request_bytes),
        health,
        cluster,
        groups,
        config,
        quotas: Arc::new(weft_quota::QuotaManager::new(QUOTA_MAX_ENTITIES)),
        share: crate::share::Share::new(),
        client_traffic: crate::client_traffic::ClientTraffic::new(),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    // Commits by other agents sharing the metastore wake this agent's long polls (PostgreSQL's feed).
    let feed = agent.meta.changes().await.map_err(|source| StartError::Meta { url: meta_url.clone(), source })?;
    let change_feed = feed.map(|feed| {
        let log: Arc<dyn weft_meta::Log> = agent.meta.clone();
        tokio::spawn(agent.partitions.clone().follow(log, feed))
    });
    let group_timer = agent.groups.spawn_timer();
    let acl_refresh = agent.authorizer.clone().map(|a| tokio::spawn(a.follow()));
    let txn_timer = tokio::spawn(check_transactions(agent.clone()));
    let share_timer = tokio::spawn(crate::share::run_timer(agent.clone()));
    // Read once before any request, so configured quotas hold from the first one.
    if let Err(e) = agent.quotas.refresh(&*agent.meta).await {
        tracing::warn!(error = %e, "client quotas could not be read; retrying every {QUOTA_REFRESH:?}");
    }
    let quota_refresh = tokio::spawn(refresh_quotas(agent.clone()));
    // Taken here, before any request, so ids stay deterministic under an injected id source.
    let holder = agent.ids.uuid().to_string();
    // The first write probe (bounded by its timeout) runs before the agent reports ready, so a store that
    // cannot be written (a read-only metastore, a full disk) is logged at start and /readyz answers from it.
    crate::health::probe(&agent, &holder).await;
    let health_task =
        tokio::spawn(crate::health::run(agent.clone(), holder.clone(), agent.config.health_check_interval));
    // Only agents with the `jobs` role run maintenance (several may: its lease lets one at a time work).
    let maintenance = agent.config.roles.jobs.then(|| tokio::spawn(maintainer(&agent).run(holder)));
    let heartbeats = agent.cluster.membership.spawn();
    // The first round runs before clients connect, so a lone agent coordinates its groups at once.
    agent.cluster.shards.take_over_from_predecessors().await;
    agent.cluster.shards.renew().await;
    // After the first renewal: expiry applies only to groups coordinated here, known once shards are held.
    let offsets_expiry = tokio::spawn(expire_offsets(agent.clone()));
    let shard_leases = agent.config.roles.kafka.then(|| agent.cluster.shards.spawn());
    let admin_addr = admin.as_ref().map(|(_, a)| *a);
    let http_auth = Arc::new(http_auth);
    if let Some((l, _)) = admin {
        tokio::spawn(http::serve(agent.clone(), http_auth.clone(), l, shutdown_rx.clone()));
    }
    let schema_registry_addr = registry_listener.as_ref().map(|(_, a)| *a);
    if let Some((l, _)) = registry_listener {
        tokio::spawn(http::serve_registry(agent.clone(), http_auth, l, shutdown_rx.clone()));
    }
    let peer_addr = peer.as_ref().map(|p| p.addr);
    // Peers are served until this agent has deregistered (after its drain), since until then others may
    // still name it as an object's owner.
    let (peers_done, peers_stop) = watch::channel(false);
    if let Some(peer) = peer {
        crate::peers::spawn(peer, &agent, peers_stop);
    }
    metrics::gauge!("weft_agent_serves_clients").set(if agent.config.roles.kafka { 1.0 } else { 0.0 });
    tracing::info!(
        kafka_addr = %kafka_addr.map(|a| a.to_string()).unwrap_or_else(|| "none (no kafka role)".into()),
        listeners = %shown_listeners(&bound),
        node_id = agent.cluster.node_id(),
        roles = %agent.config.roles,
        admin_addr = %admin_addr.map(|a| a.to_string()).unwrap_or_else(|| "disabled".into()),
        schema_registry_addr = %schema_registry_addr.map(|a| a.to_string()).unwrap_or_else(|| "disabled".into()),
        peer_addr = %peer_addr.map(|a| a.to_string()).unwrap_or_else(|| "disabled".into()),
        data_dir = %agent.config.data_dir.display(),
        object_store = %agent.storage.url(),
        metastore = %meta_url,
        cluster_id = %agent.cluster_id,
        "agent ready"
    );
    let node_id = agent.cluster.node_id();
    let config_listen = agent.config.listen;
    let storage = agent.storage.clone();
    let api = agent.clone();
    let task = tokio::spawn(async move {
        let cluster = (agent.cluster.membership.clone(), agent.cluster.shards.clone());
        run(agent, bound, shutdown_rx, flusher).await;
        // Background tasks stop with the listeners; none of them holds state that needs flushing.
        for task in [Some(group_timer), acl_refresh, Some(offsets_expiry), Some(txn_timer), Some(share_timer)]
            .into_iter()
            .chain([Some(quota_refresh), maintenance, Some(health_task), change_feed, Some(heartbeats), shard_leases])
            .flatten()
        {
            task.abort();
        }
        // Others take over this agent's partitions and coordinator shards at once, not after the session.
        cluster.1.release_all().await;
        cluster.0.deregister().await;
        peers_done.send_replace(true);
    });
    let serves_kafka = kafka_addr.is_some();
    let kafka_addr = kafka_addr.unwrap_or(config_listen);
    let listeners = if serves_kafka { bound_addrs } else { Vec::new() };
    Ok(RunningAgent {
        kafka_addr,
        serves_kafka,
        node_id,
        listeners,
        admin_addr,
        schema_registry_addr,
        peer_addr,
        storage,
        api,
        shutdown,
        task,
    })
}

/// Binds the schema registry's listener, if it is on; a taken port fails the start with a hint.
async fn bind_registry(config: &AgentConfig) -> Result<Option<(TcpListener, SocketAddr)>, StartError> {
    let Some(addr) = config.schema_registry_listen else { return Ok(None) };
    let l = TcpListener::bind(addr).await.map_err(|source| StartError::RegistryBind { addr, source })?;
    let bound = l.local_addr().map_err(|source| StartError::RegistryBind { addr, source })?;
    Ok(Some((l, bound)))
}

/// The maintenance service over this agent's stores and caches.
fn maintainer(agent: &Agent) -> weft_maintenance::Maintainer {
    let deps = weft_maintenance::Deps {
        meta: agent.meta.clone(),
        storage: agent.storage.clone(),
        topics: agent.topics.clone(),
        partitions: agent.partitions.clone(),
        clock: agent.clock.clone(),
        ids: agent.ids.clone(),
    };
    let c = &agent.config;
    let schedule = weft_maintenance::Schedule {
        interval: c.maintenance_interval,
        merge_target_bytes: c.merge_target_bytes,
        merge_min_age: c.merge_min_age,
        gc_grace: c.gc_grace,
        orphan_grace: c.orphan_grace,
        budget: weft_maintenance::BudgetLimits {
            bytes_per_sec: c.maintenance_max_bytes_per_sec,
            bytes_per_pass: c.maintenance_max_bytes_per_pass,
            metastore_percent: c.maintenance_max_metastore_percent,
        },
    };
    weft_maintenance::Maintainer::new(deps, schedule)
}

/// `NAME://ADDR` of each bound listener, for the ready line.
fn shown_listeners(bound: &[crate::listeners::Bound]) -> String {
    let each = bound.iter().map(|b| format!("{}({})://{}", b.name, b.protocol, b.addr));
    each.collect::<Vec<_>>().join(",")
}

/// A listener's configured address when it names an IP (agents without the kafka role bind nothing).
fn spec_addr(spec: &weft_config::ListenerSpec) -> Option<SocketAddr> {
    let ip = if spec.host.is_empty() { "0.0.0.0" } else { spec.host.as_str() };
    Some(SocketAddr::new(ip.parse().ok()?, spec.port))
}

/// Once a minute: expires committed offsets of groups coordinated here without members after `offsets_retention`,
/// idempotent-producer state idle for `producer_id_expiration`, and unused transactional ids.
/// Keeps the quotas in force in step with the metastore, and drops the windows of idle clients.
async fn refresh_quotas(agent: Arc<Agent>) {
    let mut interval = tokio::time::interval(QUOTA_REFRESH);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(e) = agent.quotas.refresh(&*agent.meta).await {
            tracing::warn!(error = %e, "client quotas could not be read; the previous ones stay in force");
        }
        agent.quotas.evict_idle(agent.clock.now_ms());
    }
}

async fn expire_offsets(agent: Arc<Agent>) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        let retention_ms = i64::try_from(agent.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = agent.clock.now_ms().saturating_sub(retention_ms);
        // Only groups coordinated here: whether another agent's group has members is known only there.
        let mut keep = agent.groups.active_groups();
        match agent.meta.groups_with_offsets().await {
            Ok(all) => keep.extend(all.into_iter().filter(|g| !agent.cluster.shards.owns_key(g))),
            Err(e) => {
                tracing::warn!(error = %e, "offset expiry skipped: listing groups failed");
                continue;
            }
        }
        // A group stored with members but not loaded here yet (a shard just gained) is not empty either.
        match agent.meta.list_group_states().await {
            Ok(stored) => keep.extend(stored.into_iter().filter(|g| g.state != "Empty").map(|g| g.group)),
            Err(e) => {
                tracing::warn!(error = %e, "offset expiry skipped: listing stored groups failed");
                continue;
            }
        }
        match agent.meta.expire_offsets(cutoff, &keep).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(offsets = n, "expired committed offsets of groups without members"),
            Err(e) => tracing::warn!(error = %e, "offset expiry failed"),
        }
        let idle_ms = i64::try_from(agent.config.producer_id_expiration.as_millis()).unwrap_or(i64::MAX);
        match agent.meta.expire_producers(agent.clock.now_ms().saturating_sub(idle_ms)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(entries = n, "expired idle producer state"),
            Err(e) => tracing::warn!(error = %e, "producer state expiry failed"),
        }
        let idle_ms = i64::try_from(agent.config.transactional_id_expiration.as_millis()).unwrap_or(i64::MAX);
        match agent.meta.expire_transactions(agent.clock.now_ms().saturating_sub(idle_ms)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(transactional_ids = n, "expired unused transactional ids"),
            Err(e) => tracing::warn!(error = %e, "transactional id expiry failed"),
        }
    }
}

/// Aborts timed-out transactions and completes prepared ones (also those a crash left behind, from the first
/// check after this agent holds their coordinator shard).
async fn check_transactions(agent: Arc<Agent>) {
    let mut interval = tokio::time::interval(agent.config.transaction_check_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        // Only the transactions coordinated here (held shards): their coordinator alone completes them.
        agent.txns.check_where(|id| agent.cluster.refusal(id).is_none()).await;
    }
}

async fn run(
    agent: Arc<Agent>,
    listeners: Vec<crate::listeners::Bound>,
    mut shutdown: watch::Receiver<bool>,
    flusher: JoinHandle<()>,
) {
    let slots = Arc::new(Semaphore::new(agent.config.max_connections));
    let api = Arc::new(KafkaApi(agent.clone()));
    let limits = SessionLimits {
        max_frame_bytes: agent.config.max_frame_bytes,
        max_inflight: agent.config.max_inflight_per_connection,
        idle: agent.config.connections_max_idle,
        frame_read: agent.config.request_read_timeout,
    };
    let stop_rx = shutdown.clone();
    let mut connections = JoinSet::new();
    let mut accept_errors = AcceptErrors::default();
    loop {
        tokio::select! {
            (index, accepted) = crate::listeners::accept(&listeners) => match accepted {
                Ok((socket, peer)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(%peer, limit = agent.config.max_connections, "refusing connection: max connections reached");
                        drop(socket);
                        continue;
                    };
                    let api = api.clone();
                    let stop = stop_rx.clone();
                    let l = &listeners[index];
                    let listener = (l.name.clone(), l.protocol);
                    connections.spawn(async move {
                        crate::listeners::serve_connection(api, listener, (socket, peer), limits, stop).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    // EMFILE/ENFILE (out of descriptors): the pending connection stays in the backlog
                    // (ECONNABORTED: it is gone); pause briefly instead of spinning, and keep serving.
                    metrics::counter!("weft_accept_errors_total").increment(1);
                    accept_errors.note(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listeners);
    agent.groups.shutdown();
    tracing::info!(connections = connections.len(), "shutting down: draining connections");
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(remaining = connections.len(), "drain timed out; closing remaining connections");
        connections.shutdown().await;
    }
    agent.produce.close();
    let _ = flusher.await;
    tracing::info!("agent stopped");
}
