//! The coordinator's side of ConsumerGroupHeartbeat (KIP-848). Every change of a group is stored before the
//! heartbeat that caused it is answered, so a member carries on with its epoch after a coordinator restart.

use super::Coordinator;
use super::consumer::{Assignor, Beat, ConsumerGroup, ConsumerMember, TopicInfo, TopicRegex, Tp, assign};
use crate::GroupError;
use crate::persist::{Persisted, Write};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A ConsumerGroupHeartbeat request, decoded.
pub struct HeartbeatParams {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: Option<Vec<String>>,
    pub regex: Option<String>,
    pub assignor: Option<String>,
    pub owned: Option<BTreeSet<Tp>>,
    /// The group's `consumer.session.timeout.ms` (its group config); `None`: the coordinator's default.
    pub session_timeout: Option<Duration>,
}

/// What ConsumerGroupDescribe reports about a group.
pub struct ConsumerGroupSnapshot {
    pub state: &'static str,
    pub epoch: i32,
    pub assignor: &'static str,
    pub topics: std::collections::BTreeMap<uuid::Uuid, String>,
    pub members: Vec<MemberSnapshot>,
}

pub struct MemberSnapshot {
    pub id: String,
    pub instance_id: Option<String>,
    pub epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: Vec<String>,
    pub regex: Option<String>,
    pub assigned: BTreeSet<Tp>,
    pub target: BTreeSet<Tp>,
}

/// Leave epochs of the protocol.
const LEAVE: i32 = -1;
const STATIC_LEAVE: i32 = -2;

impl Coordinator {
    /// Handles one heartbeat; `topics` is every topic of the cluster (the subscriptions are matched here).
    /// `may_describe` says whether the heartbeating member's principal may DESCRIBE a topic: its regex
    /// subscribes it only to those. Call [`Coordinator::load`] for the group first.
    pub async fn consumer_heartbeat(
        self: &Arc<Self>,
        p: HeartbeatParams,
        new_id: String,
        topics: Vec<TopicInfo>,
        may_describe: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Beat, GroupError> {
        let group_id = p.group_id.clone();
        let (beat, write) = self.beat(p, new_id, topics, may_describe)?;
        if let Some(write) = write {
            self.persist(write).await.unwrap_or(Err(GroupError::CoordinatorNotAvailable)).inspect_err(|e| {
                tracing::debug!(group = %group_id, error = %e, "consumer group heartbeat: storing the group failed");
            })?;
        }
        Ok(beat)
    }

    /// The heartbeat's effect in memory, and the write it needs.
    fn beat(
        &self,
        p: HeartbeatParams,
        new_id: String,
        topics: Vec<TopicInfo>,
        may_describe: &dyn Fn(&str) -> bool,
    ) -> Result<(Beat, Option<Write>), GroupError> {
        if p.group_id.is_empty() {
            return Err(GroupError::InvalidRequest);
        }
        // A new pattern is compiled once here, before anything changes; the member keeps the compiled one.
        let regex = match p.regex.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(pattern) => Some(Some(TopicRegex::new(pattern)?)),
        };
        if self.lock().get(&p.group_id).is_some_and(|g| !g.members.is_empty()) {
            // A classic group of that name is active: the protocols do not mix in one group.
            return Err(GroupError::GroupIdNotFound);
        }
        // Clients name the assignor when it changes (usually only when joining); null keeps the current one.
        let requested = match p.assignor.as_deref() {
            None => None,
            Some(name) => Some(Assignor::parse(Some(name)).ok_or(GroupError::UnsupportedAssignor)?),
        };
        let now = Instant::now();
        let incarnation = self.next_incarnation();
        let mut groups = self.consumer_lock();
        let g = groups
            .entry(p.group_id.clone())
            .or_insert_with(|| ConsumerGroup { persisted: Persisted::fresh(incarnation), ..ConsumerGroup::default() });
        if requested.is_some() {
            g.assignor = requested;
        }
        if p.session_timeout.is_some() {
            g.session_timeout = p.session_timeout;
        }
        let assignor = g.assignor.unwrap_or(Assignor::Uniform);
        let id = match p.member_epoch {
            0 => {
                let id = if p.member_id.is_empty() { new_id } else { p.member_id.clone() };
                // A static member restarting replaces its previous incarnation and keeps its partitions.
                let previous = p
                    .instance_id
                    .as_ref()
                    .and_then(|i| g.members.values().find(|m| m.instance_id.as_ref() == Some(i)).map(|m| m.id.clone()));
                let assigned = previous.and_then(|old| g.members.remove(&old)).map(|m| m.assigned).unwrap_or_default();
                g.members.insert(
                    id.clone(),
                    ConsumerMember {
                        id: id.clone(),
                        instance_id: p.instance_id.clone(),
                        client_id: p.client_id.clone(),
                        client_host: p.client_host.clone(),
                        epoch: 0,
                        previous_epoch: 0,
                        subscribed: Vec::new(),
                        regex: None,
                        regex_topics: BTreeSet::new(),
                        assigned,
                        last_heartbeat: now,
                    },
                );
                id
            }
            LEAVE | STATIC_LEAVE => {
                g.members.remove(&p.member_id);
                let target = assign(assignor, &g.members, &topics);
                g.topics = topics;
                g.retarget(target);
                let write = g.stage(&p.group_id);
                return Ok((Beat { member_id: p.member_id, epoch: p.member_epoch, assignment: None }, write));
            }
            epoch => {
                let m = g.members.get(&p.member_id).ok_or(GroupError::UnknownMemberId)?;
                // A member whose last answer was lost may come back with its previous epoch, if it owns no
                // more than it was assigned (Kafka's rule).
                let lost_answer =
                    epoch == m.previous_epoch && p.owned.as_ref().is_some_and(|owned| owned.is_subset(&m.assigned));
                if epoch != m.epoch && !lost_answer {
                    return Err(GroupError::FencedMemberEpoch);
                }
                p.member_id.clone()
            }
        };
        if let Some(m) = g.members.get_mut(&id) {
            m.last_heartbeat = now;
            if let Some(names) = p.subscribed {
                m.subscribed = names;
            }
            match regex {
                // The same pattern again keeps its compiled form (clients resend it on full heartbeats).
                Some(Some(new)) if m.regex.as_ref() != Some(&new) => m.regex = Some(new),
                Some(None) => m.regex = None,
                _ => {}
            }
            m.resolve_regex(&topics, may_describe);
        }
        let wanted: Vec<TopicInfo> = topics
            .into_iter()
            .filter(|t| g.members.values().any(|m| super::consumer::subscribes(m, &t.name)))
            .collect();
        let target = assign(assignor, &g.members, &wanted);
        g.topics = wanted;
        g.retarget(target);
        let beat = g.reconcile(&id, p.owned).ok_or(GroupError::UnknownMemberId)?;
        Ok((beat, g.stage(&p.group_id)))
    }

    /// Expires consumer-protocol members that stopped heartbeating (for longer than their group's session
    /// timeout, else `session`) and rebalances what they held.
    /// Groups left without members leave memory once stored (a later request loads them again).
    pub(super) fn tick_consumer_groups(self: &Arc<Self>, session: Duration) {
        let now = Instant::now();
        let mut writes = Vec::new();
        let mut groups = self.consumer_lock();
        for (id, g) in groups.iter_mut() {
            if g.expire(now, g.session_timeout.unwrap_or(session)) {
                tracing::info!(group = %id, members = g.members.len(), "consumer group member expired");
                let target = assign(g.assignor.unwrap_or(Assignor::Uniform), &g.members, &g.topics);
                g.retarget(target);
            }
            if !g.persisted.backing_off(now) {
                writes.extend(g.stage(id));
            }
        }
        groups.retain(|_, g| !g.members.is_empty() || !g.persisted.settled());
        drop(groups);
        self.persist_later(writes);
    }

    /// Offset commits from a consumer-protocol member carry its member epoch.
    pub(super) fn check_consumer_commit(
        &self,
        group_id: &str,
        epoch: i32,
        member_id: &str,
    ) -> Option<Result<(), GroupError>> {
        let groups = self.consumer_lock();
        let g = groups.get(group_id)?;
        if member_id.is_empty() && epoch < 0 && g.members.is_empty() {
            return Some(Ok(()));
        }
        Some(match g.members.get(member_id) {
            None => Err(GroupError::UnknownMemberId),
            Some(m) if m.epoch != epoch => Err(GroupError::StaleMemberEpoch),
            Some(_) => Ok(()),
        })
    }

    /// A consumer-protocol group as DescribeGroups shows it (members without classic metadata).
    pub fn describe_consumer_group(&self, group_id: &str) -> Option<super::GroupSummary> {
        let groups = self.consumer_lock();
        let g = groups.get(group_id)?;
        let members = g
            .members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.client_id.clone(),
                    m.client_host.clone(),
                    Default::default(),
                    Default::default(),
                )
            })
            .collect();
        let state = if g.members.values().all(|m| m.epoch == g.epoch) { "Stable" } else { "Reconciling" };
        Some(super::GroupSummary { state, protocol_type: "consumer".into(), protocol_name: String::new(), members })
    }

    /// A consumer-protocol group as ConsumerGroupDescribe shows it.
    pub fn snapshot_consumer_group(&self, group_id: &str) -> Option<ConsumerGroupSnapshot> {
        let groups = self.consumer_lock();
        let g = groups.get(group_id)?;
        let stable = g.members.values().all(|m| m.epoch == g.epoch);
        Some(ConsumerGroupSnapshot {
            state: if g.members.is_empty() {
                "Empty"
            } else if stable {
                "Stable"
            } else {
                "Reconciling"
            },
            epoch: g.epoch,
            assignor: g.assignor.unwrap_or(Assignor::Uniform).name(),
            topics: g.topics.iter().map(|t| (t.id, t.name.clone())).collect(),
            members: g
                .members
                .values()
                .map(|m| MemberSnapshot {
                    id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    epoch: m.epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed: m.subscribed.clone(),
                    regex: m.regex.as_ref().map(|r| r.as_str().to_string()),
                    assigned: m.assigned.clone(),
                    target: g.target.get(&m.id).cloned().unwrap_or_default(),
                })
                .collect(),
        })
    }

    /// (group, state) of consumer-protocol groups for ListGroups.
    pub fn list_consumer_groups(&self) -> Vec<(String, &'static str)> {
        let groups = self.consumer_lock();
        groups
            .iter()
            .map(|(id, g)| {
                let state = if g.members.values().all(|m| m.epoch == g.epoch) { "Stable" } else { "Reconciling" };
                (id.clone(), state)
            })
            .collect()
    }
}
