use super::*;
use crate::fixture::{process, quiet_samples, run, with_broken_objective};
use crate::model::{HistogramBucket, Objective};
use crate::sample::StoreOp;

/// Applies `change` to every sample from index `from` on.
fn from(
    mut samples: Vec<crate::sample::ResourceSample>,
    from: usize,
    change: impl Fn(&mut crate::sample::ResourceSample),
) -> Run {
    samples.iter_mut().skip(from).for_each(change);
    run(samples)
}

#[test]
fn a_quiet_run_saturated_nothing() {
    let b = analyse(&run(quiet_samples(6)));
    assert_eq!(b.resource, resource::NONE, "{b:#?}");
    assert!(b.evidence.is_empty());
    assert!(b.change.contains("offer more load"), "{}", b.change);
    let stages: Vec<&str> = b.produce_path.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, [path::CLIENT_QUEUE, path::BATCHING, path::STORE_PUT, path::METASTORE_COMMIT]);
    let ms: Vec<f64> = b.produce_path.iter().map(|s| s.mean_ms).collect();
    // The client's 25 ms p50 over the agent's 20 ms, of which 5 ms PUT and 2 ms commit.
    assert_eq!(ms, [5.0, 13.0, 5.0, 2.0]);
    assert!((b.produce_path.iter().map(|s| s.share_percent).sum::<f64>() - 100.0).abs() < 1e-9);
}

#[test]
fn object_store_latency_dominating_produce_is_object_store_bound() {
    let r = from(quiet_samples(6), 2, |s| {
        let m = s.metrics.as_mut().unwrap();
        (m.produce_mean_ms, m.flush_upload_wait_mean_ms) = (Some(180.0), Some(90.0));
        m.object_store.get_mut("put").unwrap().mean_ms = Some(150.0);
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::OBJECT_STORE, "{b:#?}");
    assert_eq!(b.at_ms, Some(3000), "the third sample is the first of two in a row");
    let share = &b.evidence[0];
    assert!(share.metric.starts_with("object-store PUT time"), "{share:?}");
    assert!((share.value - 150.0 * 100.0 / 180.0).abs() < 1e-9);
    assert_eq!(share.threshold, Some(detect::DOMINANT_SHARE_PERCENT));
    assert!(b.evidence.iter().any(|e| e.metric.contains("op=\"put\"") && e.value == 150.0 && e.threshold.is_none()));
    assert!(b.evidence.iter().any(|e| e.metric.starts_with("uploads in flight") && e.value == 6.0));
    assert!(b.evidence.iter().any(|e| e.metric.contains("upload_wait") && e.value == 90.0 && e.threshold.is_none()));
    assert!(b.change.contains("S3 Express"), "{}", b.change);
    assert!(b.summary.starts_with("object-store bound"), "{}", b.summary);
}

#[test]
fn a_throttling_store_is_object_store_bound_with_the_error_share() {
    let r = from(quiet_samples(4), 0, |s| {
        let put = s.metrics.as_mut().unwrap().object_store.get_mut("put").unwrap();
        *put = StoreOp { requests_per_sec: 40.0, errors_per_sec: 2.0, ..put.clone() };
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::OBJECT_STORE);
    assert_eq!(b.evidence[0].metric, detect::FAILED_METRIC);
    assert_eq!(b.evidence[0].value, 5.0, "2 errors in 40 requests: {b:#?}");
    assert!(b.summary.contains("failing requests"), "{}", b.summary);
    assert!(b.change.contains("--flush-bytes"), "{}", b.change);
}

#[test]
fn throttling_absorbed_by_retries_is_object_store_bound() {
    // No request fails: the retry layer absorbs every 503, but 3 attempts in 40 requests were throttled.
    let r = from(quiet_samples(4), 0, |s| {
        let put = s.metrics.as_mut().unwrap().object_store.get_mut("put").unwrap();
        (put.retries_per_sec, put.throttled_per_sec) = (3.0, 3.0);
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::OBJECT_STORE, "{b:#?}");
    assert_eq!((b.evidence[0].metric.as_str(), b.evidence[0].value), (detect::THROTTLED_METRIC, 7.5));
    assert_eq!(b.evidence.len(), 1, "no other retries, no failed requests: {:?}", b.evidence);
    assert!(b.summary.contains("throttling"), "{}", b.summary);
    assert!(b.change.contains("--flush-bytes"), "{}", b.change);
    // More retries than requests: a request retried several times; the share passes 100 %.
    let r = from(quiet_samples(4), 0, |s| {
        let put = s.metrics.as_mut().unwrap().object_store.get_mut("put").unwrap();
        (put.retries_per_sec, put.throttled_per_sec) = (60.0, 60.0);
    });
    assert_eq!(analyse(&r).evidence[0].value, 150.0);
}

#[test]
fn a_client_thread_at_a_full_core_is_client_bound() {
    let r = from(quiet_samples(6), 1, |s| s.client = Some(process("bench-producer", 110.0, 99.0)));
    let b = analyse(&r);
    assert_eq!(b.resource, resource::CLIENT_CPU, "{b:#?}");
    assert_eq!(b.evidence[0].metric, "client thread \"bench-producer\" CPU");
    assert_eq!((b.evidence[0].value, b.evidence[0].threshold), (99.0, Some(detect::THREAD_SATURATED_PERCENT)));
    assert!(b.change.contains("more producer processes"));
    assert!(b.ambiguous_with.is_empty());
}

#[test]
fn a_client_using_most_of_the_host_is_client_bound_not_host_bound() {
    let r = from(quiet_samples(6), 1, |s| {
        s.client = Some(process("w", 360.0, 80.0));
        s.host.as_mut().unwrap().cpu_busy_percent = 97.0;
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::CLIENT_CPU, "{b:#?}");
    assert_eq!(b.evidence[0].metric, "client process CPU");
    assert_eq!(b.evidence[0].value, 90.0, "360 % of one core on 4 cores");
    assert!(b.ambiguous_with.is_empty(), "the host's CPU is the client's: {:?}", b.ambiguous_with);
}

#[test]
fn a_busy_disk_is_disk_bound() {
    let r = from(quiet_samples(6), 3, |s| {
        let h = s.host.as_mut().unwrap();
        (h.disk_util_percent, h.cpu_iowait_percent) = (98.0, 35.0);
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::DISK, "{b:#?}");
    assert_eq!(b.at_ms, Some(4000));
    assert_eq!(b.evidence.len(), 2, "utilisation and iowait: {:?}", b.evidence);
    assert!(b.evidence[0].metric.contains("sda"));
}

#[test]
fn a_slow_commit_is_metastore_bound() {
    let r = from(quiet_samples(5), 0, |s| {
        let m = s.metrics.as_mut().unwrap();
        (m.produce_mean_ms, m.flush_commit_mean_ms, m.metastore_mean_ms) = (Some(90.0), Some(70.0), Some(65.0));
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::METASTORE, "{b:#?}");
    assert!(b.evidence.iter().any(|e| e.metric.contains("metastore_transaction") && e.value == 65.0));
    assert!(b.expected_effect.contains("70 ms"), "{}", b.expected_effect);
}

#[test]
fn a_broken_objective_with_nothing_saturated_is_latency_bound_by_batching() {
    let b = analyse(&with_broken_objective(run(quiet_samples(6))));
    assert_eq!(b.resource, resource::LATENCY_OBJECTIVE, "{b:#?}");
    assert_eq!((b.evidence[0].value, b.evidence[0].threshold, b.at_ms), (140.0, Some(100.0), Some(4000)));
    assert!(b.change.contains("--flush-interval-ms"), "{}", b.change);
    assert!(b.summary.contains("batching"), "{}", b.summary);
}

#[test]
fn a_saturated_resource_wins_over_a_dominant_stage_and_near_ties_are_ambiguous() {
    let r = from(quiet_samples(8), 2, |s| {
        let m = s.metrics.as_mut().unwrap();
        m.produce_mean_ms = Some(180.0);
        m.object_store.get_mut("put").unwrap().mean_ms = Some(150.0);
        if s.t_ms >= 4000 {
            s.target = Some(process("tokio-runtime-w", 150.0, 97.0));
        }
        if s.t_ms >= 5000 {
            s.host.as_mut().unwrap().cpu_busy_percent = 95.0;
        }
        if s.t_ms >= 6000 {
            m.request_bytes_reserved = Some(250e6);
        }
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::TARGET_CPU, "{b:#?}");
    assert_eq!(b.at_ms, Some(4000));
    assert_eq!(b.ambiguous_with, ["request_bytes"], "the host CPU is explained by the target's");
    assert!(b.summary.contains("ambiguous"), "{}", b.summary);
}

#[test]
fn one_sample_over_a_threshold_is_not_saturation() {
    let mut samples = quiet_samples(6);
    samples[2].client = Some(process("main", 100.0, 100.0));
    assert_eq!(analyse(&run(samples)).resource, resource::NONE);
}

#[test]
fn without_any_samples_nothing_is_claimed() {
    let b = analyse(&run(vec![]));
    assert_eq!(b.resource, resource::NONE);
    assert!(b.produce_path.is_empty() && b.fetch_path.is_empty());
}

#[test]
fn a_client_thread_always_runnable_on_a_busy_host_is_client_bound() {
    let r = from(quiet_samples(6), 1, |s| {
        let mut client = process("bench-producer", 45.0, 45.0);
        client.busiest_thread_demand_percent = Some(98.0);
        s.client = Some(client);
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::CLIENT_CPU, "{b:#?}");
    assert!(b.evidence[0].metric.contains("run-queue wait"), "{:?}", b.evidence);
}

#[test]
fn a_wide_put_distribution_is_not_booked_as_waiting_for_earlier_uploads() {
    // PUT p99 far above its mean with several uploads in flight says nothing measured about queueing: the
    // produce time the PUT and the commit leave stays with batching and handling.
    let r = from(quiet_samples(4), 0, |s| {
        let m = s.metrics.as_mut().unwrap();
        (m.produce_mean_ms, m.flush_commit_mean_ms) = (Some(200.0), Some(10.0));
        let put = m.object_store.get_mut("put").unwrap();
        (put.requests_per_sec, put.mean_ms, put.p99_ms) = (50.0, Some(80.0), Some(300.0));
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::NONE, "40 % of a produce is the PUT: {b:#?}");
    let ms: Vec<(&str, f64)> = b.produce_path.iter().map(|s| (s.stage.as_str(), s.mean_ms)).collect();
    assert_eq!(ms[1..], [(path::BATCHING, 110.0), (path::STORE_PUT, 80.0), (path::METASTORE_COMMIT, 10.0)]);
}

#[test]
fn a_cpu_limited_client_is_client_bound() {
    // 95 % of one core on a 4-core host is a quarter of the host, but the client may use only one core.
    let r = from(quiet_samples(5), 0, |s| {
        let mut client = process("bench-producer", 95.0, 60.0);
        client.cpu_limit_cores = Some(1.0);
        s.client = Some(client);
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::CLIENT_CPU, "{b:#?}");
    assert_eq!((b.evidence[0].metric.as_str(), b.evidence[0].value), ("client process CPU", 95.0));
    assert!(b.evidence[0].unit.contains("CPU limit (1.00 cores)"), "{:?}", b.evidence[0]);
    assert!(b.summary.starts_with("client bound"), "{}", b.summary);
}

#[test]
fn a_remote_target_cpu_is_evidence_without_a_verdict() {
    // The target is not on this host: 3.5 cores of its CPU time say nothing against this host's 4 cores.
    let remote = |cores: Option<f64>| {
        from(quiet_samples(5), 0, |s| {
            s.target = None;
            let m = s.metrics.as_mut().unwrap();
            (m.process_cpu_percent, m.cores) = (Some(350.0), cores);
        })
    };
    let b = analyse(&remote(None));
    assert_eq!(b.resource, resource::NONE, "{b:#?}");
    let cpu = b.evidence.iter().find(|e| e.metric.contains("no verdict")).expect("the raw CPU use");
    assert_eq!((cpu.value, cpu.unit.as_str(), cpu.threshold), (3.5, "cores", None));
    let b = analyse(&remote(Some(4.0)));
    assert_eq!(b.resource, resource::TARGET_CPU, "its own 4 cores, exported or local: {b:#?}");
    assert_eq!(b.evidence[0].value, 87.5);
    assert!(!b.evidence.iter().any(|e| e.metric.contains("no verdict")));
}

#[test]
fn a_ramp_that_hit_a_throughput_ceiling_names_it() {
    let mut r = with_broken_objective(run(quiet_samples(6)));
    // The last step kept its latency but achieved 2,600 of the 4,000 records/s offered.
    let last = r.steps.last_mut().unwrap();
    (last.latency_ms, last.achieved_records_per_sec, last.met) = (Some(60.0), 2600.0, false);
    let b = analyse(&r);
    assert_eq!(b.resource, resource::THROUGHPUT_CEILING, "{b:#?}");
    assert_eq!((b.evidence[0].value, b.at_ms), (65.0, Some(4000)));
    let rates: Vec<f64> = b.evidence[1..3].iter().map(|e| e.value).collect();
    assert_eq!(rates, [4000.0, 2600.0], "offered and achieved");
    assert!(b.summary.starts_with("throughput ceiling"), "{}", b.summary);
}

#[test]
fn an_objective_is_judged_at_its_own_percentile() {
    let mut r = run(quiet_samples(4));
    // Every interval's p99 is under 100 ms, but the run's p99.9 is in the (100, 500] bucket.
    r.objective = Some(Objective { latency: "produce_ack".into(), percentile: 99.9, max_ms: 100.0 });
    r.histograms.insert(
        "produce_ack".into(),
        vec![HistogramBucket { le_ms: 50.0, count: 995 }, HistogramBucket { le_ms: 500.0, count: 5 }],
    );
    let b = analyse(&r);
    assert_eq!(b.resource, resource::LATENCY_OBJECTIVE, "{b:#?}");
    assert_eq!(b.evidence[0].metric, "produce_ack p99.9 latency over the whole run");
    assert!((b.evidence[0].value - 410.0).abs() < 1e-6, "interpolated: {:?}", b.evidence[0]);
    r.objective.as_mut().unwrap().percentile = 99.0;
    assert_eq!(analyse(&r).resource, resource::NONE, "p99 per interval: at most 48 ms");
}

#[test]
fn a_link_at_its_own_speed_is_network_bound() {
    let r = from(quiet_samples(4), 1, |s| {
        let h = s.host.as_mut().unwrap();
        (h.net_util_percent, h.busiest_link) = (Some(92.0), Some("eth1".into()));
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::NETWORK, "{b:#?}");
    assert!(b.evidence[0].metric.contains("eth1"), "{:?}", b.evidence[0]);
}

#[test]
fn samples_between_scrapes_neither_break_nor_extend_a_run() {
    // The target is scraped every other sample: two scrapes in a row with a slow commit are sustained.
    let r = from(quiet_samples(6), 0, |s| {
        if s.t_ms % 2000 == 0 {
            let m = s.metrics.as_mut().unwrap();
            (m.produce_mean_ms, m.flush_commit_mean_ms) = (Some(90.0), Some(70.0));
        } else {
            s.metrics = None;
        }
    });
    let b = analyse(&r);
    assert_eq!((b.resource.as_str(), b.at_ms), (resource::METASTORE, Some(2000)), "{b:#?}");
}

#[test]
fn a_committer_kept_busy_by_uploads_is_object_store_bound() {
    // 36 flushes/s, each holding the committer 20 ms for its upload and 8 ms to commit: busy 100.8 % of
    // the time, so segments wait their turn, though a PUT is not half of a produce (70 of 150 ms).
    let r = from(quiet_samples(4), 0, |s| {
        let m = s.metrics.as_mut().unwrap();
        (m.flushes_per_sec, m.flush_upload_wait_mean_ms, m.flush_commit_mean_ms) = (Some(36.0), Some(20.0), Some(8.0));
        m.produce_mean_ms = Some(150.0);
        let put = m.object_store.get_mut("put").unwrap();
        (put.requests_per_sec, put.mean_ms, put.p99_ms) = (36.0, Some(70.0), Some(240.0));
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::OBJECT_STORE, "{b:#?}");
    assert_eq!(b.evidence[0].metric, detect::COMMITTER_METRIC);
    assert!((b.evidence[0].value - 100.8).abs() < 1e-9, "{:?}", b.evidence[0]);
    assert!(b.evidence.iter().any(|e| e.metric.contains("op=\"put\"} p99") && e.value == 240.0));
    assert!(b.summary.contains("committer"), "{}", b.summary);
    // The same committer time spent mostly committing is the metastore's.
    let r = from(quiet_samples(4), 0, |s| {
        let m = s.metrics.as_mut().unwrap();
        (m.flushes_per_sec, m.flush_upload_wait_mean_ms, m.flush_commit_mean_ms) = (Some(36.0), Some(8.0), Some(20.0));
        m.produce_mean_ms = Some(150.0);
    });
    assert_eq!(analyse(&r).resource, resource::METASTORE);
}
