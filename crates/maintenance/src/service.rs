//! The maintenance service: the agent holding the `maintenance` lease runs retention, log compaction,
//! object compaction and garbage collection every interval; other agents only try to take the lease. What
//! each job does is in its own module; this one schedules them and remembers progress between passes.
//!
//! A pass first applies retention to every topic (metadata only), then walks the partitions for log
//! compaction and object compaction until the pass's byte allowance is spent; the next pass resumes the walk
//! where this one stopped, so every partition gets its turn however small the allowance.

use crate::budget::BudgetLimits;
use crate::cleaner::{CleanLimits, CleanPolicy, Cleaning, clean_partition_paced};
use crate::merge::{MergeLimits, Position, merge_partition_paced};
use crate::retention::{self, RetentionPolicy};
use crate::{Budget, MaintenanceError, Pace, Worker, gc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;
use weft_clock::{Clock, IdSource};
use weft_log::PartitionWatch;
use weft_meta::Metastore;
use weft_storage::ObjectStorage;
use weft_topics::{TopicCache, TopicEntry};

/// The lease that elects the agent running maintenance.
const LEASE: &str = "maintenance";
/// Orphans are looked for once every this many passes (listing a bucket is not free).
const ORPHAN_SCAN_EVERY: u64 = 12;
/// An orphan scan lists the whole bucket when the last whole listing is this old (or this process never made
/// one); the others list only what is new since the last scan (listing a week of objects every minute cost
/// more LIST requests than the uploads themselves). Kept by time, not passes, so a longer maintenance interval
/// does not stretch it.
const FULL_ORPHAN_SCAN_MS: i64 = 24 * 3_600_000;

/// How often and how much the loop works (from the agent's configuration).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How often the lease holder runs a pass.
    pub interval: Duration,
    /// Bytes object compaction copies into one per-partition object at most.
    pub merge_target_bytes: u64,
    /// Flush segments younger than this are not merged.
    pub merge_min_age: Duration,
    /// How long an unreferenced object is kept before it is deleted.
    pub gc_grace: Duration,
    /// Uploads never committed are deleted once this old.
    pub orphan_grace: Duration,
    /// The byte rate and per-pass allowance of log compaction and object compaction.
    pub budget: BudgetLimits,
}

/// What the loop reads and changes.
pub struct Deps {
    pub meta: Arc<dyn Metastore>,
    pub storage: ObjectStorage,
    pub topics: Arc<TopicCache>,
    /// Retention moves log starts; waiting fetches learn it here.
    pub partitions: Arc<PartitionWatch>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

/// The maintenance service of one agent: it runs a pass whenever it holds the maintenance lease.
pub struct Maintainer {
    deps: Deps,
    schedule: Schedule,
    state: Progress,
    pace: Pace,
}

/// Progress the loop remembers between passes.
#[derive(Default)]
struct Progress {
    /// Per partition: when a tombstone or marker kept by the cleaner expires (a pass is then forced).
    expiries: Mutex<HashMap<(Uuid, i32), i64>>,
    /// Per partition: object compaction found no flush segment below this offset last time.
    merge_from: Mutex<HashMap<(Uuid, i32), i64>>,
    passes: std::sync::atomic::AtomicU64,
    /// The cutoff of this agent's last complete orphan scan: everything created before it was looked at.
    orphans_scanned_to: Mutex<Option<i64>>,
    /// When this agent last listed the whole bucket for orphans.
    last_full_orphan_scan_ms: Mutex<Option<i64>>,
    /// Where the walk over partitions resumes (an index into the pass's list of partitions).
    cursor: std::sync::atomic::AtomicUsize,
}

impl Maintainer {
    pub fn new(deps: Deps, schedule: Schedule) -> Self {
        let pace = Pace { budget: Budget::new(schedule.budget), worker: Worker::start() };
        Maintainer { deps, schedule, state: Progress::default(), pace }
    }

    /// Runs one pass now. The caller must hold the maintenance lease (or be alone, as tools and tests are).
    pub async fn run_one_pass(&self) {
        pass(self, None).await
    }

    /// Runs one pass if `holder` gets the maintenance lease (or already holds it), renewing it during the
    /// pass; returns whether it ran. The lease lasts three intervals, at least 30 s.
    pub async fn run_leased_pass(&self, holder: &str) -> bool {
        let now = self.deps.clock.now_ms();
        let ttl = i64::try_from(self.schedule.interval.as_millis()).unwrap_or(i64::MAX).saturating_mul(3).max(30_000);
        match self.deps.meta.acquire_lease(LEASE, holder, now, ttl).await {
            Ok(true) => {
                let lease = Lease { holder, ttl_ms: ttl, renewed_ms: std::sync::atomic::AtomicI64::new(now) };
                pass(self, Some(&lease)).await;
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = %e, "maintenance lease unavailable");
                false
            }
        }
    }

    /// Runs maintenance passes forever; `holder` names this agent in the lease.
    pub async fn run(self, holder: String) {
        run(&self, holder).await
    }
}

async fn run(agent: &Maintainer, holder: String) {
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
    let mut interval = tokio::time::interval(agent.schedule.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        agent.run_leased_pass(&holder).await;
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

/// The maintenance lease as the pass holding it keeps it: renewed between partitions once a third of its
/// time is gone, so a long pass (a slow store, a large backlog) never runs on past its lease while another
/// agent takes it. Running twice would be safe (every rewrite is a conditional metastore transaction), only
/// wasteful.
struct Lease<'a> {
    holder: &'a str,
    ttl_ms: i64,
    renewed_ms: std::sync::atomic::AtomicI64,
}

/// Whether the pass may go on: true without a lease (tools, tests), else once the lease is renewed if due.
async fn still_holds(agent: &Maintainer, lease: Option<&Lease<'_>>) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(lease) = lease else { return true };
    let now = agent.deps.clock.now_ms();
    if now.saturating_sub(lease.renewed_ms.load(Relaxed)) < lease.ttl_ms / 3 {
        return true;
    }
    match agent.deps.meta.acquire_lease(LEASE, lease.holder, now, lease.ttl_ms).await {
        Ok(true) => {
            lease.renewed_ms.store(now, Relaxed);
            true
        }
        Ok(false) => {
            tracing::warn!(
                holder = lease.holder,
                "maintenance lease taken by another agent during a pass; the pass stops"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "maintenance lease could not be renewed; the pass stops");
            false
        }
    }
}

async fn pass(agent: &Maintainer, lease: Option<&Lease<'_>>) {
    let topics = match agent.deps.meta.list_topics().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "maintenance: cannot list topics");
            return;
        }
    };
    agent.pace.budget.start_pass();
    // Forget progress of deleted topics, so these maps stay bounded by the live partitions.
    let live: std::collections::HashSet<Uuid> = topics.iter().map(|t| t.id).collect();
    lock(&agent.state.merge_from).retain(|(id, _), _| live.contains(id));
    lock(&agent.state.expiries).retain(|(id, _), _| live.contains(id));
    let mut work = Vec::new();
    for t in topics {
        let Ok(Some(entry)) = agent.deps.topics.get(agent.deps.meta.as_ref(), &t.name).await else { continue };
        if entry.has_policy("delete") {
            retain(agent, &entry).await;
        }
        let clean_offsets = clean_offsets(agent, &entry).await;
        for partition in 0..entry.topic.partitions {
            work.push(Work { entry: entry.clone(), partition, clean_offset: clean_offsets.get(&partition).copied() });
        }
    }
    rewrite(agent, &work, lease).await;
    if still_holds(agent, lease).await {
        collect(agent).await;
    }
}

/// One partition's turn at log compaction and object compaction.
struct Work {
    entry: Arc<TopicEntry>,
    partition: i32,
    /// The cleaner position, on compacted topics.
    clean_offset: Option<i64>,
}

async fn retain(agent: &Maintainer, entry: &TopicEntry) {
    let (id, partitions) = (entry.topic.id, entry.topic.partitions);
    let policy = RetentionPolicy {
        retention_ms: entry.config_i64("retention.ms"),
        retention_bytes: entry.config_i64("retention.bytes"),
    };
    let now = agent.deps.clock.now_ms();
    if let Some(moved) =
        outcome("retention", retention::apply(agent.deps.meta.as_ref(), id, partitions, policy, now).await)
    {
        for (partition, bounds) in moved {
            tracing::info!(topic = %entry.topic.name, partition, log_start = bounds.log_start, "retention moved the log start");
            agent.deps.partitions.advance(id, partition, bounds);
        }
    }
}

/// Cleaner positions of every partition of a compacted topic, read once per topic.
async fn clean_offsets(agent: &Maintainer, entry: &TopicEntry) -> HashMap<i32, i64> {
    if !entry.has_policy("compact") {
        return HashMap::new();
    }
    match agent.deps.meta.partition_storage(entry.topic.id).await {
        Ok(parts) => parts.into_iter().map(|(p, s)| (p, s.clean_offset)).collect(),
        Err(e) => {
            tracing::warn!(topic = %entry.topic.name, error = %e, "log compaction skipped: partition state unavailable");
            HashMap::new()
        }
    }
}

/// Log compaction and object compaction over the partitions, from the cursor on, until the pass's
/// allowance is spent.
async fn rewrite(agent: &Maintainer, work: &[Work], lease: Option<&Lease<'_>>) {
    use std::sync::atomic::Ordering::Relaxed;
    if work.is_empty() {
        return;
    }
    let first = agent.state.cursor.load(Relaxed) % work.len();
    for step in 0..work.len() {
        let i = (first + step) % work.len();
        if agent.pace.budget.pass_spent() || !still_holds(agent, lease).await {
            agent.state.cursor.store(i, Relaxed);
            return;
        }
        let w = &work[i];
        if let Some(clean_offset) = w.clean_offset {
            clean(agent, &w.entry, w.partition, clean_offset).await;
        }
        merge(agent, w.entry.topic.id, w.partition).await;
    }
    agent.state.cursor.store(first, Relaxed);
}

async fn merge(agent: &Maintainer, id: Uuid, partition: i32) {
    let limits = MergeLimits {
        target_bytes: agent.schedule.merge_target_bytes,
        min_age_ms: i64::try_from(agent.schedule.merge_min_age.as_millis()).unwrap_or(i64::MAX),
        ..MergeLimits::default()
    };
    let key = (id, partition);
    let from_offset = lock(&agent.state.merge_from).get(&key).copied().unwrap_or(0);
    let (now, nonce) = (agent.deps.clock.now_ms(), agent.deps.ids.nonce());
    let at = Position { topic_id: id, partition, from_offset };
    let merged =
        merge_partition_paced(agent.deps.meta.as_ref(), &agent.deps.storage, at, limits, now, nonce, &agent.pace).await;
    if let Some(pass) = outcome("merge", merged) {
        lock(&agent.state.merge_from).insert(key, pass.resume_from);
        if let Some(r) = pass.report {
            metrics::counter!("weft_maintenance_bytes_total", "job" => "merge").increment(r.bytes);
        }
    }
}

/// Garbage collection: dead objects every pass, orphans every [`ORPHAN_SCAN_EVERY`] passes.
async fn collect(agent: &Maintainer) {
    let now = agent.deps.clock.now_ms();
    let grace = i64::try_from(agent.schedule.gc_grace.as_millis()).unwrap_or(i64::MAX);
    if let Some(n) = outcome("gc", gc::collect_dead(agent.deps.meta.as_ref(), &agent.deps.storage, now, grace).await)
        && n > 0
    {
        tracing::info!(objects = n, "garbage collector deleted unreferenced objects");
        metrics::counter!("weft_gc_objects_deleted_total", "kind" => "dead").increment(n as u64);
    }
    let passes = agent.state.passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if passes.is_multiple_of(ORPHAN_SCAN_EVERY) {
        let orphan_grace = i64::try_from(agent.schedule.orphan_grace.as_millis()).unwrap_or(i64::MAX);
        // Only what was created since the last scan's cutoff, less one more grace (an upload that landed late)
        // is listed again; the first scan of this process lists everything.
        // A whole listing also runs once every FULL_ORPHAN_SCAN_MS, for anything a late upload hid.
        let full = lock(&agent.state.last_full_orphan_scan_ms).is_none_or(|t| now - t >= FULL_ORPHAN_SCAN_MS);
        let from = lock(&agent.state.orphans_scanned_to).filter(|_| !full).map(|to| to.saturating_sub(orphan_grace));
        let scan = gc::collect_orphans(agent.deps.meta.as_ref(), &agent.deps.storage, now, orphan_grace, from).await;
        if let Some((n, cutoff)) = outcome("orphans", scan) {
            *lock(&agent.state.orphans_scanned_to) = Some(cutoff);
            if full {
                *lock(&agent.state.last_full_orphan_scan_ms) = Some(now);
            }
            if n > 0 {
                metrics::counter!("weft_gc_objects_deleted_total", "kind" => "orphan").increment(n as u64);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn clean(agent: &Maintainer, entry: &TopicEntry, partition: i32, clean_offset: i64) {
    let id = entry.topic.id;
    let policy = CleanPolicy {
        delete_retention_ms: entry.config_i64("delete.retention.ms"),
        min_lag_ms: entry.config_i64("min.compaction.lag.ms"),
        max_lag_ms: entry.config_i64("max.compaction.lag.ms"),
        min_dirty_ratio: entry.config("min.cleanable.dirty.ratio").and_then(|v| v.parse().ok()).unwrap_or(0.5),
    };
    let now = agent.deps.clock.now_ms();
    let force = lock(&agent.state.expiries).get(&(id, partition)).is_some_and(|at| *at <= now);
    let limits = CleanLimits::default();
    let at = Cleaning { topic_id: id, partition, clean_offset, policy, force };
    let nonce = agent.deps.ids.nonce();
    let cleaned =
        clean_partition_paced(agent.deps.meta.as_ref(), &agent.deps.storage, at, limits, now, nonce, &agent.pace).await;
    if let Some(Some(report)) = outcome("compaction", cleaned) {
        metrics::counter!("weft_maintenance_bytes_total", "job" => "compaction")
            .increment(report.bytes_before.saturating_sub(report.bytes_after));
        let mut expiries = lock(&agent.state.expiries);
        match report.next_expiry_ms {
            Some(at) => expiries.insert((id, partition), at),
            None => expiries.remove(&(id, partition)),
        };
    }
}
