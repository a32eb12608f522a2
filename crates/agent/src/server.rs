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
use weft_listener::{AcceptErrors, Session, SessionLimits};
use weft_log::{FlushDeps, LogReader, PartitionWatch, ProduceBuffer, ProduceLimits};
use weft_topics::TopicCache;

/// How long shutdown waits for connections to finish their in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long topic metadata is cached before the metastore is asked again.
const TOPIC_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open metastore {url}: {source}")]
    Meta { url: String, source: weft_meta::MetaError },
    #[error("cannot open object store {url}: {source}")]
    Storage { url: String, source: Box<weft_storage::StorageError> },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid advertised listener {value:?}: expected HOST:PORT")]
    Advertised { value: String },
    #[error(transparent)]
    Config(#[from] weft_config::ConfigError),
    #[error(transparent)]
    Cluster(#[from] weft_cluster::ClusterError),
}

/// A started agent.
pub struct RunningAgent {
    /// The Kafka listener's address. An agent without the `kafka` role listens nowhere: this is then its
    /// configured `listen`, unbound (see `serves_kafka`).
    pub kafka_addr: SocketAddr,
    /// Whether the Kafka listener runs (the `kafka` role).
    pub serves_kafka: bool,
    /// The node id this agent registered with (configured or taken from the registry).
    pub node_id: i32,
    pub admin_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningAgent {
    /// Asks the agent to stop: stop accepting, answer in-flight requests, flush, exit.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until the agent has stopped.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

fn advertised(config: &AgentConfig, bound: SocketAddr) -> Result<(String, i32), StartError> {
    match &config.advertised_listener {
        Some(v) => {
            let bad = || StartError::Advertised { value: v.clone() };
            let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.is_empty() {
                return Err(bad());
            }
            Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), i32::from(port)))
        }
        None if bound.ip().is_unspecified() => Ok(("127.0.0.1".into(), i32::from(bound.port()))),
        None => Ok((bound.ip().to_string(), i32::from(bound.port()))),
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
    let storage = weft_storage::ObjectStorage::open_with(&store_url, config.cache_bytes, store_options(&config, &ids))
        .map_err(|source| StartError::Storage { url: storage_url_shown(&store_url), source: Box::new(source) })?;
    if store_url.starts_with("memory:") {
        tracing::warn!(object_store = %store_url, metastore = %meta_url, "objects are kept in memory only: they are lost at exit while the metastore keeps pointing at them (for tests and diagnosis)");
    }
    let listener = match config.roles.kafka {
        true => Some(
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind { addr: config.listen, source })?,
        ),
        false => None,
    };
    let kafka_addr = match &listener {
        Some(l) => Some(l.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?),
        None => None,
    };
    let (advertised_host, advertised_port) = advertised(&config, kafka_addr.unwrap_or(config.listen))?;
    let group_config = weft_groups::GroupConfig {
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        max_size: config.group_max_size,
        consumer_session_timeout_ms: config.group_consumer_session_timeout_ms,
        consumer_heartbeat_interval_ms: config.group_consumer_heartbeat_interval_ms,
    };
    let groups = Arc::new(weft_groups::Coordinator::new(group_config, meta.clone()));
    let cluster = crate::membership::join(
        &config,
        meta.clone(),
        clock.clone(),
        (&advertised_host, advertised_port),
        groups.clone(),
    )
    .await?;
    let admin = match config.admin_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
            let bound = l.local_addr().map_err(|source| StartError::Bind { addr, source })?;
            Some((l, bound))
        }
        None => None,
    };
    let partitions = Arc::new(PartitionWatch::default());
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
        health: health.clone(),
        // Half the orphan grace: a commit that could not start by then is refused rather than racing the
        // collector (which fences orphans in the metastore before deleting them anyway).
        commit_deadline: config.orphan_grace / 2,
    });
    crate::metrics::install();
    let reader = LogReader::new(meta.clone(), storage.clone());
    let txns =
        weft_txn::TxnCoordinator::new(meta.clone(), produce.clone(), clock.clone(), config.transaction_max_timeout_ms);
    let authorizer = match agent_authorizer(&config, &meta).await {
        Ok(a) => a,
        Err(source) => return Err(StartError::Meta { url: meta_url.clone(), source }),
    };
    let agent = Arc::new(Agent {
        authorizer,
        topics: Arc::new(TopicCache::new(TOPIC_CACHE_TTL, config.message_max_bytes)),
        meta,
        storage,
        clock,
        ids,
        cluster_id,
        advertised_host,
        advertised_port,
        partitions,
        reader,
        txns,
        produce,
        request_budget: weft_listener::RequestBudget::new(config.queued_max_request_bytes),
        health,
        cluster,
        groups,
        config,
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
    if let Some((l, _)) = admin {
        tokio::spawn(http::serve(agent.clone(), l, shutdown_rx.clone()));
    }
    tracing::info!(
        kafka_addr = %kafka_addr.map(|a| a.to_string()).unwrap_or_else(|| "none (no kafka role)".into()),
        node_id = agent.cluster.node_id(),
        roles = %agent.config.roles,
        admin_addr = %admin_addr.map(|a| a.to_string()).unwrap_or_else(|| "disabled".into()),
        data_dir = %agent.config.data_dir.display(),
        object_store = %agent.storage.url(),
        metastore = %meta_url,
        cluster_id = %agent.cluster_id,
        "agent ready"
    );
    let node_id = agent.cluster.node_id();
    let config_listen = agent.config.listen;
    let task = tokio::spawn(async move {
        let cluster = (agent.cluster.membership.clone(), agent.cluster.shards.clone());
        run(agent, listener, shutdown_rx, flusher).await;
        group_timer.abort();
        if let Some(a) = acl_refresh {
            a.abort();
        }
        offsets_expiry.abort();
        txn_timer.abort();
        if let Some(m) = maintenance {
            m.abort();
        }
        health_task.abort();
        if let Some(feed) = change_feed {
            feed.abort();
        }
        heartbeats.abort();
        if let Some(s) = shard_leases {
            s.abort();
        }
        // Others take over this agent's partitions and coordinator shards at once, not after the session.
        cluster.1.release_all().await;
        cluster.0.deregister().await;
    });
    let serves_kafka = kafka_addr.is_some();
    let kafka_addr = kafka_addr.unwrap_or(config_listen);
    Ok(RunningAgent { kafka_addr, serves_kafka, node_id, admin_addr, shutdown, task })
}

/// The object-store stack's options: the default retries, and the `--object-store-model` (seeded from the
/// id source, so an injected one replays the same delays).
fn store_options(config: &AgentConfig, ids: &Arc<dyn IdSource>) -> weft_storage::StoreOptions {
    use weft_config::ObjectStoreModel;
    use weft_storage::{ModelOptions, StoreModel};
    let model = match config.object_store_model {
        ObjectStoreModel::Off => None,
        ObjectStoreModel::S3Standard => Some(StoreModel::S3Standard),
        ObjectStoreModel::S3Express => Some(StoreModel::S3Express),
    };
    if let Some(model) = model {
        tracing::warn!(
            ?model,
            "object-store requests are delayed and failed as the model says (for tests and benchmarks)"
        );
    }
    let model = model.map(|model| ModelOptions { model, seed: ids.nonce() });
    weft_storage::StoreOptions { model, ..Default::default() }
}

/// An object store URL as errors show it: without its query, which may carry credentials.
fn storage_url_shown(url: &str) -> String {
    url.split_once('?').map_or(url, |(base, _)| base).to_string()
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
    };
    weft_maintenance::Maintainer::new(deps, schedule)
}

/// The next connection of the Kafka listener; never, for an agent without one.
async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Once a minute: expires committed offsets of groups coordinated here without members after `offsets_retention`,
/// idempotent-producer state idle for `producer_id_expiration`, and unused transactional ids.
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
    listener: Option<TcpListener>,
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
            accepted = accept(listener.as_ref()) => match accepted {
                Ok((socket, peer)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(%peer, limit = agent.config.max_connections, "refusing connection: max connections reached");
                        drop(socket);
                        continue;
                    };
                    let api = api.clone();
                    let stop = stop_rx.clone();
                    connections.spawn(async move {
                        let _ = socket.set_nodelay(true);
                        let session = Session { peer, listener: "PLAINTEXT", principal: None };
                        let budget = api.0.request_budget.clone();
                        weft_listener::serve(&*api, session, socket.into_split(), limits, &budget, stop).await;
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
    drop(listener);
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
