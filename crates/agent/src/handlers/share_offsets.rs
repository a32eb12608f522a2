//! DescribeShareGroupOffsets, AlterShareGroupOffsets and DeleteShareGroupOffsets v0 (KIP-932): the share-group
//! offsets admin APIs, answered by the group's coordinator (NOT_COORDINATOR elsewhere) from the metastore's
//! `ShareStates`, as Kafka 4.2's `KafkaApis` and `GroupCoordinatorService` answer them:
//!
//! - Describe: DESCRIBE on the group, DESCRIBE on each topic (named topics refused are answered
//!   TOPIC_AUTHORIZATION_FAILED after the others; with Topics null, every topic with stored state that the
//!   caller may describe). A partition without state, or of an unknown topic, has start offset -1; v0 has no
//!   lag.
//! - Alter: READ on the group, READ on each topic. An unknown group becomes an empty share group (Kafka creates
//!   it too); a group with members is refused NON_EMPTY_GROUP, a classic or consumer group GROUP_ID_NOT_FOUND.
//!   All accepted partitions are reset in one metastore transaction, each state epoch bumped.
//! - Delete: DELETE on the group, READ on each topic; the group must exist (members known here or state
//!   stored) and be empty; a topic without state is UNKNOWN_TOPIC_OR_PARTITION.
//!
//! After a change the copies loaded here are dropped at once; other agents notice the new state epoch (or the
//! missing row) within `share::partitions::REVALIDATE_MS`, and an old holder's write is fenced by the epoch.

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, authorize, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_share_group_offsets_response as alter_resp;
use kafka_protocol::messages::delete_share_group_offsets_response as delete_resp;
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::describe_share_group_offsets_response as describe_resp;
use kafka_protocol::messages::*;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;
use weft_meta::{SharePartitionKey, ShareStartOffset};

/// The start offset of a partition without stored state, as Kafka answers it.
const UNINITIALIZED: i64 = -1;

/// GROUP_ID_NOT_FOUND (with its message) when `group` is a classic or KIP-848 group, held here or only stored,
/// or holds committed offsets (the same check a share group's first member gets); COORDINATOR_NOT_AVAILABLE
/// when that cannot be told.
async fn other_kind(agent: &Agent, group: &str) -> Option<(i16, String)> {
    let code = super::share_group::other_type(agent, group, 0).await?;
    if code == ResponseError::GroupIdNotFound.code() {
        return Some(not_share_group(group));
    }
    Some((code, format!("whether {group} is a share group cannot be told now")))
}

fn not_share_group(group: &str) -> (i16, String) {
    (ResponseError::GroupIdNotFound.code(), format!("group {group} is not a share group"))
}

fn keys(group: &str, partitions: &[(Uuid, i32)]) -> Vec<SharePartitionKey> {
    partitions
        .iter()
        .map(|&(topic_id, partition)| SharePartitionKey { group: group.to_string(), topic_id, partition })
        .collect()
}

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeShareGroupOffsetsRequest,
    _v: i16,
) -> DescribeShareGroupOffsetsResponse {
    let mut groups = Vec::with_capacity(req.groups.len());
    for g in req.groups {
        groups.push(describe_group(agent, ctx, g).await);
    }
    DescribeShareGroupOffsetsResponse::default().with_groups(groups)
}

async fn describe_group(
    agent: &Agent,
    ctx: &RequestContext,
    g: DescribeShareGroupOffsetsRequestGroup,
) -> describe_resp::DescribeShareGroupOffsetsResponseGroup {
    let id = g.group_id.to_string();
    let fail = |code: i16, message: Option<String>| {
        describe_resp::DescribeShareGroupOffsetsResponseGroup::default()
            .with_group_id(g.group_id.clone())
            .with_error_code(code)
            .with_error_message(message.map(str_bytes))
    };
    if let Err(code) = check(ctx, Operation::Describe, Resource::Group(&id)) {
        return fail(code, None);
    }
    if let Some(code) = agent.cluster.refusal(&id) {
        return fail(code, None);
    }
    if let Some((code, message)) = other_kind(agent, &id).await {
        return fail(code, Some(message));
    }
    let stored = match agent.meta.share_start_offsets(&id).await {
        Ok(s) => s,
        Err(e) => return fail(e.code(), Some(format!("share state of {id} unavailable: {e}"))),
    };
    let topics = match g.topics {
        Some(named) => describe_named(agent, ctx, named, &stored).await,
        None => describe_all(agent, ctx, &stored).await,
    };
    describe_resp::DescribeShareGroupOffsetsResponseGroup::default().with_group_id(g.group_id).with_topics(topics)
}

fn described(partition: i32, start_offset: i64) -> describe_resp::DescribeShareGroupOffsetsResponsePartition {
    describe_resp::DescribeShareGroupOffsetsResponsePartition::default()
        .with_partition_index(partition)
        .with_start_offset(start_offset)
        .with_leader_epoch(-1)
}

async fn describe_named(
    agent: &Agent,
    ctx: &RequestContext,
    named: Vec<DescribeShareGroupOffsetsRequestTopic>,
    stored: &[ShareStartOffset],
) -> Vec<describe_resp::DescribeShareGroupOffsetsResponseTopic> {
    let starts: HashMap<(Uuid, i32), i64> =
        stored.iter().map(|s| ((s.topic_id, s.partition), s.start_offset)).collect();
    let (mut out, mut refused) = (Vec::new(), Vec::new());
    for t in named {
        let name = t.topic_name.to_string();
        if let Err(code) = check(ctx, Operation::Describe, Resource::Topic(&name)) {
            let partitions = t.partitions.iter().map(|&p| described(p, UNINITIALIZED).with_error_code(code)).collect();
            refused.push(
                describe_resp::DescribeShareGroupOffsetsResponseTopic::default()
                    .with_topic_name(t.topic_name)
                    .with_partitions(partitions),
            );
            continue;
        }
        // An unknown topic is no error: its partitions have no state (-1), as Kafka answers.
        let id = agent.topics.get(agent.meta.as_ref(), &name).await.ok().flatten().map(|e| e.topic.id);
        let partitions = t
            .partitions
            .iter()
            .map(|&p| described(p, id.and_then(|id| starts.get(&(id, p)).copied()).unwrap_or(UNINITIALIZED)))
            .collect();
        out.push(
            describe_resp::DescribeShareGroupOffsetsResponseTopic::default()
                .with_topic_name(t.topic_name)
                .with_topic_id(id.unwrap_or_default())
                .with_partitions(partitions),
        );
    }
    out.extend(refused);
    out
}

async fn describe_all(
    agent: &Agent,
    ctx: &RequestContext,
    stored: &[ShareStartOffset],
) -> Vec<describe_resp::DescribeShareGroupOffsetsResponseTopic> {
    let mut by_topic: BTreeMap<Uuid, Vec<&ShareStartOffset>> = BTreeMap::new();
    for s in stored {
        by_topic.entry(s.topic_id).or_default().push(s);
    }
    let mut out = Vec::new();
    for (topic_id, states) in by_topic {
        // State of a deleted topic, or of a topic the caller may not describe, is left out.
        let Some(entry) = agent.topics.get_by_id(agent.meta.as_ref(), topic_id).await.ok().flatten() else { continue };
        if check(ctx, Operation::Describe, Resource::Topic(&entry.topic.name)).is_err() {
            continue;
        }
        let partitions = states.iter().map(|s| described(s.partition, s.start_offset)).collect();
        out.push(
            describe_resp::DescribeShareGroupOffsetsResponseTopic::default()
                .with_topic_name(TopicName(str_bytes(entry.topic.name.clone())))
                .with_topic_id(topic_id)
                .with_partitions(partitions),
        );
    }
    out
}

/// The checks before altering or deleting `group`'s offsets: `op` on the group, a non-empty id, and not another
/// kind of group's id; or the top-level error code and message.
async fn changeable(agent: &Agent, ctx: &RequestContext, op: Operation, group: &str) -> Result<(), (i16, String)> {
    if let Err(denied) = authorize(ctx, op, Resource::Group(group)) {
        return Err((denied.code(), denied.to_string()));
    }
    if group.is_empty() {
        return Err((ResponseError::InvalidGroupId.code(), "the group id is empty".into()));
    }
    match other_kind(agent, group).await {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

pub async fn alter(
    agent: &Agent,
    ctx: &RequestContext,
    req: AlterShareGroupOffsetsRequest,
    _v: i16,
) -> AlterShareGroupOffsetsResponse {
    let id = req.group_id.to_string();
    let top = |code: i16, message: String| {
        AlterShareGroupOffsetsResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
    };
    if let Err((code, message)) = changeable(agent, ctx, Operation::Read, &id).await {
        return top(code, message);
    }
    // Per partition: its answer, and the change when it passed every check.
    let mut topics = Vec::with_capacity(req.topics.len());
    let mut changes: Vec<(usize, usize, (Uuid, i32, i64))> = Vec::new();
    for (ti, t) in req.topics.into_iter().enumerate() {
        let name = t.topic_name.to_string();
        let allowed = check(ctx, Operation::Read, Resource::Topic(&name));
        let entry = match allowed {
            Ok(()) => agent.topics.get(agent.meta.as_ref(), &name).await.ok().flatten(),
            Err(_) => None,
        };
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for (pi, p) in t.partitions.iter().enumerate() {
            let answer =
                alter_resp::AlterShareGroupOffsetsResponsePartition::default().with_partition_index(p.partition_index);
            let refused = match (&allowed, &entry) {
                (Err(code), _) => Some((*code, None)),
                (Ok(()), Some(e)) if (0..e.topic.partitions).contains(&p.partition_index) => None,
                (Ok(()), _) => Some((ResponseError::UnknownTopicOrPartition.code(), None)),
            };
            let refused = refused.or_else(|| {
                (p.start_offset < 0).then(|| {
                    let m = format!("start offset {} of {name}-{} is negative", p.start_offset, p.partition_index);
                    (ResponseError::InvalidRequest.code(), Some(m))
                })
            });
            match (refused, &entry) {
                (Some((code, message)), _) => {
                    partitions.push(answer.with_error_code(code).with_error_message(message.map(str_bytes)))
                }
                (None, Some(e)) => {
                    changes.push((ti, pi, (e.topic.id, p.partition_index, p.start_offset)));
                    partitions.push(answer);
                }
                (None, None) => partitions.push(answer.with_error_code(ResponseError::UnknownTopicOrPartition.code())),
            }
        }
        topics.push(
            alter_resp::AlterShareGroupOffsetsResponseTopic::default()
                .with_topic_name(t.topic_name)
                .with_topic_id(entry.map(|e| e.topic.id).unwrap_or_default())
                .with_partitions(partitions),
        );
    }
    if let Err(e) = agent.share.groups.admit_offset_change(&id, true) {
        return top(e.code(), e.to_string());
    }
    let offsets: Vec<(Uuid, i32, i64)> = changes.iter().map(|c| c.2).collect();
    if !offsets.is_empty() {
        let written = agent.meta.alter_share_start_offsets(&id, &offsets).await;
        let changed: Vec<(Uuid, i32)> = offsets.iter().map(|&(t, p, _)| (t, p)).collect();
        agent.share.partitions.forget(&keys(&id, &changed)).await;
        if let Err(e) = written {
            tracing::warn!(group = %id, error = %e, "alter share group offsets failed");
            let message = format!("share state of {id} was not altered: {e}");
            for (ti, pi, _) in &changes {
                let p: &mut alter_resp::AlterShareGroupOffsetsResponsePartition = &mut topics[*ti].partitions[*pi];
                p.error_code = e.code();
                p.error_message = Some(str_bytes(message.clone()));
            }
        } else {
            tracing::info!(group = %id, partitions = offsets.len(), "altered share group offsets");
        }
    }
    AlterShareGroupOffsetsResponse::default().with_responses(topics)
}

pub async fn delete(
    agent: &Agent,
    ctx: &RequestContext,
    req: DeleteShareGroupOffsetsRequest,
    _v: i16,
) -> DeleteShareGroupOffsetsResponse {
    let id = req.group_id.to_string();
    let top = |code: i16, message: String| {
        DeleteShareGroupOffsetsResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
    };
    if let Err((code, message)) = changeable(agent, ctx, Operation::Delete, &id).await {
        return top(code, message);
    }
    let known = match agent.share.groups.admit_offset_change(&id, false) {
        Ok(known) => known,
        Err(e) => return top(e.code(), e.to_string()),
    };
    let stored = match agent.meta.share_start_offsets(&id).await {
        Ok(s) => s,
        Err(e) => return top(e.code(), format!("share state of {id} unavailable: {e}")),
    };
    if !known && stored.is_empty() {
        let (code, _) = not_share_group(&id);
        return top(code, format!("share group {id} does not exist"));
    }
    let (mut answers, mut doomed) = (Vec::with_capacity(req.topics.len()), Vec::new());
    for t in req.topics {
        let name = t.topic_name.to_string();
        let answer = delete_resp::DeleteShareGroupOffsetsResponseTopic::default().with_topic_name(t.topic_name);
        if let Err(code) = check(ctx, Operation::Read, Resource::Topic(&name)) {
            answers.push((answer.with_error_code(code), Vec::new()));
            continue;
        }
        let Some(entry) = agent.topics.get(agent.meta.as_ref(), &name).await.ok().flatten() else {
            answers.push((answer.with_error_code(ResponseError::UnknownTopicOrPartition.code()), Vec::new()));
            continue;
        };
        let answer = answer.with_topic_id(entry.topic.id);
        let partitions: Vec<(Uuid, i32)> =
            stored.iter().filter(|s| s.topic_id == entry.topic.id).map(|s| (s.topic_id, s.partition)).collect();
        if partitions.is_empty() {
            let message = format!("share group {id} has no offsets of {name} to delete");
            answers.push((
                answer
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                    .with_error_message(Some(str_bytes(message))),
                Vec::new(),
            ));
            continue;
        }
        doomed.extend(partitions.iter().copied());
        answers.push((answer, partitions));
    }
    let mut failed = None;
    if !doomed.is_empty() {
        let removed = agent.meta.delete_share_states(&id, Some(&doomed)).await;
        agent.share.partitions.forget(&keys(&id, &doomed)).await;
        match removed {
            Ok(n) => tracing::info!(group = %id, partitions = n, "deleted share group offsets"),
            Err(e) => {
                tracing::warn!(group = %id, error = %e, "delete share group offsets failed");
                failed = Some((e.code(), format!("share state of {id} was not deleted: {e}")));
            }
        }
    }
    let responses = answers
        .into_iter()
        .map(|(answer, partitions)| match &failed {
            Some((code, message)) if !partitions.is_empty() => {
                answer.with_error_code(*code).with_error_message(Some(str_bytes(message.clone())))
            }
            _ => answer,
        })
        .collect();
    DeleteShareGroupOffsetsResponse::default().with_responses(responses)
}
