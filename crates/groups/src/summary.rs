//! What the coordinator shows of its classic groups: DescribeGroups, ListGroups and the topics a group's
//! members subscribe to (for offset fetches and lag).

use crate::group::GroupState;
use crate::{Coordinator, GroupSummary};

impl Coordinator {
    pub fn describe(&self, group_id: &str) -> Option<GroupSummary> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let members = g
            .members
            .values()
            .map(|m| {
                let metadata =
                    m.protocols.iter().find(|(n, _)| *n == protocol).map(|(_, d)| d.clone()).unwrap_or_default();
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.client_id.clone(),
                    m.client_host.clone(),
                    metadata,
                    m.assignment.clone(),
                )
            })
            .collect();
        Some(GroupSummary {
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol_name: if g.state == GroupState::Stable || g.state == GroupState::CompletingRebalance {
                protocol
            } else {
                String::new()
            },
            members,
        })
    }

    /// (group id, protocol type, state) of every group with members.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        let groups = self.lock();
        groups.values().map(|g| (g.id.clone(), g.protocol_type.clone().unwrap_or_default(), g.state.name())).collect()
    }

    /// Topics the group's members subscribe to, read from their consumer-protocol subscriptions
    /// (version i16, then an array of topic names). `None` when the group has no members.
    pub fn subscribed_topics(&self, group_id: &str) -> Option<std::collections::BTreeSet<String>> {
        let groups = self.lock();
        let g = groups.get(group_id).filter(|g| !g.members.is_empty())?;
        let mut topics = std::collections::BTreeSet::new();
        for m in g.members.values() {
            for (_, metadata) in &m.protocols {
                topics.extend(parse_subscription(metadata));
            }
        }
        Some(topics)
    }
}

/// Topic names of a consumer-protocol subscription; malformed metadata yields what could be read.
pub(crate) fn parse_subscription(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(count) = data.get(2..6).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])) else { return out };
    let mut at = 6;
    for _ in 0..count.clamp(0, 100_000) {
        let Some(len) = data.get(at..at + 2).map(|b| i16::from_be_bytes([b[0], b[1]])) else { break };
        let Ok(len) = usize::try_from(len) else { break };
        let Some(name) = data.get(at + 2..at + 2 + len) else { break };
        out.push(String::from_utf8_lossy(name).into_owned());
        at += 2 + len;
    }
    out
}
