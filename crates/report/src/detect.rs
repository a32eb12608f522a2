//! The detectors behind the bottleneck analysis: for each resource, the first moment the samples show it
//! saturated (held over a threshold for `SUSTAINED_SAMPLES` samples in a row), with the measurement that
//! says so. Thresholds are named here with the reason for each value.

use serde::{Deserialize, Serialize};

use crate::path;
use crate::sample::ResourceSample;

/// A thread can use at most one core; one at 90 % of it over whole intervals rarely waits, so it is the
/// serial part that caps throughput (what is left is scheduling noise and the sampler's own reads).
pub const THREAD_SATURATED_PERCENT: f64 = 90.0;
/// A thread that was on a CPU or waiting in a run queue 90 % of the time would use 90 % of a core given
/// one: on a host shared with other work it is CPU-bound even though its own CPU time looks modest.
pub const THREAD_DEMAND_SATURATED_PERCENT: f64 = 90.0;
/// A process using 80 % of all cores' time leaves the rest of the host (and its own other threads)
/// too little headroom to go faster; above this, adding load only adds queueing.
pub const PROCESS_HOST_SHARE_PERCENT: f64 = 80.0;
/// The host as a whole: the usual alerting line for CPU saturation.
pub const HOST_CPU_SATURATED_PERCENT: f64 = 90.0;
/// A disk with I/O in flight 90 % of the time has queued requests waiting (utilisation near 100 % is the
/// textbook sign of a saturated single-queue device; fast NVMe devices can go further, hence not 70 %).
pub const DISK_UTIL_SATURATED_PERCENT: f64 = 90.0;
/// CPUs idle waiting on I/O a fifth of the time: the workload is waiting on the disk, whatever its util.
pub const IOWAIT_SATURATED_PERCENT: f64 = 20.0;
/// Traffic at 80 % of the links' speed: beyond it TCP queues grow and latency rises before bytes do.
pub const NETWORK_SATURATED_PERCENT: f64 = 80.0;
/// The request-bytes budget (queued.max.request.bytes) 90 % reserved: sockets are about to stop being read.
pub const REQUEST_BYTES_FULL_PERCENT: f64 = 90.0;
/// Any throttled request: a quota is a deliberate ceiling, it binds as soon as it applies.
pub const QUOTA_THROTTLED_PER_SEC: f64 = 0.0;
/// One object-store request in a hundred failing (503 SlowDown, 500, timeouts) is a hundred times S3's
/// design failure rate: the store is throttling or failing, and every failure is a retried flush.
pub const STORE_ERROR_PERCENT: f64 = 1.0;
/// A stage taking half of a request's time dominates it: halving any other stage gains less.
pub const DOMINANT_SHARE_PERCENT: f64 = 50.0;
/// Samples in a row over a threshold before it counts: one sample can be a pause or a compile.
pub const SUSTAINED_SAMPLES: usize = 2;

/// Resource names used in `Bottleneck::resource`.
pub mod resource {
    pub const CLIENT_CPU: &str = "client_cpu";
    pub const TARGET_CPU: &str = "target_cpu";
    pub const HOST_CPU: &str = "host_cpu";
    pub const DISK: &str = "disk";
    pub const NETWORK: &str = "network";
    pub const REQUEST_BYTES: &str = "request_bytes";
    pub const QUOTA: &str = "quota";
    pub const OBJECT_STORE: &str = "object_store";
    pub const METASTORE: &str = "metastore";
    pub const LATENCY_OBJECTIVE: &str = "latency_objective";
    pub const NONE: &str = "none";
}

/// One measurement behind a claim: `metric` was `value` (at or over `threshold`) in the interval ending at
/// `at_ms`; without a threshold it is context for the claim (e.g. the PUT latency behind a PUT-wait share).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Evidence {
    pub metric: String,
    pub value: f64,
    pub threshold: Option<f64>,
    pub unit: String,
    pub at_ms: u64,
}

/// A resource found saturated, from when, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub resource: &'static str,
    pub at_ms: u64,
    pub evidence: Vec<Evidence>,
}

type Probe = fn(&ResourceSample) -> Vec<Evidence>;

/// Resources that saturate (a hard ceiling), in the order used to break ties at the same moment: the
/// specific explanation (a process's CPU) before the general one (the host's).
const SATURATION: [(&str, Probe); 8] = [
    (resource::CLIENT_CPU, client_cpu),
    (resource::TARGET_CPU, target_cpu),
    (resource::QUOTA, quota),
    (resource::REQUEST_BYTES, request_bytes),
    (resource::OBJECT_STORE, store_errors),
    (resource::DISK, disk),
    (resource::NETWORK, network),
    (resource::HOST_CPU, host_cpu),
];

/// Stages that dominate latency without anything being saturated.
const DOMINANCE: [(&str, Probe); 2] = [(resource::OBJECT_STORE, store_latency), (resource::METASTORE, metastore)];

/// Every saturated resource, earliest first.
pub fn saturated(samples: &[ResourceSample]) -> Vec<Finding> {
    find(samples, &SATURATION)
}

/// Every dominant latency stage, earliest first.
pub fn dominant(samples: &[ResourceSample]) -> Vec<Finding> {
    find(samples, &DOMINANCE)
}

fn find(samples: &[ResourceSample], probes: &[(&'static str, Probe)]) -> Vec<Finding> {
    let mut out: Vec<Finding> = probes
        .iter()
        .filter_map(|(resource, probe)| {
            let (at_ms, evidence) = first_sustained(samples, *probe)?;
            Some(Finding { resource, at_ms, evidence })
        })
        .collect();
    out.sort_by_key(|f| f.at_ms); // stable: ties keep the probes' order
    out
}

/// The first sample that starts a run of `SUSTAINED_SAMPLES` (fewer when the run had fewer) with evidence.
fn first_sustained(samples: &[ResourceSample], probe: Probe) -> Option<(u64, Vec<Evidence>)> {
    let need = SUSTAINED_SAMPLES.min(samples.len()).max(1);
    let hits: Vec<Vec<Evidence>> = samples.iter().map(probe).collect();
    let start =
        (0..samples.len()).find(|&i| i + need <= samples.len() && hits[i..i + need].iter().all(|h| !h.is_empty()))?;
    Some((samples[start].t_ms, hits[start].clone()))
}

fn evidence(metric: String, value: f64, threshold: f64, unit: &str, s: &ResourceSample) -> Vec<Evidence> {
    if value >= threshold && value.is_finite() {
        vec![Evidence { metric, value, threshold: Some(threshold), unit: unit.to_string(), at_ms: s.t_ms }]
    } else {
        vec![]
    }
}

fn cores(s: &ResourceSample) -> Option<f64> {
    s.host.as_ref().map(|h| h.cores as f64).filter(|c| *c > 0.0)
}

fn process_cpu(which: &str, p: Option<&crate::sample::ProcessSample>, s: &ResourceSample) -> Vec<Evidence> {
    let Some(p) = p else { return vec![] };
    let name = p.hottest_thread.as_deref().unwrap_or("?");
    let mut out = evidence(
        format!("{which} thread {name:?} CPU"),
        p.hottest_thread_cpu_percent,
        THREAD_SATURATED_PERCENT,
        "% of one core",
        s,
    );
    if out.is_empty()
        && let Some(demand) = p.busiest_thread_demand_percent
    {
        let name = p.busiest_thread.as_deref().unwrap_or("?");
        let metric = format!("{which} thread {name:?} CPU plus run-queue wait (schedstat)");
        out.extend(evidence(metric, demand, THREAD_DEMAND_SATURATED_PERCENT, "% of the interval", s));
    }
    if let Some(cores) = cores(s) {
        let share = p.cpu_percent / cores;
        out.extend(evidence(format!("{which} process CPU"), share, PROCESS_HOST_SHARE_PERCENT, "% of all cores", s));
    }
    out
}

fn client_cpu(s: &ResourceSample) -> Vec<Evidence> {
    process_cpu("client", s.client.as_ref(), s)
}

fn target_cpu(s: &ResourceSample) -> Vec<Evidence> {
    let mut out = process_cpu("target", s.target.as_ref(), s);
    if s.target.is_none()
        && let (Some(cpu), Some(cores)) = (s.metrics.as_ref().and_then(|m| m.process_cpu_percent), cores(s))
    {
        let metric = "target process_cpu_seconds_total rate".to_string();
        out.extend(evidence(metric, cpu / cores, PROCESS_HOST_SHARE_PERCENT, "% of all cores", s));
    }
    out
}

fn host_cpu(s: &ResourceSample) -> Vec<Evidence> {
    let Some(h) = &s.host else { return vec![] };
    evidence("host CPU busy (/proc/stat)".into(), h.cpu_busy_percent, HOST_CPU_SATURATED_PERCENT, "%", s)
}

fn disk(s: &ResourceSample) -> Vec<Evidence> {
    let Some(h) = &s.host else { return vec![] };
    let name = h.busiest_disk.as_deref().unwrap_or("?");
    let metric = format!("disk {name} utilisation (/proc/diskstats)");
    let mut out = evidence(metric, h.disk_util_percent, DISK_UTIL_SATURATED_PERCENT, "%", s);
    out.extend(evidence("host CPU iowait (/proc/stat)".into(), h.cpu_iowait_percent, IOWAIT_SATURATED_PERCENT, "%", s));
    out
}

fn network(s: &ResourceSample) -> Vec<Evidence> {
    let Some(h) = &s.host else { return vec![] };
    let Some(capacity) = h.net_capacity_bytes_per_sec else { return vec![] };
    let busiest = h.net_rx_bytes_per_sec.max(h.net_tx_bytes_per_sec);
    let metric = "network traffic, busier direction, of link speed (/proc/net/dev)".to_string();
    evidence(metric, busiest * 100.0 / capacity, NETWORK_SATURATED_PERCENT, "%", s)
}

fn request_bytes(s: &ResourceSample) -> Vec<Evidence> {
    let Some(m) = &s.metrics else { return vec![] };
    let (Some(reserved), Some(limit)) = (m.request_bytes_reserved, m.request_bytes_limit) else { return vec![] };
    if limit <= 0.0 {
        return vec![];
    }
    let metric = "weft_request_bytes_reserved / weft_request_bytes_limit".to_string();
    evidence(metric, reserved * 100.0 / limit, REQUEST_BYTES_FULL_PERCENT, "%", s)
}

fn quota(s: &ResourceSample) -> Vec<Evidence> {
    let Some(rate) = s.metrics.as_ref().and_then(|m| m.quota_throttled_per_sec) else { return vec![] };
    if rate <= QUOTA_THROTTLED_PER_SEC {
        return vec![];
    }
    evidence("weft_quota_throttled_requests_total rate".into(), rate, QUOTA_THROTTLED_PER_SEC, "requests/s", s)
}

fn store_errors(s: &ResourceSample) -> Vec<Evidence> {
    let Some(m) = &s.metrics else { return vec![] };
    let requests: f64 = m.object_store.values().map(|o| o.requests_per_sec).sum();
    let errors: f64 = m.object_store.values().map(|o| o.errors_per_sec).sum();
    if requests <= 0.0 {
        return vec![];
    }
    let metric = "weft_object_store_requests_total{result=\"error\"} share".to_string();
    evidence(metric, errors * 100.0 / requests, STORE_ERROR_PERCENT, "% of requests", s)
}

/// The object store takes half of a produce (its segment's PUT, and earlier uploads it waited for since
/// commits are in order: `path::PutWait`), or GETs take half of a fetch.
fn store_latency(s: &ResourceSample) -> Vec<Evidence> {
    let Some(m) = &s.metrics else { return vec![] };
    let mut out = Vec::new();
    if let (Some(w), Some(produce)) = (path::put_wait(m), m.produce_mean_ms.filter(|p| *p > 0.0)) {
        let metric = "object-store wait (PUT and earlier uploads), of produce request time".to_string();
        out.extend(evidence(metric, (w.own_ms + w.earlier_ms) * 100.0 / produce, DOMINANT_SHARE_PERCENT, "%", s));
        if !out.is_empty() {
            // Context, not thresholds: what the share is made of.
            let context = |metric: &str, value, unit: &str| Evidence {
                metric: metric.into(),
                value,
                threshold: None,
                unit: unit.into(),
                at_ms: s.t_ms,
            };
            let put = m.object_store.get("put");
            out.push(context("weft_object_store_request_duration_seconds{op=\"put\"} mean", w.own_ms, "ms"));
            if let Some(p99) = put.and_then(|p| p.p99_ms) {
                out.push(context("weft_object_store_request_duration_seconds{op=\"put\"} p99", p99, "ms"));
            }
            out.push(context("uploads in flight (PUT rate x mean latency)", w.in_flight, "uploads"));
            out.push(context("weft_request_duration_seconds{api=\"Produce\"} mean", produce, "ms"));
        }
    }
    if let (Some((get, _)), Some(fetch)) = (path::get_time_per_fetch(m), m.fetch_mean_ms.filter(|f| *f > 0.0)) {
        let metric = "object-store GET time per fetch, of fetch request time".to_string();
        out.extend(evidence(metric, get * 100.0 / fetch, DOMINANT_SHARE_PERCENT, "%", s));
    }
    out
}

/// The metastore commit takes half of a produce.
fn metastore(s: &ResourceSample) -> Vec<Evidence> {
    let Some(m) = &s.metrics else { return vec![] };
    let (Some(commit), Some(produce)) = (m.flush_commit_mean_ms, m.produce_mean_ms.filter(|p| *p > 0.0)) else {
        return vec![];
    };
    let metric = "weft_flush_duration_seconds{stage=\"commit\"} mean, of produce request time".to_string();
    let mut out = evidence(metric, commit * 100.0 / produce, DOMINANT_SHARE_PERCENT, "%", s);
    if !out.is_empty()
        && let Some(txn) = m.metastore_mean_ms
    {
        let metric = "weft_metastore_transaction_duration_seconds mean".to_string();
        out.push(Evidence { metric, value: txn, threshold: None, unit: "ms".into(), at_ms: s.t_ms });
    }
    out
}
