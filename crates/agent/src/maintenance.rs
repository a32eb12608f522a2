//! The agent's side of background maintenance: every `maintenance_interval`, the agent holding the
//! metastore lease runs retention, log compaction, object compaction and garbage collection (the jobs live
//! in `weft-maintenance`) with each topic's effective configs, and publishes moved log starts to its
//! partition watches. Other agents renew nothing and wait; if the holder dies, its lease expires and another
//! agent takes over. The jobs are safe even if two agents overlap (every index change is conditional).

use crate::Agent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use weft_maintenance::cleaner::{CleanLimits, CleanPolicy, clean_partition};
use weft_maintenance::merge::{MergeLimits, merge_partition};
use weft_maintenance::retention::{self, RetentionPolicy};
use weft_maintenance::{MaintenanceError, gc};

/// The lease that elects the agent running maintenance.
const LEASE: &str = "maintenance";
/// Orphans are looked for once every this many passes (listing a bucket is not free).
const ORPHAN_SCAN_EVERY: u64 = 12;

/// Progress the loop remembers between passes (and shows in the admin endpoint and logs).
#[derive(Default)]
pub struct MaintenanceState {
    /// Per partition: when a tombstone or marker kept by the cleaner expires (a pass is then forced).
    expiries: Mutex<HashMap<(Uuid, i32), i64>>,
    /// Per partition: object compaction found no flush segment below this offset last time.
    merge_from: Mutex<HashMap<(Uuid, i32), i64>>,
    passes: std::sync::atomic::AtomicU64,
}

/// Runs maintenance passes forever; `holder` names this agent in the lease.
pub async fn run(agent: Arc<Agent>, holder: String) {
    // Every series exists from the start, so dashboards and alerts see zeros rather than nothing.
    for job in ["retention", "compaction", "merge", "gc", "orphans"] {
        for result in ["ok", "error"] {
            metrics::counter!("weft_maintenance_runs_total", "job" => job, "result" => result).increment(0);
        }
    }
    for job in ["compaction", "merge"] {
        metrics::counter!("weft_maintenance_bytes_total", "job" => job).increment(0);
    }
    for kind in ["dead", "orphan"] {
        metrics::counter!("weft_gc_objects_deleted_total", "kind" => kind).increment(0);
    }
    let mut interval = tokio::time::interval(agent.config.maintenance_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = agent.clock.now_ms();
        let ttl = i64::try_from(agent.config.maintenance_interval.as_millis()).unwrap_or(i64::MAX).saturating_mul(3);
        match agent.meta.acquire_lease(LEASE, &holder, now, ttl.max(30_000)).await {
            Ok(true) => pass(&agent).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "maintenance lease unavailable"),
        }
    }
}

fn outcome<T>(job: &'static str, r: Result<T, MaintenanceError>) -> Option<T> {
    let result = if r.is_ok() { "ok" } else { "error" };
    metrics::counter!("weft_maintenance_runs_total", "job" => job, "result" => result).increment(1);
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(job, error = %e, "maintenance job failed; it is retried next pass");
            None
        }
    }
}

async fn pass(agent: &Arc<Agent>) {
    let topics = match agent.meta.list_topics().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "maintenance: cannot list topics");
            return;
        }
    };
    let merge_limits = MergeLimits {
        target_bytes: agent.config.merge_target_bytes,
        min_age_ms: i64::try_from(agent.config.merge_min_age.as_millis()).unwrap_or(i64::MAX),
        ..MergeLimits::default()
    };
    // Forget progress of deleted topics, so these maps stay bounded by the live partitions.
    let live: std::collections::HashSet<Uuid> = topics.iter().map(|t| t.id).collect();
    lock(&agent.maintenance.merge_from).retain(|(id, _), _| live.contains(id));
    lock(&agent.maintenance.expiries).retain(|(id, _), _| live.contains(id));
    for t in topics {
        let Ok(Some(entry)) = agent.topics.get(agent.meta.as_ref(), &t.name).await else { continue };
        let (id, partitions) = (entry.topic.id, entry.topic.partitions);
        if entry.has_policy("delete") {
            let policy = RetentionPolicy {
                retention_ms: entry.config_i64("retention.ms"),
                retention_bytes: entry.config_i64("retention.bytes"),
            };
            let now = agent.clock.now_ms();
            if let Some(moved) =
                outcome("retention", retention::apply(agent.meta.as_ref(), id, partitions, policy, now).await)
            {
                for (partition, bounds) in moved {
                    tracing::info!(topic = %t.name, partition, log_start = bounds.log_start, "retention moved the log start");
                    agent.partitions.advance(id, partition, bounds);
                }
            }
        }
        // Cleaner positions of every partition, read once per topic.
        let clean_offsets: HashMap<i32, i64> = if entry.has_policy("compact") {
            match agent.meta.partition_storage(id).await {
                Ok(parts) => parts.into_iter().map(|(p, s)| (p, s.clean_offset)).collect(),
                Err(e) => {
                    tracing::warn!(topic = %t.name, error = %e, "log compaction skipped: partition state unavailable");
                    HashMap::new()
                }
            }
        } else {
            HashMap::new()
        };
        for partition in 0..partitions {
            if let Some(clean_offset) = clean_offsets.get(&partition) {
                clean(agent, &entry, partition, *clean_offset).await;
            }
            let key = (id, partition);
            let from = lock(&agent.maintenance.merge_from).get(&key).copied().unwrap_or(0);
            let now = agent.clock.now_ms();
            let nonce = agent.ids.nonce();
            let merged =
                merge_partition(agent.meta.as_ref(), &agent.storage, id, partition, from, merge_limits, now, nonce)
                    .await;
            if let Some(pass) = outcome("merge", merged) {
                lock(&agent.maintenance.merge_from).insert(key, pass.resume_from);
                if let Some(r) = pass.report {
                    metrics::counter!("weft_maintenance_bytes_total", "job" => "merge").increment(r.bytes);
                }
            }
        }
    }
    let now = agent.clock.now_ms();
    let grace = i64::try_from(agent.config.gc_grace.as_millis()).unwrap_or(i64::MAX);
    if let Some(n) = outcome("gc", gc::collect_dead(agent.meta.as_ref(), &agent.storage, now, grace).await)
        && n > 0
    {
        tracing::info!(objects = n, "garbage collector deleted unreferenced objects");
        metrics::counter!("weft_gc_objects_deleted_total", "kind" => "dead").increment(n as u64);
    }
    let passes = agent.maintenance.passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if passes.is_multiple_of(ORPHAN_SCAN_EVERY) {
        let orphan_grace = i64::try_from(agent.config.orphan_grace.as_millis()).unwrap_or(i64::MAX);
        if let Some(n) =
            outcome("orphans", gc::collect_orphans(agent.meta.as_ref(), &agent.storage, now, orphan_grace).await)
            && n > 0
        {
            metrics::counter!("weft_gc_objects_deleted_total", "kind" => "orphan").increment(n as u64);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn clean(agent: &Arc<Agent>, entry: &crate::topics::TopicEntry, partition: i32, clean_offset: i64) {
    let id = entry.topic.id;
    let policy = CleanPolicy {
        delete_retention_ms: entry.config_i64("delete.retention.ms"),
        min_lag_ms: entry.config_i64("min.compaction.lag.ms"),
        max_lag_ms: entry.config_i64("max.compaction.lag.ms"),
        min_dirty_ratio: entry.config("min.cleanable.dirty.ratio").and_then(|v| v.parse().ok()).unwrap_or(0.5),
    };
    let now = agent.clock.now_ms();
    let force = lock(&agent.maintenance.expiries).get(&(id, partition)).is_some_and(|at| *at <= now);
    let limits = CleanLimits::default();
    let cleaned = clean_partition(
        agent.meta.as_ref(),
        &agent.storage,
        id,
        partition,
        clean_offset,
        policy,
        limits,
        now,
        agent.ids.nonce(),
        force,
    )
    .await;
    if let Some(Some(report)) = outcome("compaction", cleaned) {
        metrics::counter!("weft_maintenance_bytes_total", "job" => "compaction")
            .increment(report.bytes_before.saturating_sub(report.bytes_after));
        let mut expiries = lock(&agent.maintenance.expiries);
        match report.next_expiry_ms {
            Some(at) => expiries.insert((id, partition), at),
            None => expiries.remove(&(id, partition)),
        };
    }
}
