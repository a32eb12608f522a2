//! OffsetCommit v0-1 and OffsetFetch v0.
//!
//! Kafka 3.9 in ZooKeeper mode kept v0 commits in ZooKeeper, apart from the offsets of v1+ (in KRaft mode it
//! answered v0 with UNSUPPORTED_VERSION). Weft has one offset store, so every version reads and writes it:
//! a client that commits and fetches with v0 sees its offsets, and so do newer clients of the same group.

use super::{to3, to18};
use crate::Agent;
use crate::handlers;
use crate::request::RequestContext;
use kafka_protocol::messages::offset_commit_request as c18;
use kafka_protocol::messages::offset_fetch_request as f18;
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, TopicName};
use kafka_protocol_k3::messages as k3;
use kafka_protocol_k3::messages::offset_commit_response as cr3;
use kafka_protocol_k3::messages::offset_fetch_response as fr3;

/// The 0.18 version the converted requests are handled at: the oldest that codec knows.
const COMMIT_AS: i16 = 2;
const FETCH_AS: i16 = 1;

/// v0 carries no generation or member (a commit outside group management, as v2+ with generation -1);
/// v1 adds them and a per-partition commit timestamp, which Weft does not take from the client: offsets are
/// stamped with the agent's clock, so their expiry runs from the time they arrived.
pub fn commit_request(req: k3::OffsetCommitRequest, version: i16) -> OffsetCommitRequest {
    let (generation, member) =
        if version >= 1 { (req.generation_id_or_member_epoch, to18(&req.member_id)) } else { (-1, Default::default()) };
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    c18::OffsetCommitRequestPartition::default()
                        .with_partition_index(p.partition_index)
                        .with_committed_offset(p.committed_offset)
                        .with_committed_metadata(p.committed_metadata.as_ref().map(to18))
                })
                .collect();
            c18::OffsetCommitRequestTopic::default().with_name(TopicName(to18(&t.name.0))).with_partitions(partitions)
        })
        .collect();
    OffsetCommitRequest::default()
        .with_group_id(GroupId(to18(&req.group_id.0)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(member)
        .with_topics(topics)
}

/// v0 and v1 answer topics and partitions with their codes; nothing else (no throttle time before v3).
pub fn commit_response(resp: OffsetCommitResponse) -> k3::OffsetCommitResponse {
    let topics = resp
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    cr3::OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(p.error_code)
                })
                .collect();
            cr3::OffsetCommitResponseTopic::default()
                .with_name(k3::TopicName(to3(&t.name.0)))
                .with_partitions(partitions)
        })
        .collect();
    k3::OffsetCommitResponse::default().with_topics(topics)
}

pub async fn commit(
    agent: &Agent,
    ctx: &RequestContext,
    req: k3::OffsetCommitRequest,
    version: i16,
) -> k3::OffsetCommitResponse {
    let req = commit_request(req, version);
    // A group coordinated by another agent is refused as for any version.
    if let Some(refused) = crate::routing::offset_commit(agent, ctx, &req) {
        return commit_response(refused);
    }
    commit_response(handlers::offsets::commit(agent, ctx, req, COMMIT_AS).await)
}

/// v0 has the layout of v1: a group and its topics' partitions (no null "all topics" before v2).
pub fn fetch_request(req: k3::OffsetFetchRequest) -> OffsetFetchRequest {
    let topics = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| {
                f18::OffsetFetchRequestTopic::default()
                    .with_name(TopicName(to18(&t.name.0)))
                    .with_partition_indexes(t.partition_indexes.clone())
            })
            .collect()
    });
    OffsetFetchRequest::default().with_group_id(GroupId(to18(&req.group_id.0))).with_topics(topics)
}

/// Offsets, metadata and codes per partition; no leader epoch (v5+), group error (v2+) or throttle (v3+).
pub fn fetch_response(resp: kafka_protocol::messages::OffsetFetchResponse) -> k3::OffsetFetchResponse {
    let topics = resp
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    fr3::OffsetFetchResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_committed_offset(p.committed_offset)
                        .with_metadata(p.metadata.as_ref().map(to3))
                        .with_error_code(p.error_code)
                })
                .collect();
            fr3::OffsetFetchResponseTopic::default()
                .with_name(k3::TopicName(to3(&t.name.0)))
                .with_partitions(partitions)
        })
        .collect();
    k3::OffsetFetchResponse::default().with_topics(topics)
}

pub async fn fetch(
    agent: &Agent,
    ctx: &RequestContext,
    req: k3::OffsetFetchRequest,
    _version: i16,
) -> k3::OffsetFetchResponse {
    // Routed (a group coordinated by another agent is refused) as for any version.
    fetch_response(crate::routing::offset_fetch(agent, ctx, fetch_request(req), FETCH_AS).await)
}
