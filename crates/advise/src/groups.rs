//! Consumer group observations over the Kafka protocol: the groups (ListGroups on every broker), their state
//! and members polled through the window (DescribeGroups, or ConsumerGroupDescribe for KIP-848 groups, whose
//! group epoch counts rebalances exactly), and their committed offsets (OffsetFetch) at both ends.

use crate::brokers::Brokers;
use anyhow::Result;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetFetchRequest,
};
use std::collections::{BTreeSet, HashMap};
use weft_admin::str_bytes;

/// Most groups observed; the rest (in name order) are left out so a cluster with thousands stays bounded.
pub const MAX_GROUPS: usize = 200;

/// A listed consumer group.
#[derive(Debug, Clone)]
pub struct Listed {
    pub group_id: String,
    pub protocol_type: String,
    pub group_type: Option<String>,
}

/// One poll of a group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Poll {
    pub state: String,
    pub members: BTreeSet<String>,
    pub static_members: usize,
    /// KIP-848 groups only: the group epoch, bumped on every membership or subscription change.
    pub epoch: Option<i32>,
}

impl Poll {
    pub fn rebalancing(&self) -> bool {
        matches!(self.state.as_str(), "PreparingRebalance" | "CompletingRebalance" | "Reconciling" | "Assigning")
    }

    /// Rebalances between `self` and the next poll: epoch bumps when known, else members joined or left.
    pub fn changes_to(&self, next: &Poll) -> u32 {
        match (self.epoch, next.epoch) {
            (Some(a), Some(b)) => u32::try_from(b.saturating_sub(a)).unwrap_or(0),
            _ => u32::from(self.members != next.members),
        }
    }
}

/// The consumer groups of the cluster (classic consumer groups, KIP-848 groups and offsets-only groups; not
/// share, streams or connect groups).
pub async fn list(brokers: &mut Brokers) -> Result<Vec<Listed>> {
    let mut out: HashMap<String, Listed> = HashMap::new();
    for node in brokers.broker_ids() {
        let (resp, _) = brokers.node(node).await?.call(5, &ListGroupsRequest::default()).await?;
        for g in resp.groups {
            // Brokers differ in case ("classic", "Classic").
            let group_type = Some(g.group_type.as_str().to_lowercase()).filter(|t| !t.is_empty());
            let consumer = matches!(g.protocol_type.as_str(), "consumer" | "")
                && group_type.as_deref().is_none_or(|t| t == "consumer" || t == "classic");
            if consumer {
                let id = g.group_id.as_str().to_string();
                let protocol_type = g.protocol_type.as_str().to_string();
                out.insert(id.clone(), Listed { group_id: id, protocol_type, group_type });
            }
        }
    }
    let mut groups: Vec<Listed> = out.into_values().collect();
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    groups.truncate(MAX_GROUPS);
    Ok(groups)
}

/// The group's state and members now; `None` when the coordinator does not describe it.
pub async fn poll(brokers: &mut Brokers, g: &Listed) -> Result<Option<Poll>> {
    let id = GroupId(str_bytes(&g.group_id));
    let w = brokers.coordinator(&g.group_id).await?;
    if g.group_type.as_deref() == Some("consumer") && w.supports::<ConsumerGroupDescribeRequest>() {
        let (resp, _) = w.call(1, &ConsumerGroupDescribeRequest::default().with_group_ids(vec![id])).await?;
        return Ok(resp.groups.into_iter().find(|d| d.error_code == 0).map(|d| Poll {
            state: d.group_state.as_str().to_string(),
            static_members: d.members.iter().filter(|m| m.instance_id.is_some()).count(),
            members: d.members.iter().map(|m| m.member_id.as_str().to_string()).collect(),
            epoch: Some(d.group_epoch),
        }));
    }
    let (resp, _) = w.call(5, &DescribeGroupsRequest::default().with_groups(vec![id])).await?;
    Ok(resp.groups.into_iter().find(|d| d.error_code == 0).map(|d| Poll {
        state: d.group_state.as_str().to_string(),
        static_members: d.members.iter().filter(|m| m.group_instance_id.is_some()).count(),
        members: d.members.iter().map(|m| m.member_id.as_str().to_string()).collect(),
        epoch: None,
    }))
}

/// The group's committed offsets: (topic, partition) -> offset.
pub async fn committed(brokers: &mut Brokers, group: &str) -> Result<HashMap<(String, i32), i64>> {
    let w = brokers.coordinator(group).await?;
    let req = OffsetFetchRequest::default().with_group_id(GroupId(str_bytes(group))).with_topics(None);
    let (resp, _) = w.call(7, &req).await?;
    let mut out = HashMap::new();
    for t in resp.topics {
        for p in t.partitions.into_iter().filter(|p| p.error_code == 0 && p.committed_offset >= 0) {
            out.insert((t.name.as_str().to_string(), p.partition_index), p.committed_offset);
        }
    }
    Ok(out)
}
