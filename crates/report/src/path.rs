//! Where time went on the produce and fetch paths, from the client's latencies and the agent's metrics,
//! averaged over the run (each interval weighted by its request count): for a produce, the client's queue
//! and the network, batching until the flush and request handling, the object-store PUT (each produce
//! waits for its own segment's), and the metastore commit; for a fetch, object-store GETs and the rest
//! (long-poll wait, cache reads, handling). The stages are derived from different meters, so they are
//! estimates and say so. A produce may also wait for earlier segments (commits are in flush order), but
//! the agent does not time that wait and bucket arithmetic cannot recover it, so it is left inside
//! "batching and handling" rather than booked to the store.

use serde::{Deserialize, Serialize};

use crate::model::{Interval, Run};
use crate::target_metrics::TargetMetrics;

/// One stage of a path: its mean time and its share of the path's total.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Stage {
    pub stage: String,
    pub mean_ms: f64,
    pub share_percent: f64,
    /// How it was derived (the metrics behind it).
    pub source: String,
}

pub const CLIENT_QUEUE: &str = "client queue and network";
pub const BATCHING: &str = "batching until the flush, and request handling";
pub const STORE_PUT: &str = "object-store PUT";
pub const METASTORE_COMMIT: &str = "metastore commit";
pub const STORE_GET: &str = "object-store GET";
pub const FETCH_REST: &str = "long-poll wait, cache reads and handling";

/// The produce path of the run, empty without the agent's produce metrics.
pub fn produce(run: &Run) -> Vec<Stage> {
    let Some(server) = weighted(run, |m| m.produce_mean_ms.zip(m.produce_requests_per_sec)) else { return vec![] };
    let own = weighted(run, |m| put_wait(m).map(|w| (w.own_ms, w.puts_per_sec))).unwrap_or(0.0);
    let commit = weighted(run, |m| m.flush_commit_mean_ms.zip(m.flushes_per_sec)).unwrap_or(0.0);
    let mut stages = Vec::new();
    if let Some(client) = client_p50(&run.intervals) {
        stages.push(stage(
            CLIENT_QUEUE,
            client - server,
            "client produce_ack p50 minus the agent's weft_request_duration_seconds{api=\"Produce\"} mean",
        ));
    }
    stages.push(stage(
        BATCHING,
        server - own - commit,
        "weft_request_duration_seconds{api=\"Produce\"} mean minus the stages below (includes any wait for \
         earlier segments' commits, which the agent does not time)",
    ));
    stages.push(stage(STORE_PUT, own, "weft_object_store_request_duration_seconds{op=\"put\"} mean"));
    stages.push(stage(METASTORE_COMMIT, commit, "weft_flush_duration_seconds{stage=\"commit\"} mean"));
    with_shares(stages)
}

/// The fetch path of the run, empty without the agent's fetch metrics.
pub fn fetch(run: &Run) -> Vec<Stage> {
    let Some(fetch) = weighted(run, |m| m.fetch_mean_ms.zip(m.fetch_requests_per_sec)) else { return vec![] };
    let get_per_fetch = weighted(run, get_time_per_fetch).unwrap_or(0.0);
    let hits = weighted(run, |m| m.cache_hit_ratio.zip(m.fetch_requests_per_sec));
    let hit_note = hits.map_or(String::new(), |h| format!("; segment cache hit ratio {:.0} %", h * 100.0));
    with_shares(vec![
        stage(
            STORE_GET,
            get_per_fetch,
            &format!("weft_object_store_request_duration_seconds{{op=get|get_range}} time per fetch{hit_note}"),
        ),
        stage(FETCH_REST, fetch - get_per_fetch, "weft_request_duration_seconds{api=\"Fetch\"} mean minus GET time"),
    ])
}

/// How long a produce waited on the object store in one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PutWait {
    /// Its own segment's PUT: every acknowledged produce waits for the whole upload.
    pub own_ms: f64,
    /// Uploads in flight on average (Little's law: PUT rate times PUT latency).
    pub in_flight: f64,
    pub puts_per_sec: f64,
}

pub fn put_wait(m: &TargetMetrics) -> Option<PutWait> {
    let put = m.object_store.get("put")?;
    let own_ms = put.mean_ms?;
    let in_flight = put.requests_per_sec * own_ms / 1000.0;
    Some(PutWait { own_ms, in_flight, puts_per_sec: put.requests_per_sec })
}

/// Milliseconds of object-store GETs per fetch request in one interval, weighted by fetches.
pub fn get_time_per_fetch(m: &TargetMetrics) -> Option<(f64, f64)> {
    let fetches = m.fetch_requests_per_sec.filter(|f| *f > 0.0)?;
    let busy: f64 = ["get", "get_range"]
        .iter()
        .filter_map(|op| m.object_store.get(*op))
        .map(|o| o.requests_per_sec * o.mean_ms.unwrap_or(0.0))
        .sum();
    Some((busy / fetches, fetches))
}

/// The mean of `value` over the run's target samples, each weighted by its paired rate.
pub fn weighted(run: &Run, value: impl Fn(&TargetMetrics) -> Option<(f64, f64)>) -> Option<f64> {
    let (sum, weight) = run
        .resources
        .iter()
        .filter_map(|s| value(s.metrics.as_ref()?))
        .filter(|(v, w)| v.is_finite() && *w > 0.0)
        .fold((0.0, 0.0), |(s, t), (v, w)| (s + v * w, t + w));
    (weight > 0.0).then(|| sum / weight)
}

/// The client's produce acknowledgement p50 over the run, weighted by records.
fn client_p50(intervals: &[Interval]) -> Option<f64> {
    let (sum, weight) = intervals
        .iter()
        .filter_map(|i| Some((i.produce_ack_p50_ms?, i.produced_records as f64)))
        .filter(|(_, w)| *w > 0.0)
        .fold((0.0, 0.0), |(s, t), (v, w)| (s + v * w, t + w));
    (weight > 0.0).then(|| sum / weight)
}

fn stage(name: &str, mean_ms: f64, source: &str) -> Stage {
    Stage { stage: name.to_string(), mean_ms: mean_ms.max(0.0), share_percent: 0.0, source: source.to_string() }
}

fn with_shares(mut stages: Vec<Stage>) -> Vec<Stage> {
    let total: f64 = stages.iter().map(|s| s.mean_ms).sum();
    for s in &mut stages {
        s.share_percent = if total > 0.0 { s.mean_ms * 100.0 / total } else { 0.0 };
    }
    stages
}
