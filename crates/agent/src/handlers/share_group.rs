//! ShareGroupHeartbeat v1 and ShareGroupDescribe v1 (KIP-932) over the share-group coordinator
//! (`weft_groups::share`). As in Kafka, a member needs READ on its group and DESCRIBE on the topics it
//! subscribes to; a described group needs DESCRIBE on it. The heartbeat interval and session timeout are
//! the group's `share.heartbeat.interval.ms` and `share.session.timeout.ms`.

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, authorize, check};
use kafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ShareGroupDescribeRequest, ShareGroupDescribeResponse, ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse,
};
use std::collections::BTreeMap;
use weft_groups::consumer::TopicInfo;
use weft_groups::share::{ShareHeartbeat, TopicPartition};

/// COORDINATOR_NOT_AVAILABLE: the client finds the coordinator again and retries.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

pub async fn heartbeat(
    agent: &Agent,
    ctx: &RequestContext,
    req: ShareGroupHeartbeatRequest,
    _v: i16,
) -> ShareGroupHeartbeatResponse {
    let fail = |code: i16, message: String| {
        ShareGroupHeartbeatResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
    };
    if let Err(denied) = authorize(ctx, Operation::Read, Resource::Group(&req.group_id)) {
        return fail(denied.code(), denied.to_string());
    }
    for name in req.subscribed_topic_names.iter().flatten() {
        if let Err(denied) = authorize(ctx, Operation::Describe, Resource::Topic(name)) {
            return fail(denied.code(), denied.to_string());
        }
    }
    let group = req.group_id.to_string();
    if let Some(code) = other_type(agent, &group, req.member_epoch).await {
        return fail(code, format!("group {group} is not a share group"));
    }
    let settings = match agent.group_configs.settings(&group).await {
        Ok(s) => s,
        Err(e) => return fail(COORDINATOR_NOT_AVAILABLE, format!("group configs of {group} unavailable: {e}")),
    };
    let topics = match topic_infos(agent).await {
        Ok(t) => t,
        Err(e) => return fail(COORDINATOR_NOT_AVAILABLE, format!("metastore unavailable: {e}")),
    };
    let hb = ShareHeartbeat {
        group_id: group.clone(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        rack: req.rack_id.as_ref().map(|s| s.to_string()),
        subscribed: req.subscribed_topic_names.as_ref().map(|v| v.iter().map(|t| t.to_string()).collect()),
        client_id: ctx.client_id.clone(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: i64::from(settings.share_session_timeout_ms.max(1)),
        now_ms: agent.clock.now_ms(),
    };
    let leaving = hb.member_epoch == -1;
    match agent.share.groups.heartbeat(hb, &topics) {
        Ok(beat) => {
            if leaving {
                crate::share::end_member(agent, &group, &beat.member_id).await;
            }
            if let Some(assigned) = &beat.assignment {
                // Before the member hears of its partitions, so their start offsets are fixed now. On failure
                // the partition's owner creates the state at its first fetch instead.
                if let Err(e) = crate::share::init::initialize(agent, &group, &settings, assigned).await {
                    tracing::warn!(group, error = %e, "initializing assigned share partitions failed");
                }
            }
            ShareGroupHeartbeatResponse::default()
                .with_member_id(Some(str_bytes(beat.member_id)))
                .with_member_epoch(beat.epoch)
                .with_heartbeat_interval_ms(settings.share_heartbeat_interval_ms)
                .with_assignment(beat.assignment.map(|set| {
                    Assignment::default().with_topic_partitions(
                        by_topic(&set)
                            .into_iter()
                            .map(|(t, ps)| TopicPartitions::default().with_topic_id(t).with_partitions(ps))
                            .collect(),
                    )
                }))
        }
        Err(e) => {
            tracing::debug!(group, member = %req.member_id.as_str(), error = %e, "share group heartbeat refused");
            fail(e.code(), e.to_string())
        }
    }
}

async fn topic_infos(agent: &Agent) -> weft_meta::Result<Vec<TopicInfo>> {
    let all = agent.meta.list_topics().await?;
    Ok(all.into_iter().map(|t| TopicInfo { name: t.name, id: t.id, partitions: t.partitions }).collect())
}

fn by_topic(set: &std::collections::BTreeSet<TopicPartition>) -> BTreeMap<uuid::Uuid, Vec<i32>> {
    let mut out: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
    for (t, p) in set {
        out.entry(*t).or_default().push(*p);
    }
    out
}

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: ShareGroupDescribeRequest,
    _v: i16,
) -> ShareGroupDescribeResponse {
    use kafka_protocol::messages::share_group_describe_response as d;
    let names: BTreeMap<uuid::Uuid, String> = match topic_infos(agent).await {
        Ok(t) => t.into_iter().map(|t| (t.id, t.name)).collect(),
        Err(_) => BTreeMap::new(),
    };
    let groups = req
        .group_ids
        .into_iter()
        .map(|id| {
            if let Err(code) = check(ctx, Operation::Describe, Resource::Group(&id)) {
                return d::DescribedGroup::default().with_group_id(id).with_error_code(code);
            }
            if let Some(code) = agent.cluster.refusal(&id) {
                return d::DescribedGroup::default().with_group_id(id).with_error_code(code);
            }
            let Some(g) = agent.share.groups.describe(&id) else {
                return d::DescribedGroup::default()
                    .with_group_id(id.clone())
                    .with_error_code(weft_groups::GroupError::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(format!("group {} is not a share group", id.as_str()))));
            };
            let members = g
                .members
                .into_iter()
                .map(|m| {
                    let parts = by_topic(&m.assigned)
                        .into_iter()
                        .map(|(t, ps)| {
                            d::TopicPartitions::default()
                                .with_topic_id(t)
                                .with_topic_name(str_bytes(names.get(&t).cloned().unwrap_or_default()).into())
                                .with_partitions(ps)
                        })
                        .collect();
                    d::Member::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_rack_id(m.rack.map(str_bytes))
                        .with_member_epoch(m.epoch)
                        .with_client_id(str_bytes(m.client_id))
                        .with_client_host(str_bytes(m.client_host))
                        .with_subscribed_topic_names(m.subscribed.into_iter().map(|s| str_bytes(s).into()).collect())
                        .with_assignment(d::Assignment::default().with_topic_partitions(parts))
                })
                .collect();
            d::DescribedGroup::default()
                .with_group_id(id)
                .with_group_state(str_bytes(g.state))
                .with_group_epoch(g.epoch)
                .with_assignment_epoch(g.epoch)
                .with_assignor_name(str_bytes("simple"))
                .with_members(members)
                .with_authorized_operations(i32::MIN)
        })
        .collect();
    ShareGroupDescribeResponse::default().with_groups(groups)
}

/// GROUP_ID_NOT_FOUND when `group` is a classic or KIP-848 group (Kafka has no conversion to or from share
/// groups), or COORDINATOR_NOT_AVAILABLE when that cannot be told. A share group's first member (epoch 0, group
/// not known here) also checks what is stored: a group held by no coordinator yet, or only committed
/// offsets (Kafka's "simple" classic group).
pub(super) async fn other_type(agent: &Agent, group: &str, epoch: i32) -> Option<i16> {
    let other = weft_groups::GroupError::GroupIdNotFound.code();
    if epoch == 0 && !agent.share.groups.contains(group) {
        if agent.groups.load(group).await.is_err() {
            return Some(COORDINATOR_NOT_AVAILABLE);
        }
        match agent.meta.committed_offsets(group, None).await {
            Ok(offsets) if !offsets.is_empty() => return Some(other),
            Ok(_) => {}
            Err(_) => return Some(COORDINATOR_NOT_AVAILABLE),
        }
    }
    let classic = agent.groups.list().iter().any(|(g, _, _)| g == group);
    (classic || agent.groups.snapshot_consumer_group(group).is_some()).then_some(other)
}
