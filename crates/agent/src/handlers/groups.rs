//! Consumer group APIs of the classic protocol: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, ListGroups, DescribeGroups, DeleteGroups.

use super::authorized_operations::{self, OMITTED, OMITTED as AUTHORIZED_OPERATIONS_OMITTED};
use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check, visible};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::*;
use std::collections::BTreeMap;
use weft_groups::{GroupError, GroupSummary, JoinParams, JoinResult};

pub const KEY_TYPE_GROUP: i8 = 0;
pub const KEY_TYPE_TRANSACTION: i8 = 1;

pub async fn find_coordinator(
    agent: &Agent,
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let answer = |key: &str| -> (i16, Option<String>) {
        if req.key_type != KEY_TYPE_GROUP && req.key_type != KEY_TYPE_TRANSACTION {
            return (
                ResponseError::InvalidRequest.code(),
                Some(format!("unknown coordinator key type {}", req.key_type)),
            );
        }
        let resource =
            if req.key_type == KEY_TYPE_GROUP { Resource::Group(key) } else { Resource::TransactionalId(key) };
        if let Err(code) = check(ctx, Operation::Describe, resource) {
            return (code, None);
        }
        if key.is_empty() {
            let what = if req.key_type == KEY_TYPE_GROUP { "group id" } else { "transactional id" };
            return (ResponseError::InvalidRequest.code(), Some(format!("empty {what}")));
        }
        (0, None)
    };
    // One coordinator per key, cluster-wide: the owner of the key's shard by rendezvous over live agents.
    let coordinator = |key: &str| -> Result<weft_cluster::Member, (i16, Option<String>)> {
        match answer(key) {
            (0, _) => agent
                .cluster
                .coordinator(key, &ctx.listener)
                .ok_or((ResponseError::CoordinatorNotAvailable.code(), Some("no live agent".to_string()))),
            refused => Err(refused),
        }
    };
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let c = Coordinator::default().with_key(k.clone());
                match coordinator(k) {
                    Ok(m) => c.with_node_id(BrokerId(m.node_id)).with_host(str_bytes(m.host)).with_port(m.port),
                    Err((code, message)) => c
                        .with_error_code(code)
                        .with_error_message(message.map(str_bytes))
                        .with_node_id(BrokerId(-1))
                        .with_port(-1),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    match coordinator(&req.key) {
        Ok(m) => FindCoordinatorResponse::default()
            .with_node_id(BrokerId(m.node_id))
            .with_host(str_bytes(m.host))
            .with_port(m.port),
        Err((code, message)) => {
            let r = FindCoordinatorResponse::default().with_error_code(code);
            let r = if version >= 1 { r.with_error_message(message.map(str_bytes)) } else { r };
            r.with_node_id(BrokerId(-1)).with_port(-1)
        }
    }
}

pub async fn join(agent: &Agent, ctx: &RequestContext, req: JoinGroupRequest, version: i16) -> JoinGroupResponse {
    if let Err(code) = check(ctx, Operation::Read, Resource::Group(&req.group_id)) {
        // As Kafka's JoinGroupRequest.getErrorResponse: no member id, no protocol (null from v7, "" before).
        let r = JoinGroupResponse::default().with_error_code(code).with_generation_id(-1);
        return r.with_protocol_name(if version >= 7 { None } else { Some(str_bytes("")) });
    }
    if agent.share.groups.contains(&req.group_id) {
        // As Kafka's classicGroupJoin on a group of another type: no member id, no generation.
        let r = JoinGroupResponse::default()
            .with_error_code(GroupError::InconsistentGroupProtocol.code())
            .with_generation_id(-1);
        return r.with_protocol_name(if version >= 7 { None } else { Some(str_bytes("")) });
    }
    let client_id = ctx.client_id.clone();
    let new_id = match &req.group_instance_id {
        Some(i) => format!("{i}-{}", agent.ids.uuid()),
        None => format!("{}-{}", if client_id.is_empty() { "member" } else { &client_id }, agent.ids.uuid()),
    };
    let params = JoinParams {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id,
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: it equals the session timeout.
        rebalance_timeout_ms: if version >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms },
        protocol_type: req.protocol_type.to_string(),
        protocols: req.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect(),
        require_known_member_id: version >= 4,
    };
    let member_id = params.member_id.clone();
    let result = match agent.groups.load(&params.group_id).await {
        Ok(()) => {
            let if_dropped = JoinResult::error(GroupError::UnknownMemberId, &member_id);
            agent.groups.join(params, new_id).resolve(if_dropped).await
        }
        Err(e) => JoinResult::error(e, &member_id),
    };
    if let Some(e) = result.error {
        tracing::debug!(group = %req.group_id.as_str(), member = %result.member_id, error = %e, "join group answered with an error");
    }
    let members = result
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(str_bytes(id))
                .with_group_instance_id(if version >= 5 { instance.map(str_bytes) } else { None })
                .with_metadata(metadata)
        })
        .collect();
    let r = JoinGroupResponse::default()
        .with_error_code(result.error.map_or(0, |e| e.code()))
        .with_generation_id(result.generation)
        .with_leader(str_bytes(result.leader))
        .with_member_id(str_bytes(result.member_id))
        .with_members(members);
    if version >= 7 {
        r.with_protocol_type(result.protocol_type.map(str_bytes))
            .with_protocol_name(result.protocol_name.map(str_bytes))
    } else {
        r.with_protocol_name(Some(str_bytes(result.protocol_name.unwrap_or_default())))
    }
}

pub async fn sync(agent: &Agent, ctx: &RequestContext, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
    if let Err(code) = check(ctx, Operation::Read, Resource::Group(&req.group_id)) {
        return SyncGroupResponse::default().with_error_code(code);
    }
    if let Err(e) = agent.groups.load(&req.group_id).await {
        return SyncGroupResponse::default().with_error_code(e.code());
    }
    let assignments = req.assignments.iter().map(|a| (a.member_id.to_string(), a.assignment.clone())).collect();
    let synced = agent
        .groups
        .sync(
            &req.group_id,
            req.generation_id,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.protocol_type.as_deref(),
            req.protocol_name.as_deref(),
            assignments,
        )
        .resolve(Err(GroupError::RebalanceInProgress))
        .await;
    let (code, assignment) = match synced {
        Ok(assignment) => (0, assignment),
        Err(e) => (e.code(), Default::default()),
    };
    let r = SyncGroupResponse::default().with_error_code(code).with_assignment(assignment);
    if version >= 5 && code == 0 {
        let summary = agent.groups.describe(&req.group_id);
        r.with_protocol_type(summary.as_ref().map(|s| str_bytes(s.protocol_type.clone())))
            .with_protocol_name(summary.map(|s| str_bytes(s.protocol_name)))
    } else {
        r
    }
}

pub async fn heartbeat(agent: &Agent, ctx: &RequestContext, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
    if let Err(code) = check(ctx, Operation::Read, Resource::Group(&req.group_id)) {
        return HeartbeatResponse::default().with_error_code(code);
    }
    if let Err(e) = agent.groups.load(&req.group_id).await {
        return HeartbeatResponse::default().with_error_code(e.code());
    }
    let code = agent
        .groups
        .heartbeat(&req.group_id, req.generation_id, &req.member_id, req.group_instance_id.as_deref())
        .code();
    HeartbeatResponse::default().with_error_code(code)
}

pub async fn leave(agent: &Agent, ctx: &RequestContext, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    if let Err(code) = check(ctx, Operation::Read, Resource::Group(&req.group_id)) {
        return LeaveGroupResponse::default().with_error_code(code);
    }
    if let Err(e) = agent.groups.load(&req.group_id).await {
        return LeaveGroupResponse::default().with_error_code(e.code());
    }
    if version < 3 {
        let codes = agent.groups.leave(&req.group_id, &[(req.member_id.to_string(), None)]);
        return LeaveGroupResponse::default().with_error_code(codes.first().map_or(0, KafkaCode::code));
    }
    let members: Vec<(String, Option<String>)> = req
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string())))
        .collect();
    let codes = agent.groups.leave(&req.group_id, &members);
    let responses = members
        .into_iter()
        .zip(codes)
        .map(|((id, instance), left)| {
            MemberResponse::default()
                .with_member_id(str_bytes(id))
                .with_group_instance_id(instance.map(str_bytes))
                .with_error_code(left.code())
        })
        .collect();
    LeaveGroupResponse::default().with_members(responses)
}

/// ListGroups: every group with DESCRIBE on the cluster, else only the groups the client may DESCRIBE.
pub async fn list(agent: &Agent, ctx: &RequestContext, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let all_visible = visible(ctx, Operation::Describe, Resource::Cluster);
    let mut all: BTreeMap<String, (String, &'static str)> = BTreeMap::new();
    match agent.meta.groups_with_offsets().await {
        Ok(groups) => all.extend(groups.into_iter().map(|g| (g, ("consumer".to_string(), "Empty")))),
        Err(e) => {
            tracing::warn!(error = %e, "list groups: metastore failed");
            return ListGroupsResponse::default().with_error_code(GroupError::CoordinatorNotAvailable.code());
        }
    }
    let mut kinds: BTreeMap<String, &'static str> = BTreeMap::new();
    // Groups stored in the metastore but not loaded here, as last stored.
    match agent.meta.list_group_states().await {
        Ok(stored) => {
            for g in stored {
                let state = stored_state_name(&g.state);
                if g.kind == "consumer" {
                    kinds.insert(g.group.clone(), "Consumer");
                }
                all.insert(g.group, (g.protocol_type, state));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "list groups: metastore failed");
            return ListGroupsResponse::default().with_error_code(GroupError::CoordinatorNotAvailable.code());
        }
    }
    for (id, protocol_type, state) in agent.groups.list() {
        all.insert(id, (protocol_type, state));
    }
    for (id, state) in agent.groups.list_consumer_groups() {
        kinds.insert(id.clone(), "Consumer");
        all.insert(id, ("consumer".to_string(), state));
    }
    for (id, state) in agent.share.groups.list() {
        kinds.insert(id.clone(), "Share");
        all.insert(id, ("share".to_string(), state));
    }
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_lowercase()).collect();
    let groups = all
        .into_iter()
        .filter(|(id, _)| all_visible || visible(ctx, Operation::Describe, Resource::Group(id)))
        .filter(|(_, (_, state))| states.is_empty() || states.contains(&state.to_lowercase()))
        .filter(|(id, _)| {
            let kind = kinds.get(id).copied().unwrap_or("Classic");
            types.is_empty() || types.contains(&kind.to_lowercase())
        })
        .map(|(id, (protocol_type, state))| {
            let kind = kinds.get(&id).copied().unwrap_or("Classic");
            let g = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(id)))
                .with_protocol_type(str_bytes(protocol_type));
            let g = if version >= 4 { g.with_group_state(str_bytes(state)) } else { g };
            if version >= 5 { g.with_group_type(str_bytes(kind)) } else { g }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut groups = Vec::with_capacity(req.groups.len());
    let asked = version >= 3 && req.include_authorized_operations;
    for id in req.groups {
        if let Err(code) = check(ctx, Operation::Describe, Resource::Group(&id)) {
            let g = DescribedGroup::default().with_error_code(code).with_group_id(id);
            groups.push(if version >= 3 { g.with_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED) } else { g });
            continue;
        }
        if let Err(e) = agent.groups.load(&id).await {
            let g = DescribedGroup::default().with_error_code(e.code()).with_group_id(id);
            groups.push(if version >= 3 { g.with_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED) } else { g });
            continue;
        }
        let summary = match agent.groups.describe(&id).or_else(|| agent.groups.describe_consumer_group(&id)) {
            Some(s) => s,
            None => {
                let has_offsets = agent.meta.committed_offsets(&id, None).await.map(|o| !o.is_empty()).unwrap_or(false);
                GroupSummary {
                    state: if has_offsets { "Empty" } else { "Dead" },
                    protocol_type: if has_offsets { "consumer".into() } else { String::new() },
                    protocol_name: String::new(),
                    members: Vec::new(),
                }
            }
        };
        let members = summary
            .members
            .into_iter()
            .map(|(member_id, instance, client_id, host, metadata, assignment)| {
                DescribedGroupMember::default()
                    .with_member_id(str_bytes(member_id))
                    .with_group_instance_id(if version >= 4 { instance.map(str_bytes) } else { None })
                    .with_client_id(str_bytes(client_id))
                    .with_client_host(str_bytes(host))
                    .with_member_metadata(metadata)
                    .with_member_assignment(assignment)
            })
            .collect();
        // Kafka 4 answers an unknown (or deleted) group with an error from v6 on, and a bare Dead group before.
        let (code, message) = if summary.state == "Dead" && version >= 6 {
            let what = if agent.share.groups.contains(&id) { "is not a classic group" } else { "not found" };
            (GroupError::GroupIdNotFound.code(), Some(str_bytes(format!("group {} {what}", id.as_str()))))
        } else {
            (0, None)
        };
        let g = DescribedGroup::default()
            .with_error_code(code)
            .with_error_message(message)
            .with_group_id(id)
            .with_group_state(str_bytes(summary.state))
            .with_protocol_type(str_bytes(summary.protocol_type))
            .with_protocol_data(str_bytes(summary.protocol_name))
            .with_members(members);
        // KIP-430: the group's operations when asked for and found, as Kafka.
        let ops =
            if code == 0 { authorized_operations::if_asked(ctx, asked, Resource::Group(&g.group_id)) } else { OMITTED };
        groups.push(if version >= 3 { g.with_authorized_operations(ops) } else { g });
    }
    DescribeGroupsResponse::default().with_groups(groups)
}

/// DeleteGroups (Kafka's `GroupCoordinator.deleteGroups`): a group without members is removed with its
/// stored state and committed offsets; one with members is refused with NON_EMPTY_GROUP; one neither coordinated here nor
/// holding offsets is GROUP_ID_NOT_FOUND.
pub async fn delete(
    agent: &Agent,
    ctx: &RequestContext,
    req: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for id in req.groups_names {
        if let Err(code) = check(ctx, Operation::Delete, Resource::Group(&id)) {
            results.push(DeletableGroupResult::default().with_group_id(id).with_error_code(code));
            continue;
        }
        let code = delete_group(agent, &id).await.code();
        results.push(DeletableGroupResult::default().with_group_id(id).with_error_code(code));
    }
    DeleteGroupsResponse::default().with_results(results)
}

async fn delete_group(agent: &Agent, id: &str) -> Result<(), GroupError> {
    let share = delete_share_group(agent, id).await?;
    let known = agent.groups.delete_group(id).await? || share;
    match agent.meta.delete_offsets(id, None).await {
        Ok(0) if !known => Err(GroupError::GroupIdNotFound),
        Ok(offsets) => {
            // A deleted group's dynamic configs go with it: a new group of that name starts from the defaults.
            agent.group_configs.forget(id);
            if let Err(e) = agent.meta.delete_group_configs(id).await {
                tracing::warn!(group = %id, error = %e, "delete group: its configs were not deleted");
                return Err(GroupError::CoordinatorNotAvailable);
            }
            tracing::info!(group = %id, offsets, "deleted group");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(group = %id, error = %e, "delete group failed");
            Err(GroupError::CoordinatorNotAvailable)
        }
    }
}

/// Deletes an empty share group and its share-partition state; whether there was one. A holder of the
/// deleted state is fenced on its next write or revalidation (a tombstone with a higher state epoch replaces the row) and
/// starts over.
async fn delete_share_group(agent: &Agent, id: &str) -> Result<bool, GroupError> {
    if share_members_may_be_unknown(agent, id).await? {
        return Err(GroupError::NonEmptyGroup);
    }
    let known = match agent.share.groups.delete(id) {
        Ok(known) => known,
        Err(_) => return Err(GroupError::NonEmptyGroup),
    };
    // The copies loaded here are dropped at once; other agents notice the missing rows when they revalidate.
    let loaded = agent.meta.share_start_offsets(id).await.unwrap_or_default();
    let deleted = agent.meta.delete_share_states(id, None).await;
    let keys: Vec<weft_meta::SharePartitionKey> = loaded
        .iter()
        .map(|s| weft_meta::SharePartitionKey { group: id.to_string(), topic_id: s.topic_id, partition: s.partition })
        .collect();
    agent.share.partitions.forget(&keys).await;
    match deleted {
        Ok(n) => Ok(known || n > 0),
        Err(e) => {
            tracing::warn!(group = %id, error = %e, "delete group: its share state was not deleted");
            Err(GroupError::CoordinatorNotAvailable)
        }
    }
}

/// Whether `id` is a share group whose members this coordinator may not know yet: membership lives in memory
/// only, so for a session timeout after this agent took the group's shard (a restart, a shard move) live
/// members may still be rejoining, and an empty group here does not mean an empty group.
async fn share_members_may_be_unknown(agent: &Agent, id: &str) -> Result<bool, GroupError> {
    let settings = agent.group_configs.settings(id).await.map_err(|_| GroupError::CoordinatorNotAvailable)?;
    let timeout = i64::from(settings.share_session_timeout_ms.max(1));
    let since = agent.cluster.shard_held_since(id).unwrap_or(i64::MIN);
    if since.saturating_add(timeout) <= agent.clock.now_ms() {
        return Ok(false);
    }
    if agent.share.groups.contains(id) {
        return Ok(true);
    }
    match agent.meta.share_start_offsets(id).await {
        Ok(stored) => Ok(!stored.is_empty()),
        Err(_) => Err(GroupError::CoordinatorNotAvailable),
    }
}

/// The static name of a state as stored (ListGroups answers `&'static str` states).
fn stored_state_name(state: &str) -> &'static str {
    match state {
        "Stable" => "Stable",
        "Reconciling" => "Reconciling",
        "PreparingRebalance" => "PreparingRebalance",
        "CompletingRebalance" => "CompletingRebalance",
        "Dead" => "Dead",
        _ => "Empty",
    }
}
