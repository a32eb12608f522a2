//! Constructed runs for the tests: a quiet baseline every case changes one part of.

use std::collections::BTreeMap;

use crate::model::{HistogramBucket, Interval, Objective, REPORT_VERSION, Run, Step, Target};
use crate::sample::{HostSample, ProcessSample, ResourceSample, StoreOp, TargetMetrics};

/// `n` one-second samples of a quiet host: 4 cores at 20 %, a client and a target at a few percent, and
/// an agent whose produce takes 20 ms, 5 ms of it the PUT and 2 ms the commit.
pub fn quiet_samples(n: usize) -> Vec<ResourceSample> {
    (1..=n)
        .map(|i| ResourceSample {
            t_ms: i as u64 * 1000,
            interval_ms: 1000,
            host: Some(HostSample {
                cores: 4,
                cpu_busy_percent: 20.0,
                cpu_iowait_percent: 1.0,
                core_busy_percent: vec![20.0; 4],
                mem_total_bytes: 8 << 30,
                mem_available_bytes: 6 << 30,
                disk_write_bytes_per_sec: 1e6,
                disk_util_percent: 5.0,
                busiest_disk: Some("sda".into()),
                net_util_percent: Some(1.6),
                busiest_link: Some("eth0".into()),
                net_rx_bytes_per_sec: 1e6,
                net_tx_bytes_per_sec: 1e6,
                ..HostSample::default()
            }),
            client: Some(process("main", 30.0, 15.0)),
            target: Some(process("tokio-runtime-w", 40.0, 12.0)),
            metrics: Some(quiet_metrics()),
            metrics_error: None,
        })
        .collect()
}

pub fn process(thread: &str, cpu: f64, hottest: f64) -> ProcessSample {
    ProcessSample {
        cpu_percent: cpu,
        threads: 8,
        hottest_thread: Some(thread.into()),
        hottest_thread_cpu_percent: hottest,
        busiest_thread: Some(thread.into()),
        busiest_thread_demand_percent: Some(hottest),
        rss_bytes: Some(100 << 20),
        cpu_limit_cores: None,
    }
}

pub fn quiet_metrics() -> TargetMetrics {
    let put = StoreOp {
        requests_per_sec: 40.0,
        errors_per_sec: 0.0,
        mean_ms: Some(5.0),
        p99_ms: Some(9.0),
        ..StoreOp::default()
    };
    TargetMetrics {
        produce_requests_per_sec: Some(200.0),
        produce_mean_ms: Some(20.0),
        produce_p99_ms: Some(40.0),
        fetch_requests_per_sec: Some(100.0),
        fetch_mean_ms: Some(100.0),
        flushes_per_sec: Some(40.0),
        flush_upload_wait_mean_ms: Some(5.0),
        flush_commit_mean_ms: Some(2.0),
        flush_mean_bytes: Some(100_000.0),
        object_store: BTreeMap::from([("put".to_string(), put)]),
        metastore_transactions_per_sec: Some(40.0),
        metastore_mean_ms: Some(1.5),
        request_bytes_reserved: Some(1e6),
        request_bytes_limit: Some(256e6),
        quota_throttled_per_sec: Some(0.0),
        bytes_in_per_sec: Some(1e6),
        records_in_per_sec: Some(1e4),
        ..TargetMetrics::default()
    }
}

/// A run over `samples` with matching client intervals (10,000 records/s, acks at 25 ms p50).
pub fn run(samples: Vec<ResourceSample>) -> Run {
    let intervals = (0..samples.len() as u64)
        .map(|i| Interval {
            start_ms: i * 1000,
            duration_ms: 1000,
            offered_records_per_sec: Some(10_000.0),
            produced_records: 10_000 + i * 10,
            produced_bytes: 1_000_000,
            consumed_records: 10_000,
            consumed_bytes: 1_000_000,
            produce_ack_p50_ms: Some(25.0),
            produce_ack_p99_ms: Some(45.0 + i as f64),
            end_to_end_p50_ms: Some(30.0),
            end_to_end_p99_ms: Some(60.0),
            ..Interval::default()
        })
        .collect();
    Run {
        version: REPORT_VERSION,
        scenario: "steady-1k".into(),
        description: "constructed <run> & \"quoted\"".into(),
        started_at_unix_ms: 1_700_000_000_000,
        target: Target { bootstrap_servers: "127.0.0.1:9092".into(), metrics_url: None, pid: None },
        settings: BTreeMap::from([("record_size".into(), "100".into()), ("acks".into(), "all".into())]),
        objective: None,
        intervals,
        steps: vec![],
        sustainable_records_per_sec: None,
        histograms: BTreeMap::from([(
            "produce_ack".to_string(),
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
                .iter()
                .zip([5, 20, 100, 400, 300, 50, 2])
                .map(|(&le_ms, count)| HistogramBucket { le_ms, count })
                .collect(),
        )]),
        percentiles: BTreeMap::new(),
        resources: samples,
        bottleneck: None,
    }
}

/// A ramp whose last step broke a 100 ms p99 produce objective.
pub fn with_broken_objective(mut run: Run) -> Run {
    run.objective = Some(Objective { latency: "produce_ack".into(), percentile: 99.0, max_ms: 100.0 });
    let step = |rate: f64, start_ms, latency: f64| Step {
        offered_records_per_sec: rate,
        achieved_records_per_sec: rate,
        start_ms,
        duration_ms: 2000,
        latency_ms: Some(latency),
        produce_ack_p50_ms: Some(latency / 3.0),
        produce_ack_p99_ms: Some(latency),
        end_to_end_p50_ms: None,
        end_to_end_p99_ms: None,
        errors: 0,
        met: latency <= 100.0,
    };
    run.steps = vec![step(1000.0, 0, 40.0), step(2000.0, 2000, 70.0), step(4000.0, 4000, 140.0)];
    run.sustainable_records_per_sec = Some(2000.0);
    run
}
