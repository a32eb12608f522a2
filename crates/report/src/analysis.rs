//! The bottleneck analysis: which resource saturated first and why, where time went on the produce and
//! fetch paths, and the one change that would move the ceiling most, each claim tied to its measurement.
//!
//! The order of reasoning: a hard ceiling (a CPU, a disk, the network, a budget, a quota, a throttling
//! store) that the samples show saturated comes first, the earliest one winning and any other within
//! `AMBIGUITY_WINDOW_MS` named beside it; without one, a stage that dominates request latency (the
//! object-store PUT or GET, the metastore commit); without that, the latency objective itself when the run
//! broke it (latency bound by batching: linger or flush interval), and otherwise nothing saturated.

use serde::{Deserialize, Serialize};

use crate::detect::{self, Evidence, Finding, resource};
use crate::model::{Run, Step};
use crate::path::{self, Stage};

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
    } else if let Some(broken) = objective_broken(run) {
        latency_bound(broken, &produce_path)
    } else {
        Bottleneck { resource: resource::NONE.into(), ..Bottleneck::default() }
    };
    explain(&mut b, &produce_path);
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

/// Where the run's objective broke: the first ramp step that missed it, or the first interval over it.
struct Broken {
    metric: String,
    value: f64,
    max_ms: f64,
    at_ms: u64,
}

fn objective_broken(run: &Run) -> Option<Broken> {
    let o = run.objective.as_ref()?;
    let metric = format!("{} p{} latency", o.latency, o.percentile);
    if !run.steps.is_empty() {
        let step: &Step = run.steps.iter().find(|s| s.latency_ms.is_some_and(|l| l > o.max_ms))?;
        return Some(Broken { metric, value: step.latency_ms?, max_ms: o.max_ms, at_ms: step.start_ms });
    }
    let end_to_end = o.latency == "end_to_end";
    let high = o.percentile > 50.0;
    run.intervals.iter().find_map(|i| {
        let v = match (end_to_end, high) {
            (false, true) => i.produce_ack_p99_ms,
            (false, false) => i.produce_ack_p50_ms,
            (true, true) => i.end_to_end_p99_ms,
            (true, false) => i.end_to_end_p50_ms,
        }?;
        (v > o.max_ms).then(|| Broken { metric: metric.clone(), value: v, max_ms: o.max_ms, at_ms: i.start_ms })
    })
}

fn latency_bound(broken: Broken, produce: &[Stage]) -> Bottleneck {
    let Broken { metric, value, max_ms, at_ms } = broken;
    let mut evidence = vec![Evidence { metric, value, threshold: Some(max_ms), unit: "ms".into(), at_ms }];
    if let Some(top) = produce.iter().max_by(|a, b| a.mean_ms.total_cmp(&b.mean_ms)) {
        let metric = format!("produce path: {} ({})", top.stage, top.source);
        evidence.push(Evidence { metric, value: top.mean_ms, threshold: None, unit: "ms".into(), at_ms });
    }
    Bottleneck { resource: resource::LATENCY_OBJECTIVE.into(), evidence, at_ms: Some(at_ms), ..Default::default() }
}

/// Fills the summary, the change and its expected effect.
fn explain(b: &mut Bottleneck, produce: &[Stage]) {
    let first = b.evidence.first().map(|e| {
        let over = e.threshold.map_or(String::new(), |t| format!(" (threshold {t:.1})"));
        format!("{} at {:.1} {}{over}", e.metric, e.value, e.unit)
    });
    let at = b.at_ms.map(|t| format!(" from {:.1} s", t as f64 / 1000.0)).unwrap_or_default();
    let stage_ms = |name: &str| produce.iter().find(|s| s.stage == name).map_or(0.0, |s| s.mean_ms);
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
        resource::OBJECT_STORE if b.evidence.iter().any(|e| e.metric.contains("result=\"error\"")) => (
            "object-store bound: the store is failing or throttling requests (503 SlowDown)".into(),
            "fewer, larger PUTs: raise --flush-bytes and --flush-interval-ms (or spread load over more prefixes)",
            "fewer throttled requests and retried flushes, at higher produce latency".into(),
        ),
        resource::OBJECT_STORE => (
            "object-store bound: produce (or fetch) time is mostly the object store's latency".into(),
            "use a lower-latency store (S3 Express One Zone: about ten times faster PUTs), or add agents and raise --max-inflight-flushes for throughput",
            format!(
                "produce latency falls by most of the {:.0} ms spent on PUTs; larger --flush-bytes raises throughput per PUT but not latency",
                stage_ms(path::STORE_PUT) + stage_ms(path::STORE_EARLIER)
            ),
        ),
        resource::METASTORE => (
            "metastore bound: commits take most of the produce time".into(),
            "a faster metastore (PostgreSQL close to the agents, or a faster disk for SQLite); larger flushes (--flush-bytes, --flush-interval-ms) mean fewer commits",
            format!("produce latency falls by most of the {:.0} ms commit", stage_ms(path::METASTORE_COMMIT)),
        ),
        resource::LATENCY_OBJECTIVE => latency_advice(produce),
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
