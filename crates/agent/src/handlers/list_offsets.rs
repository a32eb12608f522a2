//! ListOffsets: earliest, latest, max-timestamp and by-timestamp lookups.

use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use uuid::Uuid;
use weft_log::LEADER_EPOCH;

pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;
pub const MAX_TIMESTAMP: i64 = -3;
pub const EARLIEST_LOCAL: i64 = -4;

pub async fn handle(agent: &Agent, ctx: &RequestContext, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    // v2+: read_committed clients see the log only up to the last stable offset.
    let read_committed = version >= 2 && req.isolation_level == 1;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        if let Err(code) = check(ctx, Operation::Describe, Resource::Topic(&t.name)) {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_error_code(code)
                })
                .collect();
            topics.push(ListOffsetsTopicResponse::default().with_name(t.name).with_partitions(partitions));
            continue;
        }
        let topic = agent.topics.get(agent.meta.as_ref(), &t.name).await;
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let mut r = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            let lookup = match &topic {
                Ok(Some(entry)) if p.partition_index >= 0 && p.partition_index < entry.topic.partitions => {
                    lookup(agent, entry.topic.id, p.partition_index, p.timestamp, read_committed).await.map_err(|e| {
                        tracing::warn!(topic = %t.name.as_str(), partition = p.partition_index, error = %e, "list offsets failed");
                        e.code()
                    })
                }
                Ok(_) => Err(ResponseError::UnknownTopicOrPartition.code()),
                Err(e) => {
                    tracing::warn!(topic = %t.name.as_str(), error = %e, "list offsets: topic lookup failed");
                    Err(e.code())
                }
            };
            match lookup {
                Ok((offset, timestamp)) => {
                    r.offset = offset;
                    r.timestamp = timestamp;
                    if version >= 4 {
                        r.leader_epoch = LEADER_EPOCH;
                    }
                }
                Err(code) => r.error_code = code,
            }
            partitions.push(r);
        }
        topics.push(ListOffsetsTopicResponse::default().with_name(t.name).with_partitions(partitions));
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// (offset, timestamp) for one partition; (-1, -1) when no record matches, as Kafka answers.
pub(crate) async fn lookup(
    agent: &Agent,
    topic_id: Uuid,
    partition: i32,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64), weft_log::ReadError> {
    let offsets = agent
        .partitions
        .offsets(agent.meta.as_ref(), topic_id, partition)
        .await?
        .ok_or(weft_log::ReadError::Meta(weft_meta::MetaError::UnknownTopic { name: topic_id.to_string() }))?;
    let end = if read_committed { offsets.last_stable } else { offsets.next_offset };
    let visible = |found: (i64, i64)| if found.0 >= end { (-1, -1) } else { found };
    match timestamp {
        LATEST => Ok((end, -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((offsets.log_start, -1)),
        MAX_TIMESTAMP => match agent.meta.max_timestamp_batch(topic_id, partition).await? {
            Some(b) => Ok(visible(agent.reader.find_in_batch(&b, b.max_timestamp).await?.unwrap_or((-1, -1)))),
            None => Ok((-1, -1)),
        },
        ts if ts >= 0 => match agent.meta.first_batch_at_or_after_time(topic_id, partition, ts).await? {
            Some(b) => Ok(visible(agent.reader.find_in_batch(&b, ts).await?.unwrap_or((-1, -1)))),
            None => Ok((-1, -1)),
        },
        // Tiered-storage specific specs (-5, -6): every byte is already in object storage, nothing is pending.
        _ => Ok((-1, -1)),
    }
}
