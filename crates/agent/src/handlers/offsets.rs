//! OffsetCommit, OffsetFetch and OffsetDelete: committed positions of consumer groups, stored in the
//! metastore. Authorized as Kafka does: the group first (READ to commit, DESCRIBE to fetch, DELETE to
//! delete), then each topic (READ, or DESCRIBE to fetch).

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use std::collections::BTreeMap;
use weft_groups::GroupError;
use weft_meta::CommittedOffset;

/// Kafka's offset.metadata.max.bytes.
pub const MAX_OFFSET_METADATA_BYTES: usize = 4096;

/// Every partition of `topics` answered `code` (a refused group).
/// Every partition of an OffsetCommit answered with `code`.
pub(crate) fn commit_refused(topics: &[OffsetCommitRequestTopic], code: i16) -> OffsetCommitResponse {
    let topics = topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

pub async fn commit(
    agent: &Agent,
    ctx: &RequestContext,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group = req.group_id.to_string();
    if let Err(code) = check(ctx, Operation::Read, Resource::Group(&group)) {
        return commit_refused(&req.topics, code);
    }
    let check = if group.is_empty() {
        Err(GroupError::InvalidGroupId)
    } else if agent.share.groups.contains(&group) {
        // Kafka's ShareGroup.validateOffsetCommit: a share group keeps no committed offsets.
        Err(GroupError::GroupIdNotFound)
    } else {
        agent.groups.load(&group).await.and_then(|()| {
            agent.groups.check_commit(
                &group,
                req.generation_id_or_member_epoch,
                &req.member_id,
                req.group_instance_id.as_deref(),
            )
        })
    };
    let now = agent.clock.now_ms();
    let mut to_store = Vec::new();
    // (topic, [(partition, code)]) in request order
    let mut answers: Vec<(TopicName, Vec<(i32, i16)>)> = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        if let Err(code) = check_topic(ctx, Operation::Read, &t.name) {
            answers.push((t.name.clone(), t.partitions.iter().map(|p| (p.partition_index, code)).collect()));
            continue;
        }
        let topic =
            if check.is_ok() { agent.topics.get(agent.meta.as_ref(), &t.name).await.ok().flatten() } else { None };
        let mut parts = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let code = match (&check, &topic) {
                (Err(e), _) => e.code(),
                (Ok(()), None) => ResponseError::UnknownTopicOrPartition.code(),
                (Ok(()), Some(entry)) if p.partition_index < 0 || p.partition_index >= entry.topic.partitions => {
                    ResponseError::UnknownTopicOrPartition.code()
                }
                (Ok(()), Some(_))
                    if p.committed_metadata.as_ref().is_some_and(|m| m.len() > MAX_OFFSET_METADATA_BYTES) =>
                {
                    ResponseError::OffsetMetadataTooLarge.code()
                }
                (Ok(()), Some(_)) => {
                    to_store.push(CommittedOffset {
                        topic: t.name.to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 { p.committed_leader_epoch } else { -1 },
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                        commit_ms: now,
                    });
                    0
                }
            };
            parts.push((p.partition_index, code));
        }
        answers.push((t.name.clone(), parts));
    }
    if let Err(e) = check {
        tracing::debug!(%group, member = %req.member_id.as_str(), generation = req.generation_id_or_member_epoch, error = %e, "offset commit refused");
    }
    if !to_store.is_empty() {
        // Stored only under the group's coordinator lease: a coordinator deposed since the generation check
        // stores nothing, and the client finds the new one.
        let stored = match agent.cluster.shards.fence_for(&group) {
            None => Err(GroupError::NotCoordinator),
            Some(fence) => match agent.meta.commit_offsets(&group, &to_store, Some(&fence)).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(GroupError::NotCoordinator),
                Err(e) => {
                    tracing::warn!(%group, error = %e, "offset commit failed");
                    Err(GroupError::CoordinatorNotAvailable)
                }
            },
        };
        if let Err(refused) = stored {
            for (_, parts) in answers.iter_mut() {
                for (_, code) in parts.iter_mut() {
                    if *code == 0 {
                        *code = refused.code();
                    }
                }
            }
        }
    }
    let topics = answers
        .into_iter()
        .map(|(name, parts)| {
            let partitions = parts
                .into_iter()
                .map(|(i, code)| OffsetCommitResponsePartition::default().with_partition_index(i).with_error_code(code))
                .collect();
            OffsetCommitResponseTopic::default().with_name(name).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

pub async fn delete(
    agent: &Agent,
    ctx: &RequestContext,
    req: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
    let group = req.group_id.to_string();
    if let Err(code) = check(ctx, Operation::Delete, Resource::Group(&group)) {
        return OffsetDeleteResponse::default().with_error_code(code);
    }
    if let Err(e) = agent.groups.load(&group).await {
        return OffsetDeleteResponse::default().with_error_code(e.code());
    }
    let subscribed = agent.groups.subscribed_topics(&group);
    match agent.meta.committed_offsets(&group, None).await {
        Ok(existing) if existing.is_empty() && subscribed.is_none() => {
            return OffsetDeleteResponse::default().with_error_code(GroupError::GroupIdNotFound.code());
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%group, error = %e, "offset delete failed");
            return OffsetDeleteResponse::default().with_error_code(GroupError::CoordinatorNotAvailable.code());
        }
    }
    let mut doomed = Vec::new();
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        if let Err(code) = check_topic(ctx, Operation::Read, &t.name) {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            topics.push(OffsetDeleteResponseTopic::default().with_name(t.name).with_partitions(partitions));
            continue;
        }
        let busy = subscribed.as_ref().is_some_and(|s| s.contains(t.name.as_str()));
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let code = if busy { ResponseError::GroupSubscribedToTopic.code() } else { 0 };
                if !busy {
                    doomed.push((t.name.to_string(), p.partition_index));
                }
                OffsetDeleteResponsePartition::default().with_partition_index(p.partition_index).with_error_code(code)
            })
            .collect();
        topics.push(OffsetDeleteResponseTopic::default().with_name(t.name).with_partitions(partitions));
    }
    if !doomed.is_empty()
        && let Err(e) = agent.meta.delete_offsets(&group, Some(&doomed)).await
    {
        tracing::warn!(%group, error = %e, "offset delete failed");
        return OffsetDeleteResponse::default().with_error_code(GroupError::CoordinatorNotAvailable.code());
    }
    OffsetDeleteResponse::default().with_topics(topics)
}

/// One group's requested partitions: `None` means every committed partition.
type Wanted = Option<Vec<(TopicName, Vec<i32>)>>;

/// One partition's answer: (partition, offset, leader epoch, metadata, error code).
type Row = (i32, i64, i32, String, i16);

/// (topic, rows) answers for one group. With `require_stable` (KIP-447), a partition whose offset is
/// staged in an open transaction answers UNSTABLE_OFFSET_COMMIT so the consumer retries after it ends.
async fn fetch_group(
    agent: &Agent,
    ctx: &RequestContext,
    group: &str,
    wanted: Wanted,
    require_stable: bool,
) -> Result<Vec<(TopicName, Vec<Row>)>, i16> {
    check(ctx, Operation::Describe, Resource::Group(group))?;
    let all_topics = wanted.is_none();
    let failed = |e: weft_meta::MetaError| {
        tracing::warn!(%group, error = %e, "offset fetch failed");
        GroupError::CoordinatorNotAvailable.code()
    };
    let committed = agent.meta.committed_offsets(group, None).await.map_err(failed)?;
    let pending =
        if require_stable { agent.meta.pending_txn_offsets(group).await.map_err(failed)? } else { Vec::new() };
    let mut answers = fetch_rows(&committed, wanted);
    for (name, rows) in answers.iter_mut() {
        for row in rows.iter_mut() {
            if pending.iter().any(|(t, p)| t == name.as_str() && *p == row.0) {
                *row = (row.0, -1, -1, String::new(), ResponseError::UnstableOffsetCommit.code());
            }
        }
    }
    // Offsets of topics the client may not DESCRIBE are not shown: left out of "all", refused when named.
    answers.retain_mut(|(name, rows)| match check_topic(ctx, Operation::Describe, name) {
        Ok(()) => true,
        Err(_) if all_topics => false,
        Err(code) => {
            rows.iter_mut().for_each(|row| *row = (row.0, -1, -1, String::new(), code));
            true
        }
    });
    Ok(answers)
}

fn fetch_rows(committed: &[CommittedOffset], wanted: Wanted) -> Vec<(TopicName, Vec<Row>)> {
    let by_key: BTreeMap<(String, i32), &CommittedOffset> =
        committed.iter().map(|c| ((c.topic.clone(), c.partition), c)).collect();
    let answer = |c: Option<&&CommittedOffset>, p: i32| match c {
        Some(c) => (p, c.offset, c.leader_epoch, c.metadata.clone().unwrap_or_default(), 0),
        None => (p, -1, -1, String::new(), 0),
    };
    match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(name, parts)| {
                let rows = parts.into_iter().map(|p| answer(by_key.get(&(name.to_string(), p)), p)).collect();
                (name, rows)
            })
            .collect(),
        None => {
            let mut grouped: BTreeMap<String, Vec<Row>> = BTreeMap::new();
            for c in committed {
                grouped.entry(c.topic.clone()).or_default().push(answer(Some(&c), c.partition));
            }
            grouped.into_iter().map(|(t, rows)| (TopicName(str_bytes(t)), rows)).collect()
        }
    }
}

pub async fn fetch(agent: &Agent, ctx: &RequestContext, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    let epoch = |e: i32| if version >= 5 { e } else { -1 };
    if version >= 8 {
        let mut groups = Vec::with_capacity(req.groups.len());
        for g in req.groups {
            let wanted = g.topics.map(|ts| ts.into_iter().map(|t| (t.name, t.partition_indexes)).collect());
            let result = fetch_group(agent, ctx, &g.group_id, wanted, req.require_stable).await;
            let mut out = OffsetFetchResponseGroup::default().with_group_id(g.group_id);
            match result {
                Ok(topics) => {
                    out.topics = topics
                        .into_iter()
                        .map(|(name, rows)| {
                            let partitions = rows
                                .into_iter()
                                .map(|(p, o, e, m, code)| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_error_code(code)
                                        .with_committed_offset(o)
                                        .with_committed_leader_epoch(epoch(e))
                                        .with_metadata(Some(str_bytes(m)))
                                })
                                .collect();
                            OffsetFetchResponseTopics::default().with_name(name).with_partitions(partitions)
                        })
                        .collect();
                }
                Err(code) => out.error_code = code,
            }
            groups.push(out);
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }
    if version < 2
        && let Err(code) = check(ctx, Operation::Describe, Resource::Group(&req.group_id))
    {
        // Before v2 there is no group error code: a refused group is answered in every partition.
        return OffsetFetchResponse::default()
            .with_topics(fetch_refused(req.topics.as_deref().unwrap_or_default(), code));
    }
    let wanted = req.topics.map(|ts| ts.into_iter().map(|t| (t.name, t.partition_indexes)).collect());
    match fetch_group(agent, ctx, &req.group_id, wanted, version >= 7 && req.require_stable).await {
        Ok(topics) => {
            let topics = topics
                .into_iter()
                .map(|(name, rows)| {
                    let partitions = rows
                        .into_iter()
                        .map(|(p, o, e, m, code)| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                                .with_committed_offset(o)
                                .with_committed_leader_epoch(epoch(e))
                                .with_metadata(Some(str_bytes(m)))
                        })
                        .collect();
                    OffsetFetchResponseTopic::default().with_name(name).with_partitions(partitions)
                })
                .collect();
            OffsetFetchResponse::default().with_topics(topics)
        }
        Err(code) if version >= 2 => OffsetFetchResponse::default().with_error_code(code),
        Err(_) => OffsetFetchResponse::default(),
    }
}

/// [`check`] for a topic named in a request.
fn check_topic(ctx: &RequestContext, operation: Operation, name: &TopicName) -> Result<(), i16> {
    check(ctx, operation, Resource::Topic(name))
}

/// Every requested partition answered `code`, with no offset (OffsetFetch before v2).
fn fetch_refused(
    topics: &[kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic],
    code: i16,
) -> Vec<OffsetFetchResponseTopic> {
    topics
        .iter()
        .map(|t| {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&p| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(-1)
                        .with_committed_leader_epoch(-1)
                        .with_metadata(Some(str_bytes("")))
                        .with_error_code(code)
                })
                .collect();
            OffsetFetchResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect()
}
