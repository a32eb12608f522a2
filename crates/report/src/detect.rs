//! The detectors behind the bottleneck analysis: for each resource, the first moment the samples show it
//! saturated (held over a threshold for `SUSTAINED_SAMPLES` readings in a row), with the measurement that
//! says so. A sample without a reading of the resource (no target scrape in it, no host figures) neither
//! breaks nor extends a run of readings. Thresholds are named here with the reason for each value.

use serde::{Deserialize, Serialize};

use crate::path;
use crate::sample::ResourceSample;

/// A thread can use at most one core; one at 90 % of it over whole intervals rarely waits, so it is the
/// serial part that caps throughput (what is left is scheduling noise and the sampler's own reads).
pub const THREAD_SATURATED_PERCENT: f64 = 90.0;
/// A thread that was on a CPU or waiting in a run queue 90 % of the time would use 90 % of a core given
/// one: on a host shared with other work it is CPU-bound even though its own CPU time looks modest.
pub const THREAD_DEMAND_SATURATED_PERCENT: f64 = 90.0;
/// A process using 80 % of the cores it may use (the host's, or fewer under a CPU affinity or cgroup
/// quota) leaves its other threads too little headroom to go faster; above this, load only adds queueing.
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
/// Retried attempts per hundred requests, counted beneath the retry layer (`weft_object_store_retries_total`):
/// a retry absorbs a 503 SlowDown so no request fails, but each costs a backoff on the flush's path. At one
/// in a hundred the store is pushing back, for the same reason as `STORE_ERROR_PERCENT`.
pub const STORE_RETRY_PERCENT: f64 = 1.0;
/// The flush committer (one per agent, commits in flush order) busy four fifths of the time waiting for
/// uploads and committing: a server that busy has a queue most of the time (a single-server queue's wait
/// is four service times at 80 %), so segments wait their turn and a slow PUT holds up every later one.
pub const COMMITTER_BUSY_PERCENT: f64 = 80.0;
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
    /// A ramp step fell short of its offered rate with nothing measured saturated.
    pub const THROUGHPUT_CEILING: &str = "throughput_ceiling";
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

/// A resource's evidence in one sample: `None` when the sample has no reading of it, empty when the
/// reading is under every threshold.
type Probe = fn(&ResourceSample) -> Option<Vec<Evidence>>;

/// Resources that saturate (a hard ceiling), in the order used to break ties at the same moment: the
/// specific explanation (a process's CPU) before the general one (the host's).
const SATURATION: [(&str, Probe); 8] = [
    (resource::CLIENT_CPU, client_cpu),
    (resource::TARGET_CPU, target_cpu),
    (resource::QUOTA, quota),
    (resource::REQUEST_BYTES, request_bytes),
    (resource::OBJECT_STORE, store_trouble),
    (resource::DISK, disk),
    (resource::NETWORK, network),
    (resource::HOST_CPU, host_cpu),
];

/// Stages that dominate latency without anything being saturated.
const DOMINANCE: [(&str, Probe); 4] = [
    (resource::OBJECT_STORE, store_latency),
    (resource::OBJECT_STORE, committer_on_store),
    (resource::METASTORE, metastore),
    (resource::METASTORE, committer_on_metastore),
];

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

/// The first reading that starts a run of `SUSTAINED_SAMPLES` readings (fewer when there were fewer)
/// with evidence; samples without a reading are skipped.
fn first_sustained(samples: &[ResourceSample], probe: Probe) -> Option<(u64, Vec<Evidence>)> {
    let readings: Vec<(u64, Vec<Evidence>)> = samples.iter().filter_map(|s| Some((s.t_ms, probe(s)?))).collect();
    let need = SUSTAINED_SAMPLES.min(readings.len()).max(1);
    let start = (0..readings.len())
        .find(|&i| i + need <= readings.len() && readings[i..i + need].iter().all(|r| !r.1.is_empty()))?;
    readings.into_iter().nth(start)
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

fn process_cpu(which: &str, p: Option<&crate::sample::ProcessSample>, s: &ResourceSample) -> Option<Vec<Evidence>> {
    let p = p?;
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
    let limit = p.cpu_limit_cores.filter(|l| *l > 0.0);
    let usable = match (cores(s), limit) {
        (Some(host), Some(limit)) if limit < host => Some((limit, format!("% of its CPU limit ({limit:.2} cores)"))),
        (Some(host), _) => Some((host, "% of all cores".to_string())),
        (None, Some(limit)) => Some((limit, format!("% of its CPU limit ({limit:.2} cores)"))),
        (None, None) => None,
    };
    if let Some((cores, unit)) = usable {
        let share = p.cpu_percent / cores;
        out.extend(evidence(format!("{which} process CPU"), share, PROCESS_HOST_SHARE_PERCENT, &unit, s));
    }
    Some(out)
}

fn client_cpu(s: &ResourceSample) -> Option<Vec<Evidence>> {
    process_cpu("client", s.client.as_ref(), s)
}

/// The target's threads when it runs here; else its exported CPU time, judged only against cores known to
/// be its own (`TargetMetrics::cores`): a remote target's CPU rate over this host's cores means nothing.
fn target_cpu(s: &ResourceSample) -> Option<Vec<Evidence>> {
    if s.target.is_some() {
        return process_cpu("target", s.target.as_ref(), s);
    }
    let m = s.metrics.as_ref()?;
    let (cpu, cores) = (m.process_cpu_percent?, m.cores.filter(|c| *c > 0.0)?);
    let metric = "target process_cpu_seconds_total rate".to_string();
    Some(evidence(metric, cpu / cores, PROCESS_HOST_SHARE_PERCENT, &format!("% of its {cores:.0} cores"), s))
}

fn host_cpu(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let h = s.host.as_ref()?;
    Some(evidence("host CPU busy (/proc/stat)".into(), h.cpu_busy_percent, HOST_CPU_SATURATED_PERCENT, "%", s))
}

fn disk(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let h = s.host.as_ref()?;
    let name = h.busiest_disk.as_deref().unwrap_or("?");
    let metric = format!("disk {name} utilisation (/proc/diskstats)");
    let mut out = evidence(metric, h.disk_util_percent, DISK_UTIL_SATURATED_PERCENT, "%", s);
    out.extend(evidence("host CPU iowait (/proc/stat)".into(), h.cpu_iowait_percent, IOWAIT_SATURATED_PERCENT, "%", s));
    Some(out)
}

/// The busiest physical link against its own speed (`HostSample::net_util_percent`).
fn network(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let h = s.host.as_ref()?;
    let util = h.net_util_percent?;
    let link = h.busiest_link.as_deref().unwrap_or("?");
    let metric = format!("network link {link}, busier direction, of its speed (/proc/net/dev, /sys/class/net)");
    Some(evidence(metric, util, NETWORK_SATURATED_PERCENT, "%", s))
}

fn request_bytes(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let m = s.metrics.as_ref()?;
    let (reserved, limit) = (m.request_bytes_reserved?, m.request_bytes_limit.filter(|l| *l > 0.0)?);
    let metric = "weft_request_bytes_reserved / weft_request_bytes_limit".to_string();
    Some(evidence(metric, reserved * 100.0 / limit, REQUEST_BYTES_FULL_PERCENT, "%", s))
}

fn quota(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let rate = s.metrics.as_ref()?.quota_throttled_per_sec?;
    if rate <= QUOTA_THROTTLED_PER_SEC {
        return Some(vec![]);
    }
    Some(evidence("weft_quota_throttled_requests_total rate".into(), rate, QUOTA_THROTTLED_PER_SEC, "requests/s", s))
}

pub const THROTTLED_METRIC: &str = "weft_object_store_retries_total{reason=\"throttled\"} per request";
pub const RETRIED_METRIC: &str = "weft_object_store_retries_total{reason!=\"throttled\"} per request";
pub const FAILED_METRIC: &str = "weft_object_store_requests_total{result=\"error\"} share";

/// The store pushing back: attempts it throttled (503 SlowDown, 429) or failed and the retry layer
/// repeated, and requests that failed after every retry. Requests are counted above the retry layer, so
/// a retried one counts once: shares of retries can pass 100 %.
fn store_trouble(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let m = s.metrics.as_ref()?;
    let total = |f: fn(&crate::sample::StoreOp) -> f64| m.object_store.values().map(f).sum::<f64>();
    let (requests, errors) = (total(|o| o.requests_per_sec), total(|o| o.errors_per_sec));
    let (retries, throttled) = (total(|o| o.retries_per_sec), total(|o| o.throttled_per_sec));
    // Nothing completed while attempts were refused: count each refused attempt as a held-up request.
    let per = if requests > 0.0 { requests } else { retries.max(errors) };
    if per <= 0.0 {
        return Some(vec![]);
    }
    let unit = "% of requests";
    let mut out = evidence(THROTTLED_METRIC.into(), throttled * 100.0 / per, STORE_RETRY_PERCENT, unit, s);
    out.extend(evidence(RETRIED_METRIC.into(), (retries - throttled) * 100.0 / per, STORE_RETRY_PERCENT, unit, s));
    out.extend(evidence(FAILED_METRIC.into(), errors * 100.0 / per, STORE_ERROR_PERCENT, unit, s));
    Some(out)
}

/// The object store takes half of a produce (its own segment's PUT: `path::PutWait`), or GETs take half of
/// a fetch.
fn store_latency(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let m = s.metrics.as_ref()?;
    let mut out = Vec::new();
    if let (Some(w), Some(produce)) = (path::put_wait(m), m.produce_mean_ms.filter(|p| *p > 0.0)) {
        let metric = "object-store PUT time, of produce request time".to_string();
        out.extend(evidence(metric, w.own_ms * 100.0 / produce, DOMINANT_SHARE_PERCENT, "%", s));
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
            if let Some(wait) = m.flush_upload_wait_mean_ms {
                out.push(context("weft_flush_duration_seconds{stage=\"upload_wait\"} mean", wait, "ms"));
            }
            out.push(context("weft_request_duration_seconds{api=\"Produce\"} mean", produce, "ms"));
        }
    }
    if let (Some((get, _)), Some(fetch)) = (path::get_time_per_fetch(m), m.fetch_mean_ms.filter(|f| *f > 0.0)) {
        let metric = "object-store GET time per fetch, of fetch request time".to_string();
        out.extend(evidence(metric, get * 100.0 / fetch, DOMINANT_SHARE_PERCENT, "%", s));
    }
    Some(out)
}

/// The metastore commit takes half of a produce.
fn metastore(s: &ResourceSample) -> Option<Vec<Evidence>> {
    let m = s.metrics.as_ref()?;
    let (commit, produce) = (m.flush_commit_mean_ms?, m.produce_mean_ms.filter(|p| *p > 0.0)?);
    let metric = "weft_flush_duration_seconds{stage=\"commit\"} mean, of produce request time".to_string();
    let mut out = evidence(metric, commit * 100.0 / produce, DOMINANT_SHARE_PERCENT, "%", s);
    if !out.is_empty()
        && let Some(txn) = m.metastore_mean_ms
    {
        let metric = "weft_metastore_transaction_duration_seconds mean".to_string();
        out.push(Evidence { metric, value: txn, threshold: None, unit: "ms".into(), at_ms: s.t_ms });
    }
    Some(out)
}

pub const COMMITTER_METRIC: &str =
    "flush committer busy: flush rate x (weft_flush_duration_seconds{stage=\"upload_wait\"} + {stage=\"commit\"}) mean";

/// The committer saturated, mostly waiting for uploads: segments queue behind earlier ones' PUTs.
fn committer_on_store(s: &ResourceSample) -> Option<Vec<Evidence>> {
    committer(s, true)
}

/// The committer saturated, mostly committing: segments queue behind earlier ones' metastore commits.
fn committer_on_metastore(s: &ResourceSample) -> Option<Vec<Evidence>> {
    committer(s, false)
}

/// How busy the committer was (Little's law: flushes per second times its time per flush), when most of
/// its time went to uploads (`on_store`) or to commits; with the parts as context.
fn committer(s: &ResourceSample, on_store: bool) -> Option<Vec<Evidence>> {
    let m = s.metrics.as_ref()?;
    let (rate, wait, commit) = (m.flushes_per_sec?, m.flush_upload_wait_mean_ms?, m.flush_commit_mean_ms?);
    if (wait >= commit) != on_store {
        return Some(vec![]);
    }
    let mut out =
        evidence(COMMITTER_METRIC.into(), rate * (wait + commit) / 10.0, COMMITTER_BUSY_PERCENT, "% of the time", s);
    if !out.is_empty() {
        let context = |metric: &str, value| Evidence {
            metric: metric.into(),
            value,
            threshold: None,
            unit: "ms".into(),
            at_ms: s.t_ms,
        };
        out.push(context("weft_flush_duration_seconds{stage=\"upload_wait\"} mean", wait));
        out.push(context("weft_flush_duration_seconds{stage=\"commit\"} mean", commit));
        let put = m.object_store.get("put");
        if let Some(mean) = put.and_then(|p| p.mean_ms) {
            out.push(context("weft_object_store_request_duration_seconds{op=\"put\"} mean", mean));
        }
        if let Some(p99) = put.and_then(|p| p.p99_ms) {
            out.push(context("weft_object_store_request_duration_seconds{op=\"put\"} p99", p99));
        }
    }
    Some(out)
}
