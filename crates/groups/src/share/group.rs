//! One share group's membership (KIP-932): members with their epochs, subscriptions and assignments, the
//! group epoch, and the heartbeat rules Kafka's `GroupMetadataManager.shareGroupHeartbeat` applies. Pure:
//! time is passed in, topics are passed in.
//!
//! Assignment: every member is assigned every partition of the topics it subscribes to. Share groups let
//! several members read one partition (the share-partition leader hands each record to one of them), so
//! this is a valid assignment, the one Kafka's first SimpleAssignor made; it needs no rebalancing when
//! members come and go and keeps every member busy whatever the partition count.

use super::{ShareBeat, ShareGroupError, ShareHeartbeat};
use crate::consumer::TopicInfo;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// A partition of a topic, by topic id.
pub type TopicPartition = (Uuid, i32);

#[derive(Debug, Clone)]
pub(crate) struct ShareMember {
    pub epoch: i32,
    pub previous_epoch: i32,
    pub subscribed: BTreeSet<String>,
    pub assigned: BTreeSet<TopicPartition>,
    pub rack: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// When the member is removed unless it heartbeats again.
    pub deadline_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ShareGroup {
    pub epoch: i32,
    pub members: BTreeMap<String, ShareMember>,
    /// Topic names (and ids) of the last computed targets, so a change of topics bumps the group epoch.
    pub topics_seen: BTreeMap<String, (Uuid, i32)>,
}

impl ShareGroup {
    /// Kafka's state name for DescribeGroups, ListGroups and ShareGroupDescribe.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() { "Empty" } else { "Stable" }
    }

    /// Applies one heartbeat at `now_ms`; `topics` are the cluster's topics.
    pub fn heartbeat(&mut self, hb: &ShareHeartbeat, topics: &[TopicInfo]) -> Result<ShareBeat, ShareGroupError> {
        if hb.member_epoch == -1 {
            return self.leave(&hb.member_id);
        }
        let existing = self.members.get(&hb.member_id);
        let joining = hb.member_epoch == 0;
        match existing {
            None if !joining => return Err(ShareGroupError::UnknownMemberId { member: hb.member_id.clone() }),
            Some(m) if !joining => check_epoch(m, hb.member_epoch, &hb.member_id)?,
            _ => {}
        }
        if joining && hb.subscribed.as_ref().is_none_or(|s| s.is_empty()) {
            return Err(ShareGroupError::InvalidRequest {
                reason: "SubscribedTopicNames must be set and not empty when joining".into(),
            });
        }
        let subscribed = match (&hb.subscribed, existing) {
            (Some(names), _) => names.iter().cloned().collect(),
            (None, Some(m)) => m.subscribed.clone(),
            (None, None) => BTreeSet::new(),
        };
        let changed = existing.is_none_or(|m| m.subscribed != subscribed);
        let mut member = existing.cloned().unwrap_or_else(|| ShareMember {
            epoch: 0,
            previous_epoch: 0,
            subscribed: BTreeSet::new(),
            assigned: BTreeSet::new(),
            rack: None,
            client_id: String::new(),
            client_host: String::new(),
            deadline_ms: 0,
        });
        member.subscribed = subscribed;
        member.rack = hb.rack.clone().or(member.rack);
        member.client_id = hb.client_id.clone();
        member.client_host = hb.client_host.clone();
        member.deadline_ms = hb.now_ms.saturating_add(hb.session_timeout_ms);
        self.members.insert(hb.member_id.clone(), member);
        let topics_moved = self.topics_changed(topics);
        if changed || topics_moved {
            self.epoch = self.epoch.saturating_add(1);
        }
        let target = self.target_of(&hb.member_id, topics);
        let epoch = self.epoch;
        let Some(member) = self.members.get_mut(&hb.member_id) else {
            return Err(ShareGroupError::UnknownMemberId { member: hb.member_id.clone() });
        };
        let send = joining || member.assigned != target || member.epoch != epoch;
        if member.epoch != epoch {
            member.previous_epoch = member.epoch;
            member.epoch = epoch;
        }
        member.assigned = target;
        Ok(ShareBeat { member_id: hb.member_id.clone(), epoch, assignment: send.then(|| member.assigned.clone()) })
    }

    /// Removes the member (epoch -1); leaving twice, or leaving unknown, is answered the same way.
    fn leave(&mut self, member_id: &str) -> Result<ShareBeat, ShareGroupError> {
        if self.members.remove(member_id).is_some() {
            self.epoch = self.epoch.saturating_add(1);
        }
        Ok(ShareBeat { member_id: member_id.to_string(), epoch: -1, assignment: None })
    }

    /// Removes members whose session ended by `now_ms`; returns their ids.
    pub fn expire(&mut self, now_ms: i64) -> Vec<String> {
        let gone: Vec<String> =
            self.members.iter().filter(|(_, m)| m.deadline_ms <= now_ms).map(|(id, _)| id.clone()).collect();
        for id in &gone {
            self.members.remove(id);
        }
        if !gone.is_empty() {
            self.epoch = self.epoch.saturating_add(1);
        }
        gone
    }

    /// Every partition of the member's subscribed topics that exist.
    fn target_of(&self, member_id: &str, topics: &[TopicInfo]) -> BTreeSet<TopicPartition> {
        let Some(m) = self.members.get(member_id) else { return BTreeSet::new() };
        topics
            .iter()
            .filter(|t| m.subscribed.contains(&t.name))
            .flat_map(|t| (0..t.partitions.max(0)).map(move |p| (t.id, p)))
            .collect()
    }

    /// Whether the subscribed topics' ids or partition counts changed since the last heartbeat; remembers them.
    fn topics_changed(&mut self, topics: &[TopicInfo]) -> bool {
        let names: BTreeSet<&String> = self.members.values().flat_map(|m| m.subscribed.iter()).collect();
        let now: BTreeMap<String, (Uuid, i32)> =
            topics.iter().filter(|t| names.contains(&t.name)).map(|t| (t.name.clone(), (t.id, t.partitions))).collect();
        if now == self.topics_seen {
            return false;
        }
        self.topics_seen = now;
        true
    }
}

/// Kafka's epoch check for a known member: its current epoch, or its previous one (a lost response).
fn check_epoch(m: &ShareMember, epoch: i32, member_id: &str) -> Result<(), ShareGroupError> {
    if epoch == m.epoch || epoch == m.previous_epoch {
        return Ok(());
    }
    Err(ShareGroupError::FencedMemberEpoch { member: member_id.to_string(), epoch, current: m.epoch })
}
