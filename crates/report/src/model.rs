//! The report's data model, serialised as the run's JSON report (`REPORT_VERSION`). The bench fills the
//! client-side parts (`intervals`, `steps`, `histograms`); the sampler fills `resources`; the analysis fills
//! `bottleneck`. Field names carry their units.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the JSON report layout; bump it when a field changes meaning or is removed. Version 2: the
/// host's network is judged per link (`net_util_percent`, `busiest_link` replace the summed
/// `net_capacity_bytes_per_sec`).
pub const REPORT_VERSION: u32 = 2;

/// One benchmark run, as written to `<dir>/report.json` and read back by `weft bench compare`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub version: u32,
    /// The scenario's name (a shipped one, or the file's stem).
    pub scenario: String,
    pub description: String,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    pub target: Target,
    /// The scenario's settings as run (key = value, for the report's settings table and for comparisons).
    pub settings: RunSettings,
    pub objective: Option<Objective>,
    /// Client-side measurements, one per sampling interval (usually one second), in time order.
    pub intervals: Vec<Interval>,
    /// Ramp steps, in order; empty when the scenario does not ramp.
    pub steps: Vec<Step>,
    /// Highest offered rate (records/s) whose step met the objective; `None` without a ramp or if no step met it.
    pub sustainable_records_per_sec: Option<f64>,
    /// Latency distributions of the whole run, by name (`produce_ack`, `end_to_end`).
    pub histograms: BTreeMap<String, Vec<HistogramBucket>>,
    /// Exact percentiles of the same distributions, by the same names (the buckets are a quarter wide).
    #[serde(default)]
    pub percentiles: BTreeMap<String, Percentiles>,
    /// Host, client-process and target samples taken while the run went on (the sampler's output).
    pub resources: Vec<crate::sample::ResourceSample>,
    /// Which resource bounded the run and why (the analysis' output).
    pub bottleneck: Option<crate::analysis::Bottleneck>,
}

/// What was benchmarked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Target {
    pub bootstrap_servers: String,
    /// The Prometheus endpoint scraped during the run (a Weft agent's `/metrics`, or a Kafka exporter's).
    pub metrics_url: Option<String>,
    /// Process id of the target when it runs on this host (its threads are then sampled too).
    pub pid: Option<u32>,
}

/// A scenario's settings as flat `key = value` pairs.
pub type RunSettings = BTreeMap<String, String>;

/// The latency objective a ramp holds the target to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Objective {
    /// Which latency: `produce_ack` or `end_to_end`.
    pub latency: String,
    /// The percentile, e.g. 99.0.
    pub percentile: f64,
    /// The bound in milliseconds.
    pub max_ms: f64,
}

/// Client-side figures of one interval `[start_ms, start_ms + duration_ms)` since the run's start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Interval {
    pub start_ms: u64,
    pub duration_ms: u64,
    /// The offered produce rate in this interval (records/s); `None` when producing as fast as possible.
    pub offered_records_per_sec: Option<f64>,
    pub produced_records: u64,
    pub produced_bytes: u64,
    pub consumed_records: u64,
    pub consumed_bytes: u64,
    pub produce_errors: u64,
    pub consume_errors: u64,
    pub produce_ack_p50_ms: Option<f64>,
    pub produce_ack_p99_ms: Option<f64>,
    pub end_to_end_p50_ms: Option<f64>,
    pub end_to_end_p99_ms: Option<f64>,
    /// Records produced but not yet acknowledged at the end of the interval (the client's queue).
    pub in_flight_records: u64,
}

/// One step of a ramp: a fixed offered rate held for a while, and whether the objective held.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub offered_records_per_sec: f64,
    pub achieved_records_per_sec: f64,
    pub start_ms: u64,
    pub duration_ms: u64,
    /// The objective's percentile of its latency over the step.
    pub latency_ms: Option<f64>,
    pub produce_ack_p50_ms: Option<f64>,
    pub produce_ack_p99_ms: Option<f64>,
    pub end_to_end_p50_ms: Option<f64>,
    pub end_to_end_p99_ms: Option<f64>,
    pub errors: u64,
    /// The objective held and the achieved rate was within 5 % of the offered one.
    pub met: bool,
}

/// Exact percentiles of one latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
}

/// One bucket of a latency histogram: the count of samples at or below `le_ms` and above the previous bucket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistogramBucket {
    pub le_ms: f64,
    pub count: u64,
}

#[cfg(test)]
mod tests;
