//! `weft group` for share groups (KIP-932): describing one (members from ShareGroupDescribe, per partition the
//! start offset from DescribeShareGroupOffsets, the log end offset and the lag), resetting its start offsets
//! (AlterShareGroupOffsets) and deleting its offsets of topics (DeleteShareGroupOffsets), all sent to the
//! group's coordinator over the `wire` client, as Kafka's `kafka-share-groups.sh` does.
//!
//! Lag is Kafka's share-group lag without its in-flight term: log end offset minus start offset. Kafka 4.2
//! also subtracts the records already acknowledged or archived above the start offset, which only
//! DescribeShareGroupOffsets v1 carries; v0 (what Weft serves) does not, so records acknowledged out of order
//! above the start offset still count here.

use crate::wire::{Wire, error_text, str_bytes};
use anyhow::{Context, Result, bail};
use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::share_group_describe_response::DescribedGroup;
use kafka_protocol::messages::*;
use std::collections::BTreeMap;

/// GROUP_ID_NOT_FOUND: ShareGroupDescribe's answer for a group that is not a share group.
const GROUP_ID_NOT_FOUND: i16 = 69;

/// A connection to the coordinator of `group`.
pub async fn coordinator(mut wire: Wire, group: &str) -> Result<Wire> {
    let v = wire.version::<FindCoordinatorRequest>(4)?;
    let req = FindCoordinatorRequest::default().with_key_type(0);
    let req = if v >= 4 { req.with_coordinator_keys(vec![str_bytes(group)]) } else { req.with_key(str_bytes(group)) };
    let (resp, v) = wire.call(v, &req).await?;
    let node = if v >= 4 {
        let c = resp.coordinators.first().context("FindCoordinator answered no coordinator")?;
        if let Some(e) = error_text(c.error_code, c.error_message.as_ref()) {
            bail!("cannot find the coordinator of {group}: {e}");
        }
        c.node_id.0
    } else {
        resp.node_id.0
    };
    let metadata = wire.metadata(Some(&[])).await?;
    wire.into_node(node, &metadata).await
}

/// The share group `group` as its coordinator describes it; `None` when it is not a share group.
pub async fn describe_group(wire: &mut Wire, group: &str) -> Result<Option<DescribedGroup>> {
    if !wire.supports::<ShareGroupDescribeRequest>() {
        return Ok(None);
    }
    let req = ShareGroupDescribeRequest::default().with_group_ids(vec![GroupId(str_bytes(group))]);
    let (resp, _) = wire.call(1, &req).await?;
    let g = resp.groups.into_iter().next().context("ShareGroupDescribe answered no group")?;
    if g.error_code == GROUP_ID_NOT_FOUND {
        return Ok(None);
    }
    if let Some(e) = error_text(g.error_code, g.error_message.as_ref()) {
        bail!("cannot describe share group {group}: {e}");
    }
    Ok(Some(g))
}

/// Start offsets of every partition with state: (topic, partition) -> offset.
pub async fn start_offsets(wire: &mut Wire, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
    let req = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default().with_group_id(GroupId(str_bytes(group))).with_topics(None),
    ]);
    let (resp, _) = wire.call(0, &req).await?;
    let g = resp.groups.into_iter().next().context("DescribeShareGroupOffsets answered no group")?;
    if let Some(e) = error_text(g.error_code, g.error_message.as_ref()) {
        bail!("cannot describe the offsets of share group {group}: {e}");
    }
    let mut out = BTreeMap::new();
    for t in g.topics {
        for p in t.partitions {
            if let Some(e) = error_text(p.error_code, p.error_message.as_ref()) {
                bail!("cannot describe {}-{} of share group {group}: {e}", t.topic_name.as_str(), p.partition_index);
            }
            if p.start_offset >= 0 {
                out.insert((t.topic_name.to_string(), p.partition_index), p.start_offset);
            }
        }
    }
    Ok(out)
}

/// Sets the start offset of each (topic, partition, offset); the group must have no members.
pub async fn alter(wire: &mut Wire, group: &str, offsets: &[(String, i32, i64)]) -> Result<()> {
    let mut by_topic: BTreeMap<&str, Vec<AlterShareGroupOffsetsRequestPartition>> = BTreeMap::new();
    for (t, p, o) in offsets {
        by_topic
            .entry(t)
            .or_default()
            .push(AlterShareGroupOffsetsRequestPartition::default().with_partition_index(*p).with_start_offset(*o));
    }
    let topics = by_topic
        .into_iter()
        .map(|(t, ps)| {
            AlterShareGroupOffsetsRequestTopic::default().with_topic_name(TopicName(str_bytes(t))).with_partitions(ps)
        })
        .collect();
    let req = AlterShareGroupOffsetsRequest::default().with_group_id(GroupId(str_bytes(group))).with_topics(topics);
    let (resp, _) = wire.call(0, &req).await?;
    if let Some(e) = error_text(resp.error_code, resp.error_message.as_ref()) {
        bail!("cannot reset the offsets of share group {group}: {e}");
    }
    for t in &resp.responses {
        for p in &t.partitions {
            if let Some(e) = error_text(p.error_code, p.error_message.as_ref()) {
                bail!("cannot reset {}-{} of share group {group}: {e}", t.topic_name.as_str(), p.partition_index);
            }
        }
    }
    Ok(())
}

/// Deletes the group's offsets (share-partition state) of `topics`; the group must have no members.
pub async fn delete_offsets(wire: &mut Wire, group: &str, topics: &[String]) -> Result<()> {
    let req = DeleteShareGroupOffsetsRequest::default().with_group_id(GroupId(str_bytes(group))).with_topics(
        topics
            .iter()
            .map(|t| DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(TopicName(str_bytes(t))))
            .collect(),
    );
    let (resp, _) = wire.call(0, &req).await?;
    if let Some(e) = error_text(resp.error_code, resp.error_message.as_ref()) {
        bail!("cannot delete the offsets of share group {group}: {e}");
    }
    for t in &resp.responses {
        if let Some(e) = error_text(t.error_code, t.error_message.as_ref()) {
            bail!("cannot delete the offsets of {} in share group {group}: {e}", t.topic_name.as_str());
        }
    }
    Ok(())
}

/// The topic names of a member's assignment, as `topic:[partitions]`.
pub fn assignment_text(g: &DescribedGroup) -> Vec<(String, String, String, String)> {
    g.members
        .iter()
        .map(|m| {
            let a: Vec<String> = m
                .assignment
                .topic_partitions
                .iter()
                .map(|t| format!("{}:{:?}", t.topic_name.as_str(), t.partitions))
                .collect();
            (m.member_id.to_string(), m.client_id.to_string(), m.client_host.to_string(), a.join(" "))
        })
        .collect()
}

/// Every share group of the cluster with its state and member count: ListGroups (v5, type `Share`) from each
/// broker, since each lists the groups it coordinates, and ShareGroupDescribe there for the members.
pub async fn list(mut wire: Wire) -> Result<BTreeMap<String, (String, usize)>> {
    if !wire.supports::<ShareGroupDescribeRequest>() || wire.version::<ListGroupsRequest>(5)? < 5 {
        return Ok(BTreeMap::new());
    }
    let metadata = wire.metadata(Some(&[])).await?;
    let mut out = BTreeMap::new();
    let nodes: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
    for node in nodes {
        let Some(mut w) = wire.open_node(node, &metadata).await? else { continue };
        let req = ListGroupsRequest::default().with_types_filter(vec![str_bytes("Share")]);
        let (resp, _) = w.call(5, &req).await?;
        if let Some(e) = error_text(resp.error_code, None) {
            bail!("ListGroups refused: {e}");
        }
        for g in resp.groups {
            let id = g.group_id.to_string();
            let members = describe_group(&mut w, &id).await?.map_or(0, |d| d.members.len());
            out.insert(id, (g.group_state.to_string(), members));
        }
    }
    Ok(out)
}
