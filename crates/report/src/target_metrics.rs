//! The target's figures over one sampling interval, derived from two scrapes of its Prometheus endpoint:
//! rates from counter deltas, means and 99th percentiles from histogram deltas. Every figure is optional:
//! a family the target does not export (Apache Kafka behind a JMX exporter exports none of Weft's) is
//! simply absent, and the analysis then says less.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prom::{Histogram, Scrape};

/// Gauges a target may export with the number of cores it can use: Micrometer's `system.cpu.count` and
/// OpenTelemetry's `jvm.cpu.count` (a JVM's available processors, limits included).
pub const CORE_COUNT_FAMILIES: [&str; 2] = ["system_cpu_count", "jvm_cpu_count"];
const REQUESTS: &str = "weft_object_store_requests_total";
const RETRIES: &str = "weft_object_store_retries_total";
const DURATION: &str = "weft_object_store_request_duration_seconds";

/// Every family `TargetMetrics::between` reads: the sampler parses only these.
pub const FAMILIES: &[&str] = &[
    "weft_request_duration_seconds",
    "weft_flush_duration_seconds",
    "weft_flush_size_bytes",
    "weft_flush_errors_total",
    REQUESTS,
    RETRIES,
    DURATION,
    "weft_metastore_transaction_duration_seconds",
    "weft_metastore_errors_total",
    "weft_request_bytes_reserved",
    "weft_request_bytes_limit",
    "weft_quota_throttled_requests_total",
    "weft_quota_throttle_time_seconds",
    "weft_bytes_in_total",
    "weft_bytes_out_total",
    "weft_records_in_total",
    "weft_records_out_total",
    "weft_cache_requests_total",
    "process_cpu_seconds_total",
    CORE_COUNT_FAMILIES[0],
    CORE_COUNT_FAMILIES[1],
];

/// One object-store operation's figures over the interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct StoreOp {
    /// Requests as the agent made them (above the retry layer: a retried request counts once).
    pub requests_per_sec: f64,
    /// Requests that failed after every retry.
    pub errors_per_sec: f64,
    /// Attempts that failed and were repeated (`weft_object_store_retries_total`), whatever the reason.
    pub retries_per_sec: f64,
    /// Of those, the ones the store refused as throttled (503 SlowDown, 429).
    pub throttled_per_sec: f64,
    pub mean_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// What the target's metrics say about one interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct TargetMetrics {
    pub produce_requests_per_sec: Option<f64>,
    pub produce_mean_ms: Option<f64>,
    pub produce_p99_ms: Option<f64>,
    pub fetch_requests_per_sec: Option<f64>,
    pub fetch_mean_ms: Option<f64>,
    pub fetch_p99_ms: Option<f64>,
    pub flushes_per_sec: Option<f64>,
    /// Time the committer waited for a segment's upload (the object-store PUT not yet overlapped).
    pub flush_upload_wait_mean_ms: Option<f64>,
    /// Time from upload to the metastore commit's end.
    pub flush_commit_mean_ms: Option<f64>,
    pub flush_mean_bytes: Option<f64>,
    pub flush_errors_per_sec: Option<f64>,
    /// By operation (`put`, `get`, `get_range`, `head`, `list`, `delete`).
    pub object_store: BTreeMap<String, StoreOp>,
    pub metastore_transactions_per_sec: Option<f64>,
    pub metastore_mean_ms: Option<f64>,
    pub metastore_errors_per_sec: Option<f64>,
    pub request_bytes_reserved: Option<f64>,
    pub request_bytes_limit: Option<f64>,
    pub quota_throttled_per_sec: Option<f64>,
    pub quota_throttle_mean_ms: Option<f64>,
    pub bytes_in_per_sec: Option<f64>,
    pub bytes_out_per_sec: Option<f64>,
    pub records_in_per_sec: Option<f64>,
    pub records_out_per_sec: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    /// The target's own CPU use (`process_cpu_seconds_total`), percent of one core.
    pub process_cpu_percent: Option<f64>,
    /// The cores the target can use, to judge `process_cpu_percent` by: exported by the target
    /// (`CORE_COUNT_FAMILIES`), or filled in by the sampler when the target runs on this host; `None` for a
    /// remote target that exports none (then its CPU use is evidence, never a verdict).
    pub cores: Option<f64>,
}

impl TargetMetrics {
    /// The figures between `before` and `after`, `secs` apart.
    pub fn between(before: &Scrape, after: &Scrape, secs: f64) -> TargetMetrics {
        let d = Delta { before, after, secs: secs.max(1e-3) };
        let produce = d.histogram("weft_request_duration_seconds", &[("api", "Produce")]);
        let fetch = d.histogram("weft_request_duration_seconds", &[("api", "Fetch")]);
        let upload = d.histogram("weft_flush_duration_seconds", &[("stage", "upload_wait")]);
        let commit = d.histogram("weft_flush_duration_seconds", &[("stage", "commit")]);
        let flush_size = d.histogram("weft_flush_size_bytes", &[]);
        let meta = d.histogram("weft_metastore_transaction_duration_seconds", &[]);
        let throttle = d.histogram("weft_quota_throttle_time_seconds", &[]);
        let hits = d.increase("weft_cache_requests_total", &[("result", "hit")]);
        let misses = d.increase("weft_cache_requests_total", &[("result", "miss")]);
        TargetMetrics {
            produce_requests_per_sec: d.rate_of(&produce),
            produce_mean_ms: ms(produce.as_ref().and_then(Histogram::mean)),
            produce_p99_ms: ms(produce.as_ref().and_then(|h| h.quantile(0.99))),
            fetch_requests_per_sec: d.rate_of(&fetch),
            fetch_mean_ms: ms(fetch.as_ref().and_then(Histogram::mean)),
            fetch_p99_ms: ms(fetch.as_ref().and_then(|h| h.quantile(0.99))),
            flushes_per_sec: d.rate_of(&flush_size),
            flush_upload_wait_mean_ms: ms(upload.as_ref().and_then(Histogram::mean)),
            flush_commit_mean_ms: ms(commit.as_ref().and_then(Histogram::mean)),
            flush_mean_bytes: flush_size.as_ref().and_then(Histogram::mean),
            flush_errors_per_sec: d.rate("weft_flush_errors_total", &[]),
            object_store: d.store_ops(),
            metastore_transactions_per_sec: d.rate_of(&meta),
            metastore_mean_ms: ms(meta.as_ref().and_then(Histogram::mean)),
            metastore_errors_per_sec: d.rate("weft_metastore_errors_total", &[]),
            request_bytes_reserved: after.sum("weft_request_bytes_reserved", &[]),
            request_bytes_limit: after.sum("weft_request_bytes_limit", &[]),
            quota_throttled_per_sec: d.rate("weft_quota_throttled_requests_total", &[]),
            quota_throttle_mean_ms: ms(throttle.as_ref().and_then(Histogram::mean)),
            bytes_in_per_sec: d.rate("weft_bytes_in_total", &[]),
            bytes_out_per_sec: d.rate("weft_bytes_out_total", &[]),
            records_in_per_sec: d.rate("weft_records_in_total", &[]),
            records_out_per_sec: d.rate("weft_records_out_total", &[]),
            cache_hit_ratio: hits.zip(misses).and_then(|(h, m)| (h + m > 0.0).then(|| h / (h + m))),
            process_cpu_percent: d.rate("process_cpu_seconds_total", &[]).map(|r| r * 100.0),
            cores: CORE_COUNT_FAMILIES.iter().find_map(|f| after.sum(f, &[])).filter(|c| *c > 0.0),
        }
    }
}

fn ms(seconds: Option<f64>) -> Option<f64> {
    seconds.map(|s| s * 1000.0)
}

struct Delta<'a> {
    before: &'a Scrape,
    after: &'a Scrape,
    secs: f64,
}

impl Delta<'_> {
    /// A counter's increase (a counter that went down restarted from zero).
    fn increase(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let after = self.after.sum(name, filter)?;
        let before = self.before.sum(name, filter).unwrap_or(0.0);
        Some(if after >= before { after - before } else { after })
    }

    fn rate(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        self.increase(name, filter).map(|n| n / self.secs)
    }

    fn histogram(&self, base: &str, filter: &[(&str, &str)]) -> Option<Histogram> {
        let after = self.after.histogram(base, filter)?;
        Some(match self.before.histogram(base, filter) {
            Some(before) => after.since(&before),
            None => after,
        })
    }

    fn rate_of(&self, h: &Option<Histogram>) -> Option<f64> {
        h.as_ref().map(|h| h.count / self.secs)
    }

    /// By operation: requests and errors (counted above the retry layer) and the retries beneath it.
    fn store_ops(&self) -> BTreeMap<String, StoreOp> {
        let mut ops = self.after.label_values(REQUESTS, "op");
        ops.extend(self.after.label_values(RETRIES, "op"));
        ops.sort();
        ops.dedup();
        let mut out = BTreeMap::new();
        for op in ops {
            let filter = [("op", op.as_str())];
            let h = self.histogram(DURATION, &filter);
            let errors = self.rate(REQUESTS, &[("op", op.as_str()), ("result", "error")]).unwrap_or(0.0);
            let stats = StoreOp {
                requests_per_sec: self.rate(REQUESTS, &filter).unwrap_or(0.0),
                errors_per_sec: errors,
                retries_per_sec: self.rate(RETRIES, &filter).unwrap_or(0.0),
                throttled_per_sec: self.rate(RETRIES, &[("op", op.as_str()), ("reason", "throttled")]).unwrap_or(0.0),
                mean_ms: ms(h.as_ref().and_then(Histogram::mean)),
                p99_ms: ms(h.as_ref().and_then(|h| h.quantile(0.99))),
            };
            out.insert(op, stats);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(puts: u64, put_secs: f64, produce: u64, produce_secs: f64, bytes_in: u64) -> Scrape {
        Scrape::parse(&format!(
            "weft_object_store_requests_total{{op=\"put\",result=\"ok\"}} {puts}\n\
             weft_object_store_requests_total{{op=\"put\",result=\"error\"}} 1\n\
             weft_object_store_request_duration_seconds_bucket{{op=\"put\",le=\"0.1\"}} {puts}\n\
             weft_object_store_request_duration_seconds_bucket{{op=\"put\",le=\"+Inf\"}} {}\n\
             weft_object_store_request_duration_seconds_sum{{op=\"put\"}} {put_secs}\n\
             weft_object_store_request_duration_seconds_count{{op=\"put\"}} {}\n\
             weft_request_duration_seconds_bucket{{api=\"Produce\",le=\"+Inf\"}} {produce}\n\
             weft_request_duration_seconds_sum{{api=\"Produce\"}} {produce_secs}\n\
             weft_request_duration_seconds_count{{api=\"Produce\"}} {produce}\n\
             weft_bytes_in_total{{topic=\"a\"}} {bytes_in}\n\
             weft_request_bytes_reserved 100\nweft_request_bytes_limit 1000\n",
            puts + 1,
            puts + 1
        ))
    }

    #[test]
    fn rates_and_means_come_from_deltas() {
        let (before, after) = (scrape(10, 1.0, 100, 2.0, 1000), scrape(30, 3.0, 300, 12.0, 5000));
        let m = TargetMetrics::between(&before, &after, 2.0);
        assert_eq!(m.produce_requests_per_sec, Some(100.0));
        assert!((m.produce_mean_ms.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(m.bytes_in_per_sec, Some(2000.0));
        let put = &m.object_store["put"];
        assert_eq!((put.requests_per_sec, put.errors_per_sec), (10.0, 0.0));
        assert!((put.mean_ms.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!((m.request_bytes_reserved, m.request_bytes_limit), (Some(100.0), Some(1000.0)));
        assert_eq!(m.fetch_mean_ms, None, "no fetches recorded: absent");
    }

    #[test]
    fn retries_beneath_the_requests_are_read_by_reason() {
        let at = |throttled: u64, timeouts: u64| {
            Scrape::parse(&format!(
                "weft_object_store_requests_total{{op=\"put\",result=\"ok\"}} 100\n\
                 weft_object_store_retries_total{{op=\"put\",reason=\"throttled\"}} {throttled}\n\
                 weft_object_store_retries_total{{op=\"put\",reason=\"timeout\"}} {timeouts}\n\
                 weft_object_store_retries_total{{op=\"list\",reason=\"server\"}} {timeouts}\n\
                 system_cpu_count 8\n"
            ))
        };
        let m = TargetMetrics::between(&at(0, 0), &at(6, 2), 2.0);
        let put = &m.object_store["put"];
        assert_eq!((put.retries_per_sec, put.throttled_per_sec, put.errors_per_sec), (4.0, 3.0, 0.0));
        assert_eq!(m.object_store["list"].retries_per_sec, 1.0, "an op seen only in retries is kept");
        assert_eq!(m.cores, Some(8.0), "the target's exported core count");
    }

    #[test]
    fn every_family_read_is_in_the_parse_list() {
        let text = "weft_flush_duration_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 2\n\
            weft_flush_duration_seconds_sum{stage=\"commit\"} 0.2\n\
            weft_flush_duration_seconds_count{stage=\"commit\"} 2\n\
            weft_cache_requests_total{result=\"hit\"} 3\nweft_cache_requests_total{result=\"miss\"} 1\n\
            process_cpu_seconds_total 4\nunrelated_total 9\n";
        let (all, some) = (Scrape::parse(text), Scrape::parse_families(text, Some(FAMILIES)));
        assert!(!some.has("unrelated_total"));
        let empty = Scrape::default();
        assert_eq!(TargetMetrics::between(&empty, &all, 1.0), TargetMetrics::between(&empty, &some, 1.0));
    }

    #[test]
    fn a_kafka_exporter_gives_absent_figures_not_errors() {
        let jmx = Scrape::parse("kafka_server_brokertopicmetrics_bytesin_total{topic=\"a\"} 10\n");
        let m = TargetMetrics::between(&jmx, &jmx, 1.0);
        assert_eq!(m, TargetMetrics::default());
    }
}
