//! Topic observations over the Kafka protocol: the configs that matter (DescribeConfigs) and log start and end
//! offsets per partition (ListOffsets to each partition's leader).

use crate::brokers::{Brokers, Placement};
use crate::observations::TopicConfigs;
use anyhow::Result;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, DescribeConfigsRequest, ListOffsetsRequest, TopicName};
use std::collections::{BTreeMap, HashMap};
use weft_admin::str_bytes;

/// The configs read per topic.
const CONFIG_KEYS: [&str; 5] =
    ["retention.ms", "cleanup.policy", "compression.type", "segment.bytes", "max.message.bytes"];
/// Topics described per DescribeConfigs request.
const TOPICS_PER_REQUEST: usize = 100;
/// ListOffsets timestamps: the next offset to be written, and the first offset kept.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// The configs of `topics`; topics the cluster would not describe get empty configs.
pub async fn configs(brokers: &mut Brokers, topics: &[String]) -> Result<HashMap<String, TopicConfigs>> {
    let mut out = HashMap::new();
    for chunk in topics.chunks(TOPICS_PER_REQUEST) {
        let keys: Vec<_> = CONFIG_KEYS.iter().map(|k| str_bytes(k)).collect();
        let resources = chunk
            .iter()
            .map(|t| {
                DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(str_bytes(t))
                    .with_configuration_keys(Some(keys.clone()))
            })
            .collect();
        let req = DescribeConfigsRequest::default().with_resources(resources);
        let (resp, _) = brokers.node(-1).await?.call(4, &req).await?;
        for r in resp.results.iter().filter(|r| r.error_code == 0) {
            let get = |k: &str| r.configs.iter().find(|c| c.name.as_str() == k).and_then(|c| c.value.clone());
            let int = |k: &str| get(k).and_then(|v| v.as_str().parse::<i64>().ok());
            let text = |k: &str| get(k).map(|v| v.as_str().to_string());
            let c = TopicConfigs {
                retention_ms: int("retention.ms"),
                cleanup_policy: text("cleanup.policy"),
                compression_type: text("compression.type"),
                segment_bytes: int("segment.bytes"),
                max_message_bytes: int("max.message.bytes"),
            };
            out.insert(r.resource_name.as_str().to_string(), c);
        }
    }
    Ok(out)
}

/// The offset at `timestamp` (LATEST or EARLIEST) of every placement, asked of each partition's leader.
/// Partitions whose leader refused are left out.
pub async fn offsets(
    brokers: &mut Brokers,
    placements: &[Placement],
    timestamp: i64,
) -> Result<HashMap<(String, i32), i64>> {
    let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for p in placements {
        by_leader.entry(p.leader).or_default().entry(&p.topic).or_default().push(p.partition);
    }
    let mut out = HashMap::new();
    for (leader, topics) in by_leader {
        let topics = topics
            .into_iter()
            .map(|(t, ps)| {
                let parts = ps
                    .into_iter()
                    .map(|p| ListOffsetsPartition::default().with_partition_index(p).with_timestamp(timestamp));
                ListOffsetsTopic::default().with_name(TopicName(str_bytes(t))).with_partitions(parts.collect())
            })
            .collect();
        let req = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(topics);
        let (resp, _) = brokers.node(leader).await?.call(7, &req).await?;
        for t in resp.topics {
            for p in t.partitions.into_iter().filter(|p| p.error_code == 0 && p.offset >= 0) {
                out.insert((t.name.as_str().to_string(), p.partition_index), p.offset);
            }
        }
    }
    Ok(out)
}
