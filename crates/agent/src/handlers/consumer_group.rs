//! ConsumerGroupHeartbeat (KIP-848): server-side assignment for `group.protocol=consumer` clients, with the
//! session timeout and heartbeat interval of the group's configs (`consumer.session.timeout.ms`,
//! `consumer.heartbeat.interval.ms`; the agent's defaults where the group sets none). As in
//! Kafka 4 (KAFKA-18813), a member needs READ on its group and DESCRIBE on the topics it names, and its regex
//! (compiled once by the coordinator) subscribes it only to matching topics it may DESCRIBE; a described
//! group needs DESCRIBE on it and on every topic its members subscribe to or are assigned.

use super::{authorized_operations, str_bytes};
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, authorize, check, visible};
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, TopicName,
};
use std::collections::BTreeMap;
use std::time::Duration;
use weft_groups::consumer::TopicInfo;
use weft_groups::{GroupError, HeartbeatParams};

pub async fn heartbeat(
    agent: &Agent,
    ctx: &RequestContext,
    req: ConsumerGroupHeartbeatRequest,
    _version: i16,
) -> ConsumerGroupHeartbeatResponse {
    let fail = |code: i16, message: String| {
        ConsumerGroupHeartbeatResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
    };
    if let Err(denied) = authorize(ctx, Operation::Read, Resource::Group(&req.group_id)) {
        return fail(denied.code(), denied.to_string());
    }
    for name in req.subscribed_topic_names.iter().flatten() {
        if let Err(denied) = authorize(ctx, Operation::Describe, Resource::Topic(name)) {
            return fail(denied.code(), denied.to_string());
        }
    }
    if agent.share.groups.contains(&req.group_id) {
        // As Kafka: the protocols do not mix in one group.
        return fail(
            GroupError::GroupIdNotFound.code(),
            format!("group {} is not a consumer group", req.group_id.as_str()),
        );
    }
    let topics = match agent.meta.list_topics().await {
        Ok(all) => {
            all.into_iter().map(|t| TopicInfo { name: t.name, id: t.id, partitions: t.partitions }).collect::<Vec<_>>()
        }
        Err(e) => {
            tracing::warn!(error = %e, "consumer group heartbeat: listing topics failed");
            return fail(GroupError::CoordinatorNotAvailable.code(), "metastore unavailable".into());
        }
    };
    // The group's consumer.session.timeout.ms and consumer.heartbeat.interval.ms (its group configs).
    let settings = match agent.group_configs.settings(&req.group_id).await {
        Ok(s) => s,
        Err(e) => {
            let group = req.group_id.as_str();
            tracing::warn!(group, error = %e, "consumer group heartbeat: group configs unavailable");
            return fail(GroupError::CoordinatorNotAvailable.code(), "metastore unavailable".into());
        }
    };
    let params = HeartbeatParams {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
        client_id: ctx.client_id.clone(),
        client_host: format!("/{}", ctx.peer.ip()),
        subscribed: req.subscribed_topic_names.as_ref().map(|v| v.iter().map(|t| t.to_string()).collect()),
        regex: req.subscribed_topic_regex.as_ref().map(|s| s.to_string()),
        assignor: req.server_assignor.as_ref().map(|s| s.to_string()),
        owned: req
            .topic_partitions
            .as_ref()
            .map(|tps| tps.iter().flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p))).collect()),
        session_timeout: Some(Duration::from_millis(settings.consumer_session_timeout_ms.max(1) as u64)),
    };
    let beat = match agent.groups.load(&params.group_id).await {
        Ok(()) => {
            // A regex subscribes the member only to topics its principal may DESCRIBE (Kafka 4); not audited.
            let may_describe = |t: &str| visible(ctx, Operation::Describe, Resource::Topic(t));
            agent.groups.consumer_heartbeat(params, agent.ids.uuid().to_string(), topics, &may_describe).await
        }
        Err(e) => Err(e),
    };
    match beat {
        Ok(beat) => {
            let assignment = beat.assignment.map(|set| {
                let mut by_topic: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
                for (t, p) in set {
                    by_topic.entry(t).or_default().push(p);
                }
                Assignment::default().with_topic_partitions(
                    by_topic
                        .into_iter()
                        .map(|(t, ps)| TopicPartitions::default().with_topic_id(t).with_partitions(ps))
                        .collect(),
                )
            });
            ConsumerGroupHeartbeatResponse::default()
                .with_member_id(Some(str_bytes(beat.member_id)))
                .with_member_epoch(beat.epoch)
                .with_heartbeat_interval_ms(settings.consumer_heartbeat_interval_ms)
                .with_assignment(assignment)
        }
        Err(e) => {
            tracing::debug!(group = %req.group_id.as_str(), member = %req.member_id.as_str(), error = ?e, "consumer group heartbeat refused");
            // The message is the refusal's name (it matches Kafka's error name; see the error module's test).
            fail(e.code(), format!("{e:?}"))
        }
    }
}

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: ConsumerGroupDescribeRequest,
    _version: i16,
) -> ConsumerGroupDescribeResponse {
    use kafka_protocol::messages::consumer_group_describe_response as d;
    // Groups stored but not held here are loaded first; a group that cannot be loaded answers the failure.
    let mut unloadable = BTreeMap::new();
    for id in &req.group_ids {
        if let Err(e) = agent.groups.load(id).await {
            unloadable.insert(id.to_string(), e);
        }
    }
    let asked = req.include_authorized_operations;
    let groups = req
        .group_ids
        .into_iter()
        .map(|id| {
            if let Err(code) = check(ctx, Operation::Describe, Resource::Group(&id)) {
                return d::DescribedGroup::default().with_group_id(id).with_error_code(code);
            }
            if let Some(e) = unloadable.get(id.as_str()) {
                return d::DescribedGroup::default().with_group_id(id).with_error_code(e.code());
            }
            let Some(g) = agent.groups.snapshot_consumer_group(&id) else {
                return d::DescribedGroup::default()
                    .with_group_id(id.clone())
                    .with_error_code(GroupError::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(format!("group {} is not a consumer group", id.as_str()))));
            };
            let shown = g.members.iter().flat_map(|m| {
                let assigned = m.assigned.iter().chain(&m.target).filter_map(|(t, _)| g.topics.get(t));
                m.subscribed.iter().chain(assigned).map(String::as_str)
            });
            if let Some(code) = hidden_topic(ctx, shown) {
                return d::DescribedGroup::default().with_group_id(id).with_error_code(code);
            }
            let assignment = |set: &std::collections::BTreeSet<(uuid::Uuid, i32)>| {
                let mut by_topic: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
                for (t, p) in set {
                    by_topic.entry(*t).or_default().push(*p);
                }
                d::Assignment::default().with_topic_partitions(
                    by_topic
                        .into_iter()
                        .map(|(t, ps)| {
                            let name = g.topics.get(&t).cloned().unwrap_or_default();
                            d::TopicPartitions::default()
                                .with_topic_id(t)
                                .with_topic_name(TopicName(str_bytes(name)))
                                .with_partitions(ps)
                        })
                        .collect(),
                )
            };
            let members = g
                .members
                .iter()
                .map(|m| {
                    d::Member::default()
                        .with_member_id(str_bytes(m.id.clone()))
                        .with_instance_id(m.instance_id.clone().map(str_bytes))
                        .with_member_epoch(m.epoch)
                        .with_client_id(str_bytes(m.client_id.clone()))
                        .with_client_host(str_bytes(m.client_host.clone()))
                        .with_subscribed_topic_names(
                            m.subscribed.iter().map(|t| TopicName(str_bytes(t.clone()))).collect(),
                        )
                        .with_subscribed_topic_regex(m.regex.clone().map(str_bytes))
                        .with_assignment(assignment(&m.assigned))
                        .with_target_assignment(assignment(&m.target))
                })
                .collect();
            let ops = authorized_operations::if_asked(ctx, asked, Resource::Group(&id));
            d::DescribedGroup::default()
                .with_group_id(id)
                .with_group_state(str_bytes(g.state))
                .with_group_epoch(g.epoch)
                .with_assignment_epoch(g.epoch)
                .with_assignor_name(str_bytes(g.assignor))
                .with_members(members)
                .with_authorized_operations(ops)
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

/// TOPIC_AUTHORIZATION_FAILED when a group shows a topic (subscribed, assigned or targeted) that the client
/// may not DESCRIBE: Kafka then describes nothing of the group.
fn hidden_topic<'a>(ctx: &RequestContext, shown: impl Iterator<Item = &'a str>) -> Option<i16> {
    let topics: std::collections::BTreeSet<&str> = shown.collect();
    topics.into_iter().find_map(|t| check(ctx, Operation::Describe, Resource::Topic(t)).err())
}
