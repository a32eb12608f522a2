//! The bottleneck analysis: which resource saturated first and why, where time went on the produce and
//! fetch paths, and the one change that would move the ceiling most, each claim tied to its measurement.
//!
//! The order of reasoning: a hard ceiling (a CPU, a disk, the network, a budget, a quota, a throttling
//! store) that the samples show saturated comes first, the earliest one winning and any other within
//! `AMBIGUITY_WINDOW_MS` named beside it; without one, a stage that dominates request latency (the
//! object-store PUT or GET, the metastore commit); without that, where the ramp stopped: the first step
//! that missed (its latency over the objective, judged at the objective's own percentile: latency bound by
//! batching; or its achieved rate short of the offered one: a throughput ceiling nothing measured
//! explains), or an unramped run's latency over the objective; and otherwise nothing saturated.

use serde::{Deserialize, Serialize};

use crate::detect::{self, Evidence, Finding, resource};
use crate::model::{HistogramBucket, Run, Step};
use crate::path::{self, Stage};
use crate::prom::Histogram;

/// Two resources saturating within this long of each other cannot be told apart by order: with one-second
/// samples and two samples to confirm, one crossing a little earlier is noise.
pub const AMBIGUITY_WINDOW_MS: u64 = 2_000;

/// Which resource bounded a run, why, and the change that would move the ceiling most.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Bottleneck {
    /// One of `detect::resource` (`object_store`, `client_cpu`, ..., `latency_objective`, `none`).
    pub resource: String,
    pub summary: String,
    /// Other resources that saturated at about the same time (then the first is not certain).
    pub ambiguous_with: Vec<String>,
    /// The measurements behind the claim.
    pub evidence: Vec<Evidence>,
    /// Milliseconds since the start when the resource was first seen saturated.
    pub at_ms: Option<u64>,
    pub produce_path: Vec<Stage>,
    pub fetch_path: Vec<Stage>,
    /// The one change that would move the ceiling most.
    pub change: String,
    pub expected_effect: String,
}

/// Analyses a finished run (its intervals, steps and resource samples).
pub fn analyse(run: &Run) -> Bottleneck {
    let produce_path = path::produce(run);
    let fetch_path = path::fetch(run);
    let saturated = detect::saturated(&run.resources);
    let dominant = detect::dominant(&run.resources);
    let mut b = if let Some(first) = saturated.first() {
        from_finding(first, ambiguous(first, &saturated))
    } else if let Some(first) = dominant.first() {
        from_finding(first, ambiguous(first, &dominant))
    } else if let Some(step) = run.steps.iter().find(|s| !s.met) {
        ramp_stopped(run, step, &produce_path)
    } else if let Some(broken) = run.steps.is_empty().then(|| objective_broken(run)).flatten() {
        latency_bound(broken, &produce_path)
    } else {
        Bottleneck { resource: resource::NONE.into(), ..Bottleneck::default() }
    };
    explain(&mut b, &produce_path);
    b.evidence.extend(remote_target_cpu(run));
    b.produce_path = produce_path;
    b.fetch_path = fetch_path;
    b
}

/// Other findings within the window of `first` (the host's CPU is left out when a process's CPU explains it).
fn ambiguous(first: &Finding, all: &[Finding]) -> Vec<String> {
    let process_cpu = all.iter().any(|f| [resource::CLIENT_CPU, resource::TARGET_CPU].contains(&f.resource));
    all.iter()
        .filter(|f| f.resource != first.resource && f.at_ms <= first.at_ms + AMBIGUITY_WINDOW_MS)
        .filter(|f| !(process_cpu && f.resource == resource::HOST_CPU))
        .map(|f| f.resource.to_string())
        .fold(Vec::new(), |mut out, r| {
            if !out.contains(&r) {
                out.push(r);
            }
            out
        })
}

fn from_finding(f: &Finding, ambiguous_with: Vec<String>) -> Bottleneck {
    Bottleneck {
        resource: f.resource.to_string(),
        evidence: f.evidence.clone(),
        at_ms: Some(f.at_ms),
        ambiguous_with,
        ..Bottleneck::default()
    }
}

/// Where an unramped run's objective broke.
struct Broken {
    metric: String,
    value: f64,
    max_ms: f64,
    at_ms: Option<u64>,
    end_ms: u64,
}

/// The first step of a ramp that missed: over the objective (its latency is the objective's percentile,
/// as the bench measured it) or short of its offered rate.
fn ramp_stopped(run: &Run, step: &Step, produce: &[Stage]) -> Bottleneck {
    let at_ms = step.start_ms + step.duration_ms;
    let context = |metric: &str, value: f64, unit: &str| Evidence {
        metric: metric.into(),
        value,
        threshold: None,
        unit: unit.into(),
        at_ms,
    };
    let rates = [
        context("ramp step offered rate", step.offered_records_per_sec, "records/s"),
        context("ramp step achieved rate", step.achieved_records_per_sec, "records/s"),
    ];
    let over = run.objective.as_ref().and_then(|o| Some((o, step.latency_ms.filter(|l| *l > o.max_ms)?)));
    if let Some((o, latency)) = over {
        let metric = format!("{} p{} latency (ramp step)", o.latency, o.percentile);
        let broken = Broken { metric, value: latency, max_ms: o.max_ms, at_ms: Some(step.start_ms), end_ms: at_ms };
        let mut b = latency_bound(broken, produce);
        b.evidence.extend(rates);
        return b;
    }
    let mut evidence = rates.to_vec();
    if step.offered_records_per_sec > 0.0 {
        let share = step.achieved_records_per_sec * 100.0 / step.offered_records_per_sec;
        evidence.insert(0, context("ramp step achieved rate, of offered", share, "%"));
    }
    if step.errors > 0 {
        evidence.push(context("ramp step errors", step.errors as f64, "errors"));
    }
    Bottleneck {
        resource: resource::THROUGHPUT_CEILING.into(),
        evidence,
        at_ms: Some(step.start_ms),
        ..Bottleneck::default()
    }
}

/// An unramped run over its objective: the first interval over it when the interval keeps the objective's
/// percentile (p50, p99), else the run's whole latency histogram at that percentile.
fn objective_broken(run: &Run) -> Option<Broken> {
    let o = run.objective.as_ref()?;
    let metric = format!("{} p{} latency", o.latency, o.percentile);
    let end_ms = run.intervals.last().map_or(0, |i| i.start_ms + i.duration_ms);
    let end_to_end = o.latency == "end_to_end";
    let field = |i: &crate::model::Interval| match (end_to_end, o.percentile) {
        (false, 99.0) => Some(i.produce_ack_p99_ms),
        (false, 50.0) => Some(i.produce_ack_p50_ms),
        (true, 99.0) => Some(i.end_to_end_p99_ms),
        (true, 50.0) => Some(i.end_to_end_p50_ms),
        _ => None,
    };
    if run.intervals.first().and_then(field).is_some() {
        return run.intervals.iter().find_map(|i| {
            let v = field(i)??;
            (v > o.max_ms).then(|| Broken {
                metric: metric.clone(),
                value: v,
                max_ms: o.max_ms,
                at_ms: Some(i.start_ms),
                end_ms: i.start_ms + i.duration_ms,
            })
        });
    }
    let value = percentile(run.histograms.get(&o.latency)?, o.percentile)?;
    let metric = format!("{metric} over the whole run");
    (value > o.max_ms).then_some(Broken { metric, value, max_ms: o.max_ms, at_ms: None, end_ms })
}

/// The `p` percentile (0..100) of a latency histogram, interpolated inside its bucket.
fn percentile(buckets: &[HistogramBucket], p: f64) -> Option<f64> {
    let mut cumulative = 0.0;
    let mut h = Histogram::default();
    for b in buckets {
        cumulative += b.count as f64;
        h.buckets.push((b.le_ms, cumulative));
    }
    if h.buckets.last().is_some_and(|b| b.0.is_finite()) {
        h.buckets.push((f64::INFINITY, cumulative)); // every sample is at or below the last bound
    }
    h.count = cumulative;
    h.quantile(p / 100.0)
}

fn latency_bound(broken: Broken, produce: &[Stage]) -> Bottleneck {
    let Broken { metric, value, max_ms, at_ms, end_ms } = broken;
    let mut evidence = vec![Evidence { metric, value, threshold: Some(max_ms), unit: "ms".into(), at_ms: end_ms }];
    if let Some(top) = produce.iter().max_by(|a, b| a.mean_ms.total_cmp(&b.mean_ms)) {
        let metric = format!("produce path: {} ({})", top.stage, top.source);
        evidence.push(Evidence { metric, value: top.mean_ms, threshold: None, unit: "ms".into(), at_ms: end_ms });
    }
    Bottleneck { resource: resource::LATENCY_OBJECTIVE.into(), evidence, at_ms, ..Default::default() }
}

/// A remote target's CPU use, in cores at its peak, when nothing says how many cores it has: evidence
/// for the reader, never a verdict.
fn remote_target_cpu(run: &Run) -> Option<Evidence> {
    if run.resources.iter().any(|s| s.target.is_some()) {
        return None;
    }
    let (at_ms, percent) = run
        .resources
        .iter()
        .filter_map(|s| {
            let m = s.metrics.as_ref().filter(|m| m.cores.is_none())?;
            Some((s.t_ms, m.process_cpu_percent?))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let metric = "target process_cpu_seconds_total rate, peak (its host's cores unknown: no verdict)".to_string();
    Some(Evidence { metric, value: percent / 100.0, threshold: None, unit: "cores".into(), at_ms })
}

/// Fills the summary, the change and its expected effect.
fn explain(b: &mut Bottleneck, produce: &[Stage]) {
    let first = b.evidence.first().map(|e| {
        let over = e.threshold.map_or(String::new(), |t| format!(" (threshold {t:.1})"));
        format!("{} at {:.1} {}{over}", e.metric, e.value, e.unit)
    });
    let at = b.at_ms.map(|t| format!(" from {:.1} s", t as f64 / 1000.0)).unwrap_or_default();
    let stage_ms = |name: &str| produce.iter().find(|s| s.stage == name).map_or(0.0, |s| s.mean_ms);
    let has = |metric: &str| b.evidence.iter().any(|e| e.metric == metric);
    let (what, change, effect): (String, &str, String) = match b.resource.as_str() {
        resource::CLIENT_CPU => (
            "client bound: the load generator ran out of CPU before the target did".into(),
            "run more producer processes (or machines), so the client is no longer the ceiling",
            "higher throughput until the next resource saturates; the target's own ceiling is above what was measured"
                .into(),
        ),
        resource::TARGET_CPU => (
            "target CPU bound".into(),
            "add agents (they are stateless: produce and fetch spread over them), or give the agent more cores",
            "throughput rises about in proportion to agents until the object store or metastore binds".into(),
        ),
        resource::HOST_CPU => (
            "host CPU bound: every core was busy".into(),
            "run the client and the target on separate hosts, or use a bigger host",
            "throughput rises until one process's CPU binds".into(),
        ),
        resource::DISK => (
            "disk bound".into(),
            "use a faster disk for the data directory (metastore and local store), or S3 instead of a local directory",
            "less I/O wait on every flush and commit".into(),
        ),
        resource::NETWORK => (
            "network bound: the links are near their speed".into(),
            "compress (compression.type=zstd or lz4) or spread agents and clients over more hosts",
            "bytes on the wire drop by the compression ratio".into(),
        ),
        resource::REQUEST_BYTES => (
            "request-bytes budget full: the agent stopped reading sockets (backpressure)".into(),
            "raise --queued-max-request-bytes, or add agents",
            "more requests in flight; if flushes are what holds the bytes, the object store binds next".into(),
        ),
        resource::QUOTA => (
            "quota bound: a client quota throttled the load".into(),
            "raise or remove the client quota (kafka-configs --alter --entity-type clients)",
            "throughput rises to the quota's new value".into(),
        ),
        resource::OBJECT_STORE if has(detect::THROTTLED_METRIC) => (
            "object-store bound: the store is throttling requests (503 SlowDown, 429), retried before they fail"
                .into(),
            "fewer, larger PUTs: raise --flush-bytes and --flush-interval-ms (or spread load over more prefixes)",
            "fewer throttled attempts and backoffs on the flush path, at higher produce latency".into(),
        ),
        resource::OBJECT_STORE if has(detect::RETRIED_METRIC) || has(detect::FAILED_METRIC) => (
            "object-store bound: the store is failing requests (timeouts, 5xx), retried or failed".into(),
            "check the store's health and the path to it (region, endpoint, network); fewer, larger PUTs (--flush-bytes) lower the request rate",
            "fewer retried attempts and failed flushes".into(),
        ),
        resource::OBJECT_STORE if has(detect::COMMITTER_METRIC) => (
            "object-store bound: commits are in flush order and the committer was kept busy waiting for uploads, so segments queue and a slow PUT holds up every later one".into(),
            "a lower-latency, steadier store (S3 Express One Zone), or fewer, larger segments (--flush-bytes, --flush-interval-ms) so fewer uploads queue",
            "produce latency falls by the queueing behind earlier uploads; throughput per commit rises with segment size".into(),
        ),
        resource::METASTORE if has(detect::COMMITTER_METRIC) => (
            "metastore bound: commits are in flush order and the committer was kept busy committing, so segments queue behind earlier commits".into(),
            "a faster metastore (PostgreSQL close to the agents, or a faster disk for SQLite); larger flushes (--flush-bytes, --flush-interval-ms) mean fewer commits",
            "produce latency falls by the queueing behind earlier commits".into(),
        ),
        resource::OBJECT_STORE => (
            "object-store bound: produce (or fetch) time is mostly the object store's latency".into(),
            "use a lower-latency store (S3 Express One Zone: about ten times faster PUTs), or add agents and raise --max-inflight-flushes for throughput",
            format!(
                "produce latency falls by most of the {:.0} ms spent on PUTs; larger --flush-bytes raises throughput per PUT but not latency",
                stage_ms(path::STORE_PUT)
            ),
        ),
        resource::METASTORE => (
            "metastore bound: commits take most of the produce time".into(),
            "a faster metastore (PostgreSQL close to the agents, or a faster disk for SQLite); larger flushes (--flush-bytes, --flush-interval-ms) mean fewer commits",
            format!("produce latency falls by most of the {:.0} ms commit", stage_ms(path::METASTORE_COMMIT)),
        ),
        resource::LATENCY_OBJECTIVE => latency_advice(produce),
        resource::THROUGHPUT_CEILING => (
            "throughput ceiling: a ramp step fell short of its offered rate with nothing measured saturated".into(),
            "measure what was not: give --metrics-url (and the target's pid when it runs here), or run producers from more hosts to rule the client out",
            "a run that measures the saturating resource names it".into(),
        ),
        _ => (
            "nothing saturated: the offered load stayed below every ceiling measured".into(),
            "offer more load (a higher ramp, more producers) to find the ceiling",
            "a run that reaches a ceiling names it".into(),
        ),
    };
    let ambiguous = if b.ambiguous_with.is_empty() {
        String::new()
    } else {
        format!("; ambiguous: {} saturated at about the same time", b.ambiguous_with.join(", "))
    };
    b.summary = match first {
        Some(first) => format!("{what}{at}: {first}{ambiguous}"),
        None => what,
    };
    b.change = change.to_string();
    b.expected_effect = effect;
}

/// Nothing saturated but the objective broke: the latency is made of waiting, and the largest wait says which.
fn latency_advice(produce: &[Stage]) -> (String, &'static str, String) {
    let top = produce.iter().max_by(|a, b| a.mean_ms.total_cmp(&b.mean_ms));
    match top.map(|s| (s.stage.as_str(), s.mean_ms)) {
        Some((path::CLIENT_QUEUE, ms)) => (
            "latency-objective bound: nothing saturated; latency is the client's own batching and queueing".into(),
            "lower the producer's linger.ms / batch.size, or add producers so each queues less",
            format!("produce latency falls by up to the {ms:.0} ms spent in the client"),
        ),
        Some((_, _)) => (
            "latency-objective bound: nothing saturated; latency is batching until the flush".into(),
            "lower --flush-interval-ms, at the cost of more PUTs (one per flush)",
            format!(
                "produce latency falls with the flush interval (batching took {:.0} ms); PUTs per second rise as it shrinks",
                produce.iter().find(|s| s.stage == path::BATCHING).map_or(0.0, |s| s.mean_ms)
            ),
        ),
        None => (
            "latency-objective bound: nothing saturated (no agent metrics to say where time went)".into(),
            "lower linger.ms and the target's flush interval; give --metrics-url to see where time goes",
            "lower latency at a higher request rate".into(),
        ),
    }
}

#[cfg(test)]
mod tests;
