//! DeleteRecords: moves partitions' log start offsets forward on demand (Kafka's `kafka-delete-records`).
//! Records below the new start become unreadable at once; their objects are deleted by the garbage collector
//! once nothing references them and the grace period has passed.

use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

/// DeleteRecords' "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(
    agent: &Agent,
    ctx: &RequestContext,
    req: DeleteRecordsRequest,
    _version: i16,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        if let Err(code) = check(ctx, Operation::Delete, Resource::Topic(&t.name)) {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1)
                        .with_error_code(code)
                })
                .collect();
            topics.push(DeleteRecordsTopicResult::default().with_name(t.name).with_partitions(partitions));
            continue;
        }
        let topic = agent.topics.get(agent.meta.as_ref(), &t.name).await;
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let result = match &topic {
                Ok(Some(entry)) if p.partition_index >= 0 && p.partition_index < entry.topic.partitions => {
                    delete_one(agent, entry.topic.id, p.partition_index, p.offset).await
                }
                Ok(_) => Err(ResponseError::UnknownTopicOrPartition.code()),
                Err(e) => Err(e.code()),
            };
            let r = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
            partitions.push(match result {
                Ok(low_watermark) => {
                    tracing::info!(topic = %t.name.as_str(), partition = p.partition_index, low_watermark, "records deleted");
                    r.with_low_watermark(low_watermark)
                }
                Err(code) => {
                    tracing::warn!(topic = %t.name.as_str(), partition = p.partition_index, offset = p.offset, code, "delete records refused");
                    crate::metrics::error("DeleteRecords", code);
                    r.with_low_watermark(-1).with_error_code(code)
                }
            });
        }
        topics.push(DeleteRecordsTopicResult::default().with_name(t.name).with_partitions(partitions));
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

/// The partition's new log start offset, or the error code of the refusal.
async fn delete_one(agent: &Agent, topic_id: uuid::Uuid, partition: i32, offset: i64) -> Result<i64, i16> {
    let bounds = agent
        .partitions
        .offsets(agent.meta.as_ref(), topic_id, partition)
        .await
        .map_err(|e| e.code())?
        .ok_or(ResponseError::UnknownTopicOrPartition.code())?;
    let target = match offset {
        HIGH_WATERMARK => bounds.next_offset,
        o if o < 0 || o > bounds.next_offset => return Err(ResponseError::OffsetOutOfRange.code()),
        o => o,
    };
    let now = agent.clock.now_ms();
    let moved = agent
        .meta
        .advance_log_start(topic_id, partition, target, now)
        .await
        .map_err(|e| e.code())?
        .ok_or(ResponseError::UnknownTopicOrPartition.code())?;
    agent.partitions.advance(topic_id, partition, moved);
    Ok(moved.log_start)
}
