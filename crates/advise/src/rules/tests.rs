//! Every rule on constructed observations: it fires on the traffic it is about, with its figures in the
//! evidence, and stays quiet on well-behaved traffic.

use super::*;
use crate::observations::*;

const WINDOW: f64 = 10.0;

fn obs() -> Observations {
    Observations { window_secs: WINDOW, brokers: 1, ..Observations::default() }
}

/// A topic whose partitions took `produced[i]` records in the window.
fn topic(name: &str, produced: &[i64]) -> TopicObs {
    let partitions = produced
        .iter()
        .enumerate()
        .map(|(i, n)| PartitionObs { partition: i as i32, start_offset: 0, end_before: 1000, end_after: 1000 + n })
        .collect();
    TopicObs { name: name.into(), partitions, ..TopicObs::default() }
}

/// A sample of batches of `records_per_batch` records of `record_bytes` bytes, idempotent, compressed.
fn sample(batches: u64, records_per_batch: u64, record_bytes: u64) -> RecordSample {
    let records = batches * records_per_batch;
    RecordSample {
        batches,
        records,
        batch_bytes: batches * 61 + records * record_bytes,
        stored_record_bytes: records * record_bytes / 3,
        uncompressed_record_bytes: records * record_bytes,
        codecs: [("zstd".to_string(), batches)].into(),
        idempotent_batches: batches,
        producers: 1,
        ..RecordSample::default()
    }
}

fn client(id: &str, requests: u64, records_per_batch: u64, bytes_per_batch: u64) -> ClientObs {
    ClientObs {
        client_id: id.into(),
        requests,
        batches: requests,
        records: requests * records_per_batch,
        bytes: requests * bytes_per_batch,
        uncompressed_bytes: requests * bytes_per_batch,
        codecs: [("none".to_string(), requests)].into(),
        compression_ratio: 1.0,
        window_secs: WINDOW,
    }
}

fn ids(recs: &[Recommendation]) -> Vec<(&'static str, &str)> {
    recs.iter().map(|r| (r.id, r.target.as_str())).collect()
}

fn group(id: &str, members: usize, parts: &[(i64, i64, i64, i64)]) -> GroupObs {
    let partitions = parts
        .iter()
        .enumerate()
        .map(|(i, &(committed_before, committed_after, end_before, end_after))| GroupPartitionObs {
            topic: "orders".into(),
            partition: i as i32,
            committed_before,
            committed_after,
            end_before,
            end_after,
        })
        .collect();
    GroupObs {
        group_id: id.into(),
        protocol_type: "consumer".into(),
        group_type: Some("classic".into()),
        state: "Stable".into(),
        members,
        polls: 10,
        partitions,
        ..GroupObs::default()
    }
}

#[test]
fn tiny_batches_of_a_client_recommend_linger_with_the_request_reduction() {
    let mut o = obs();
    // 500 requests/s of one 100-byte record each; a batching client beside it.
    o.clients = vec![client("tiny", 5000, 1, 100), client("batched", 5000, 200, 40_000), client("rare", 50, 1, 100)];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("tiny-batches", "client tiny")]);
    let r = &recs[0];
    assert!(r.suggested.contains("linger.ms=10"), "{r:?}");
    // One broker: at most 100 requests/s with a 10 ms linger, from 500.
    assert!(r.effect.contains("from 500 to at most 100/s (80% fewer)"), "{r:?}");
    assert!(r.evidence.contains("500 produce requests/s") && r.evidence.contains("1 records per batch"), "{r:?}");
}

#[test]
fn tiny_batches_of_a_topic_come_from_sampled_batches() {
    let mut o = obs();
    let mut t = topic("clicks", &[5000, 5000]);
    t.sample = Some(RecordSample { median_batch_gap_ms: Some(1.0), ..sample(400, 1, 50) });
    let mut good = topic("orders", &[1000, 1000]);
    good.sample = Some(sample(10, 200, 50));
    o.topics = vec![t, good];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("tiny-batches", "topic clicks")]);
    assert!(recs[0].evidence.contains("1 ms apart"), "{:?}", recs[0]);
    // 1000 batches/s over 2 partitions from 1 producer: at most 200/s with a 10 ms linger.
    assert!(recs[0].effect.contains("from 1000 to at most 200/s (80% fewer"), "{:?}", recs[0]);
    assert!(recs[0].suggested.starts_with("linger.ms=10 "), "{:?}", recs[0]);
    // At 100 batches/s per partition 10 ms would not halve them; 50 ms does.
    o.topics[0].partitions.iter_mut().for_each(|p| p.end_after = p.end_before + 1000);
    let recs = recommend(&o);
    assert!(recs[0].suggested.starts_with("linger.ms=50 "), "{:?}", recs[0]);
    assert!(recs[0].effect.contains("from 200 to at most 40/s"), "{:?}", recs[0]);
}

#[test]
fn uncompressed_data_that_compresses_well_recommends_a_codec_with_the_measured_ratio() {
    let mut o = obs();
    let mut t = topic("logs", &[5000]);
    let mut s = sample(50, 100, 200);
    s.codecs = [("none".to_string(), 50)].into();
    s.estimate = Some(CompressionEstimate { input_bytes: 1_000_000, zstd_bytes: 200_000, lz4_bytes: 400_000 });
    t.sample = Some(s.clone());
    // Compressed already, or barely compressible: no advice.
    let mut done = topic("done", &[5000]);
    done.sample = Some(sample(50, 100, 200));
    let mut random = topic("random", &[5000]);
    s.estimate = Some(CompressionEstimate { input_bytes: 1_000_000, zstd_bytes: 900_000, lz4_bytes: 950_000 });
    random.sample = Some(s);
    o.topics = vec![t, done, random];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("no-compression", "topic logs")]);
    assert_eq!(recs[0].suggested, "zstd");
    assert!(recs[0].evidence.contains("compress 5.0x with zstd, 2.5x with lz4"), "{:?}", recs[0]);
    assert!(recs[0].effect.contains("about 80% fewer bytes"), "{:?}", recs[0]);
}

#[test]
fn batches_without_producer_id_recommend_idempotence() {
    let mut o = obs();
    let mut t = topic("payments", &[100]);
    t.sample = Some(RecordSample { plain_batches: 40, idempotent_batches: 0, ..sample(40, 50, 100) });
    o.topics = vec![t];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("idempotence-off", "topic payments")]);
    assert!(recs[0].evidence.contains("40 of 40 sampled batches"), "{:?}", recs[0]);
}

#[test]
fn a_hot_partition_and_a_hot_key_are_reported_with_their_shares() {
    let mut o = obs();
    let mut t = topic("skewed", &[800, 70, 70, 60]);
    t.sample = Some(RecordSample {
        keyed_records: 1000,
        distinct_keys: 20,
        top_key: Some("customer-1".into()),
        top_key_share: 0.78,
        ..sample(50, 20, 100)
    });
    let mut even = topic("even", &[250, 250, 240, 260]);
    even.sample =
        Some(RecordSample { keyed_records: 1000, distinct_keys: 500, top_key_share: 0.01, ..sample(50, 20, 100) });
    o.topics = vec![t, even];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("hot-key", "topic skewed"), ("partition-skew", "topic skewed")]);
    let skew = &recs[1];
    assert!(skew.current.contains("partition 0 takes 80%"), "{skew:?}");
    assert!(skew.evidence.contains("80 records/s, 3.2x the mean"), "{skew:?}");
    assert!(recs[0].current.contains("\"customer-1\" on 78%"), "{:?}", recs[0]);
}

#[test]
fn idle_partitions_suggest_fewer() {
    let mut o = obs();
    o.topics = vec![topic("sparse", &[500, 500, 0, 0, 0, 0]), topic("busy", &[500, 500, 500, 500, 0, 500])];
    let recs = recommend(&o);
    let idle: Vec<_> = recs.iter().filter(|r| r.id == "idle-partitions").collect();
    assert_eq!(idle.len(), 1, "{recs:?}");
    assert_eq!(idle[0].target, "topic sparse");
    assert!(idle[0].evidence.contains("4 of 6 partitions received no record"), "{:?}", idle[0]);
    assert!(idle[0].suggested.starts_with("2 "), "{:?}", idle[0]);
}

#[test]
fn growing_lag_recommends_consumers_up_to_the_partition_count_with_a_catch_up_estimate() {
    let mut o = obs();
    o.topics = vec![topic("orders", &[1000, 1000, 1000, 1000])];
    // Each partition: 100 records/s in, 50 consumed; lag 500 -> 1000.
    let p = (500, 1000, 1000, 2000);
    o.groups = vec![group("slow", 2, &[p, p, p, p]), group("fine", 4, &[(990, 1990, 1000, 2000); 4])];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("lag-growing", "group slow on orders")]);
    let r = &recs[0];
    assert_eq!(r.current, "2 members for 4 partitions");
    assert!(r.evidence.contains("lag 2000 -> 4000 records in 10s (+200/s): produced 400/s, consumed 200/s"), "{r:?}");
    // Twice the members: 400/s consumed, as fast as produced: the lag stops growing but does not clear.
    assert!(r.effect.contains("at 400 records/s consumed the lag keeps growing"), "{r:?}");
}

#[test]
fn lag_at_full_membership_recommends_partitions_and_estimates_catch_up() {
    let mut o = obs();
    o.topics = vec![topic("orders", &[1000])];
    o.groups = vec![group("g", 1, &[(0, 1000, 1000, 2000)]), group("empty", 0, &[(0, 0, 1000, 2000)])];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("lag-growing", "group empty on orders")]);
    assert_eq!(recs[0].current, "no member in the group");
    o.groups = vec![group("g", 1, &[(0, 500, 1000, 2000)])];
    let recs = recommend(&o);
    assert_eq!(recs[0].setting, "partitions and consumers");
}

#[test]
fn lag_close_to_retention_is_critical() {
    let mut o = obs();
    let mut t = topic("orders", &[1000]);
    // One hour of retention; 100 records/s written, 50 consumed, 300,000 records behind (50 minutes).
    t.configs.retention_ms = Some(3_600_000);
    t.configs.cleanup_policy = Some("delete".into());
    o.topics = vec![t];
    o.groups = vec![group("late", 1, &[(0, 500, 299_500, 300_500)])];
    let recs = recommend(&o);
    assert_eq!(recs[0].id, "lag-near-retention");
    assert_eq!(recs[0].severity, Severity::Critical);
    assert!(recs[0].evidence.contains("the group is 50m behind"), "{:?}", recs[0]);
    // The backlog ages 0.5 s per second: 10 minutes left, 20 minutes until loss.
    assert!(recs[0].effect.contains("in about 20m"), "{:?}", recs[0]);
    // Compacted topics lose nothing to retention.
    o.topics[0].configs.cleanup_policy = Some("compact".into());
    assert!(recommend(&o).iter().all(|r| r.id != "lag-near-retention"));
}

#[test]
fn frequent_rebalances_recommend_static_membership_and_kip_848() {
    let mut o = obs();
    let churn = GroupObs { member_changes: 2, rebalancing_polls: 3, ..group("churn", 3, &[]) };
    let calm = GroupObs { member_changes: 1, ..group("calm", 3, &[]) };
    let modern =
        GroupObs { member_changes: 4, group_type: Some("consumer".into()), static_members: 3, ..group("new", 3, &[]) };
    o.groups = vec![churn, calm, modern];
    let recs = recommend(&o);
    assert_eq!(ids(&recs), vec![("frequent-rebalances", "group churn"), ("frequent-rebalances", "group new")]);
    assert!(recs[0].suggested.contains("group.instance.id") && recs[0].suggested.contains("group.protocol=consumer"));
    assert!(recs[0].evidence.contains("2 membership changes and 3 of 10 polls"), "{:?}", recs[0]);
    assert!(!recs[1].suggested.contains("group.instance.id") && !recs[1].suggested.contains("group.protocol"));
}

#[test]
fn well_behaved_traffic_gets_no_recommendation() {
    let mut o = obs();
    let mut t = topic("orders", &[1000, 1000, 1000, 1000]);
    t.configs.retention_ms = Some(604_800_000);
    t.sample =
        Some(RecordSample { keyed_records: 5000, distinct_keys: 3000, top_key_share: 0.001, ..sample(40, 100, 200) });
    o.topics = vec![t];
    o.clients = vec![client("app", 1000, 100, 20_000)];
    o.groups = vec![group("g", 4, &[(1000, 2000, 1000, 2000); 4])];
    assert!(recommend(&o).is_empty(), "{:?}", recommend(&o));
}

#[test]
fn recommendations_are_ordered_by_severity() {
    let mut o = obs();
    let mut t = topic("orders", &[1000]);
    t.configs.retention_ms = Some(3_600_000);
    let mut s = sample(50, 100, 200);
    s.codecs = [("none".to_string(), 50)].into();
    s.estimate = Some(CompressionEstimate { input_bytes: 1000, zstd_bytes: 100, lz4_bytes: 100 });
    t.sample = Some(s);
    o.topics = vec![t];
    o.groups = vec![group("late", 1, &[(0, 500, 299_500, 300_500)])];
    let sev: Vec<Severity> = recommend(&o).iter().map(|r| r.severity).collect();
    assert_eq!(sev, vec![Severity::Critical, Severity::Warning, Severity::Info]);
}
