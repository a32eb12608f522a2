//! Coordinator routing: a group or transaction request for a key this agent does not coordinate is
//! answered NOT_COORDINATOR (or COORDINATOR_LOAD_IN_PROGRESS while its lease is being taken), so the client
//! finds the coordinator again, as a Kafka broker answers for a group whose offsets-topic partition it
//! does not lead. A request the client may not make at all goes to its handler, which refuses it with the
//! authorization error, as Kafka checks authorization before the coordinator. Requests naming several keys
//! (DescribeGroups, OffsetFetch v8+, ConsumerGroupDescribe, DeleteGroups, AddPartitionsToTxn v4+,
//! DescribeTransactions) are served for the keys coordinated here and refused per key for the others;
//! ListGroups and ListTransactions list only the keys coordinated here.

use crate::Agent;
use crate::request::{Operation, RequestContext, Resource, permits};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// The refusal for `key`, unless the client may not touch it (its handler then answers that) or the key is
/// empty (its handler answers INVALID_GROUP_ID and the like).
fn refusal(agent: &Agent, ctx: &RequestContext, key: &str, operation: Operation, resource: Resource) -> Option<i16> {
    if key.is_empty() || !permits(ctx, operation, resource) {
        return None;
    }
    agent.cluster.refusal(key)
}

fn group_refusal(agent: &Agent, ctx: &RequestContext, group: &str, operation: Operation) -> Option<i16> {
    refusal(agent, ctx, group, operation, Resource::Group(group))
}

fn txn_refusal(agent: &Agent, ctx: &RequestContext, id: &str) -> Option<i16> {
    refusal(agent, ctx, id, Operation::Write, Resource::TransactionalId(id))
}

pub fn join_group(agent: &Agent, ctx: &RequestContext, req: &JoinGroupRequest, v: i16) -> Option<JoinGroupResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    let r = JoinGroupResponse::default().with_error_code(code).with_generation_id(-1);
    Some(r.with_protocol_name(if v >= 7 { None } else { Some(StrBytes::from_static_str("")) }))
}

pub fn sync_group(agent: &Agent, ctx: &RequestContext, req: &SyncGroupRequest) -> Option<SyncGroupResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(SyncGroupResponse::default().with_error_code(code))
}

pub fn heartbeat(agent: &Agent, ctx: &RequestContext, req: &HeartbeatRequest) -> Option<HeartbeatResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(HeartbeatResponse::default().with_error_code(code))
}

pub fn leave_group(agent: &Agent, ctx: &RequestContext, req: &LeaveGroupRequest) -> Option<LeaveGroupResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(LeaveGroupResponse::default().with_error_code(code))
}

pub fn offset_commit(agent: &Agent, ctx: &RequestContext, req: &OffsetCommitRequest) -> Option<OffsetCommitResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(crate::handlers::offsets::commit_refused(&req.topics, code))
}

pub fn offset_delete(agent: &Agent, ctx: &RequestContext, req: &OffsetDeleteRequest) -> Option<OffsetDeleteResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Delete)?;
    Some(OffsetDeleteResponse::default().with_error_code(code))
}

pub fn consumer_group_heartbeat(
    agent: &Agent,
    ctx: &RequestContext,
    req: &ConsumerGroupHeartbeatRequest,
) -> Option<ConsumerGroupHeartbeatResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(ConsumerGroupHeartbeatResponse::default().with_error_code(code))
}

pub fn share_group_heartbeat(
    agent: &Agent,
    ctx: &RequestContext,
    req: &ShareGroupHeartbeatRequest,
) -> Option<ShareGroupHeartbeatResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(ShareGroupHeartbeatResponse::default().with_error_code(code))
}

pub fn alter_share_group_offsets(
    agent: &Agent,
    ctx: &RequestContext,
    req: &AlterShareGroupOffsetsRequest,
) -> Option<AlterShareGroupOffsetsResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    Some(AlterShareGroupOffsetsResponse::default().with_error_code(code))
}

pub fn delete_share_group_offsets(
    agent: &Agent,
    ctx: &RequestContext,
    req: &DeleteShareGroupOffsetsRequest,
) -> Option<DeleteShareGroupOffsetsResponse> {
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Delete)?;
    Some(DeleteShareGroupOffsetsResponse::default().with_error_code(code))
}

pub fn txn_offset_commit(
    agent: &Agent,
    ctx: &RequestContext,
    req: &TxnOffsetCommitRequest,
) -> Option<TxnOffsetCommitResponse> {
    use kafka_protocol::messages::txn_offset_commit_response::{
        TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
    };
    // TxnOffsetCommit goes to the group's coordinator, as in Kafka.
    if !permits(ctx, Operation::Write, Resource::TransactionalId(&req.transactional_id)) {
        return None;
    }
    let code = group_refusal(agent, ctx, &req.group_id, Operation::Read)?;
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    Some(TxnOffsetCommitResponse::default().with_topics(topics))
}

pub fn add_offsets_to_txn(
    agent: &Agent,
    ctx: &RequestContext,
    req: &AddOffsetsToTxnRequest,
) -> Option<AddOffsetsToTxnResponse> {
    let code = txn_refusal(agent, ctx, &req.transactional_id)?;
    Some(AddOffsetsToTxnResponse::default().with_error_code(code))
}

pub fn end_txn(agent: &Agent, ctx: &RequestContext, req: &EndTxnRequest) -> Option<EndTxnResponse> {
    let code = txn_refusal(agent, ctx, &req.transactional_id)?;
    Some(EndTxnResponse::default().with_error_code(code).with_producer_id(ProducerId(-1)).with_producer_epoch(-1))
}

/// Only InitProducerId with a transactional id has a coordinator; an idempotent producer's goes anywhere.
pub fn init_producer_id(
    agent: &Agent,
    ctx: &RequestContext,
    req: &InitProducerIdRequest,
) -> Option<InitProducerIdResponse> {
    let id = req.transactional_id.as_ref()?;
    let code = txn_refusal(agent, ctx, id)?;
    Some(
        InitProducerIdResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    )
}

mod batched;
mod listing;
pub use batched::{add_partitions_to_txn, consumer_group_describe, delete_groups, describe_groups, offset_fetch};
pub use listing::{describe_transactions, list_groups, list_transactions};
