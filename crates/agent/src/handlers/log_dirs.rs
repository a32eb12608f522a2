//! DescribeLogDirs, as kafka-ui, AKHQ and `kafka-log-dirs.sh` call it. Weft has no local log directories:
//! every partition lives in the object store, so one "log dir" is reported, named by the object store's URL,
//! with each partition's stored bytes (from the metastore index). Volume sizes are unknown for a bucket and
//! reported as -1 (Kafka's UNKNOWN_VOLUME_BYTES); no partition ever lags, as there are no replicas.

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use std::collections::{BTreeMap, HashMap};

pub async fn handle(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeLogDirsRequest,
    version: i16,
) -> DescribeLogDirsResponse {
    // Kafka: without DESCRIBE on the cluster, no log dirs (and, from v3, CLUSTER_AUTHORIZATION_FAILED).
    if let Err(code) = check(ctx, Operation::Describe, Resource::Cluster) {
        let r = DescribeLogDirsResponse::default();
        return if version >= 3 { r.with_error_code(code) } else { r };
    }
    let failed = |what: &str, e: &weft_meta::MetaError| {
        tracing::warn!(error = %e, "describe log dirs: {what} failed");
        DescribeLogDirsResponse::default().with_error_code(e.code())
    };
    let topics = match agent.meta.list_topics().await {
        Ok(t) => t,
        Err(e) => return failed("listing topics", &e),
    };
    let sizes: HashMap<(uuid::Uuid, i32), u64> = match agent.meta.partition_sizes().await {
        Ok(s) => s.into_iter().map(|(t, p, b)| ((t, p), b)).collect(),
        Err(e) => return failed("reading partition sizes", &e),
    };
    // Wanted partitions by topic name; None means every partition of every topic.
    let wanted: Option<BTreeMap<String, Vec<i32>>> =
        req.topics.map(|ts| ts.into_iter().map(|t| (t.topic.to_string(), t.partitions)).collect());
    let mut out = Vec::new();
    for t in &topics {
        let partitions: Vec<i32> = match &wanted {
            None => (0..t.partitions).collect(),
            Some(w) => match w.get(&t.name) {
                Some(ps) => ps.iter().copied().filter(|p| (0..t.partitions).contains(p)).collect(),
                None => continue,
            },
        };
        if partitions.is_empty() {
            continue;
        }
        let partitions = partitions
            .into_iter()
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p)
                    .with_partition_size(sizes.get(&(t.id, p)).copied().unwrap_or(0) as i64)
                    .with_offset_lag(0)
                    .with_is_future_key(false)
            })
            .collect();
        out.push(
            DescribeLogDirsTopic::default().with_name(TopicName(str_bytes(t.name.clone()))).with_partitions(partitions),
        );
    }
    let dir = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(agent.storage.url().to_string()))
        .with_topics(out)
        .with_total_bytes(-1)
        .with_usable_bytes(-1);
    DescribeLogDirsResponse::default().with_results(vec![dir])
}
