use super::*;
use crate::fixture::{process, quiet_samples, run, with_broken_objective};
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
    assert_eq!(
        stages,
        [path::CLIENT_QUEUE, path::BATCHING, path::STORE_PUT, path::STORE_EARLIER, path::METASTORE_COMMIT]
    );
    let ms: Vec<f64> = b.produce_path.iter().map(|s| s.mean_ms).collect();
    // The client's 25 ms p50 over the agent's 20 ms, of which 5 ms PUT and 2 ms commit; 40 PUTs/s of 5 ms
    // is 0.2 uploads in flight, so no produce waits for an earlier one.
    assert_eq!(ms, [5.0, 13.0, 5.0, 0.0, 2.0]);
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
    assert!(share.metric.starts_with("object-store wait"), "{share:?}");
    // 40 PUTs/s of 150 ms: 6 uploads in flight, so slower earlier uploads count too: p99 (9 ms in the
    // fixture) is below the mean, so nothing is added here.
    assert!((share.value - 150.0 * 100.0 / 180.0).abs() < 1e-9);
    assert_eq!(share.threshold, Some(detect::DOMINANT_SHARE_PERCENT));
    assert!(b.evidence.iter().any(|e| e.metric.contains("op=\"put\"") && e.value == 150.0 && e.threshold.is_none()));
    assert!(b.evidence.iter().any(|e| e.metric.starts_with("uploads in flight") && e.value == 6.0));
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
    assert_eq!(b.evidence[0].value, 5.0, "2 errors in 40 requests: {b:#?}");
    assert!(b.change.contains("--flush-bytes"), "{}", b.change);
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
fn overlapping_uploads_count_the_slower_earlier_ones() {
    let r = from(quiet_samples(4), 0, |s| {
        let m = s.metrics.as_mut().unwrap();
        (m.produce_mean_ms, m.flush_commit_mean_ms) = (Some(200.0), Some(10.0));
        let put = m.object_store.get_mut("put").unwrap();
        (put.requests_per_sec, put.mean_ms, put.p99_ms) = (50.0, Some(80.0), Some(300.0));
    });
    let b = analyse(&r);
    assert_eq!(b.resource, resource::OBJECT_STORE, "{b:#?}");
    // 4 uploads in flight; earlier uploads take what is left of the 200 ms after the PUT and the commit.
    let earlier = b.produce_path.iter().find(|s| s.stage == path::STORE_EARLIER).unwrap();
    assert_eq!(earlier.mean_ms, 110.0);
    assert_eq!(b.evidence[0].value, 95.0);
}
