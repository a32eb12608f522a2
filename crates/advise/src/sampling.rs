//! Record sampling: a raw Fetch of the latest batches of each partition from its leader, bounded per partition
//! and in total, handed to [`BatchStats`] per topic. Works the same against Kafka and Weft.

use crate::batch_stats::BatchStats;
use crate::brokers::{Brokers, Placement};
use anyhow::Result;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use std::collections::{BTreeMap, HashMap};
use weft_admin::str_bytes;

/// How far back from the log end a sample starts, in records: enough batches for medians and key shares.
const SAMPLE_RECORDS: i64 = 2_000;
/// The most one Fetch asks for (several partitions of one leader).
const MAX_FETCH_BYTES: i32 = 16 << 20;

pub struct Budget {
    pub per_partition: i32,
    pub total: u64,
}

/// Samples the latest batches of `placements` (whose log start and end offsets are in `start` and `end`),
/// returning the stats per topic.
pub async fn sample(
    brokers: &mut Brokers,
    placements: &[Placement],
    start: &HashMap<(String, i32), i64>,
    end: &HashMap<(String, i32), i64>,
    budget: &Budget,
) -> Result<BTreeMap<String, BatchStats>> {
    let mut by_leader: BTreeMap<i32, Vec<(&Placement, i64)>> = BTreeMap::new();
    for p in placements {
        let key = (p.topic.clone(), p.partition);
        let (Some(&s), Some(&e)) = (start.get(&key), end.get(&key)) else { continue };
        if e > s {
            by_leader.entry(p.leader).or_default().push((p, (e - SAMPLE_RECORDS).max(s)));
        }
    }
    let mut stats: BTreeMap<String, BatchStats> = BTreeMap::new();
    let mut left = budget.total;
    for (leader, parts) in by_leader {
        // Each request stays within what is left of the budget, in whole partitions.
        let per = budget.per_partition.max(1);
        let fit = usize::try_from(left / per as u64).unwrap_or(usize::MAX).min((MAX_FETCH_BYTES / per).max(1) as usize);
        for chunk in parts.chunks(fit.max(1)) {
            if left == 0 {
                return Ok(stats);
            }
            let got = fetch(brokers, leader, chunk, per, &mut stats).await?;
            left = left.saturating_sub(got);
        }
    }
    Ok(stats)
}

/// One Fetch of `parts` from `leader`; returns the bytes received.
async fn fetch(
    brokers: &mut Brokers,
    leader: i32,
    parts: &[(&Placement, i64)],
    per_partition: i32,
    stats: &mut BTreeMap<String, BatchStats>,
) -> Result<u64> {
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (p, offset) in parts {
        let fp = FetchPartition::default()
            .with_partition(p.partition)
            .with_fetch_offset(*offset)
            .with_partition_max_bytes(per_partition)
            .with_log_start_offset(-1)
            .with_current_leader_epoch(-1);
        topics.entry(&p.topic).or_default().push(fp);
    }
    let topics = topics
        .into_iter()
        .map(|(t, ps)| FetchTopic::default().with_topic(TopicName(str_bytes(t))).with_partitions(ps))
        .collect();
    let max = i32::try_from(parts.len()).unwrap_or(i32::MAX).saturating_mul(per_partition).min(MAX_FETCH_BYTES);
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(max)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    let (resp, _) = brokers.node(leader).await?.call(12, &req).await?;
    let mut got = 0u64;
    for t in resp.responses {
        let entry = stats.entry(t.topic.as_str().to_string()).or_default();
        for p in t.partitions.into_iter().filter(|p| p.error_code == 0) {
            if let Some(records) = p.records {
                got += records.len() as u64;
                entry.add_records(p.partition_index, &records);
            }
        }
    }
    Ok(got)
}
