//! Conversions between the in-memory groups and their stored documents (`stored`). What is stored is what a
//! coordinator taking the group over needs so members carry on: for a classic group its last Empty or Stable
//! generation (Kafka never stores the rebalance states either), for a KIP-848 group its epochs and
//! assignments. Restored members get a fresh session deadline, as Kafka's coordinator schedules heartbeat
//! expiry for every member of a group it loads.

use crate::consumer::{Assignor, ConsumerGroup, ConsumerMember, TopicInfo, TopicRegex};
use crate::group::{Group, GroupState, Member};
use crate::persist::Persisted;
use crate::stored::{
    ClassicMemberState, ClassicState, ConsumerMemberState, ConsumerState, DecodeError, ProtocolState, StoredGroup,
    TopicState, encode, parse_topic_id, partitions_set, partitions_state,
};
use std::collections::BTreeMap;
use tokio::time::Instant;
use weft_meta::GroupStateRecord;

/// The metastore row for a stored group.
pub fn record(group_id: &str, stored: &StoredGroup) -> GroupStateRecord {
    let (kind, protocol_type, state) = match stored {
        StoredGroup::Classic(c) => ("classic", c.protocol_type.clone().unwrap_or_default(), c.state.clone()),
        StoredGroup::Consumer(c) => {
            let state = if c.members.is_empty() {
                "Empty"
            } else if c.members.iter().all(|m| m.member_epoch == c.group_epoch) {
                "Stable"
            } else {
                "Reconciling"
            };
            ("consumer", "consumer".to_string(), state.to_string())
        }
    };
    GroupStateRecord {
        group: group_id.to_string(),
        kind: kind.to_string(),
        protocol_type,
        state,
        document: encode(stored),
    }
}

impl Group {
    /// The group as Kafka would store it now: only an Empty or Stable generation is stored.
    pub fn stored(&self) -> Option<StoredGroup> {
        if !matches!(self.state, GroupState::Empty | GroupState::Stable) {
            return None;
        }
        let members = self
            .members
            .values()
            .map(|m| ClassicMemberState {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocols: m
                    .protocols
                    .iter()
                    .map(|(name, metadata)| ProtocolState { name: name.clone(), metadata: metadata.clone() })
                    .collect(),
                assignment: m.assignment.clone(),
            })
            .collect();
        Some(StoredGroup::Classic(ClassicState {
            protocol_type: self.protocol_type.clone(),
            generation: self.generation,
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone(),
            state: self.state.name().to_string(),
            members,
        }))
    }

    /// A group restored from its stored state; its members' sessions start `now`.
    pub fn restore(id: &str, c: ClassicState, now: Instant, persisted: Persisted) -> Group {
        let mut g = Group::new(id, persisted);
        g.state = if c.state == GroupState::Stable.name() && !c.members.is_empty() {
            GroupState::Stable
        } else {
            GroupState::Empty
        };
        g.generation = c.generation;
        g.protocol_type = c.protocol_type;
        g.protocol_name = c.protocol_name;
        g.leader = c.leader;
        for m in c.members {
            let member = Member {
                id: m.member_id.clone(),
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocols: m.protocols.into_iter().map(|p| (p.name, p.metadata)).collect(),
                assignment: m.assignment,
                join_waiter: None,
                sync_waiter: None,
                last_heartbeat: now,
            };
            g.members.insert(m.member_id, member);
        }
        if g.state == GroupState::Empty {
            g.members.clear();
            g.leader = None;
        }
        g
    }
}

impl ConsumerGroup {
    pub fn stored(&self) -> StoredGroup {
        let members = self
            .members
            .values()
            .map(|m| ConsumerMemberState {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                member_epoch: m.epoch,
                previous_member_epoch: m.previous_epoch,
                subscribed_topic_names: m.subscribed.clone(),
                subscribed_topic_regex: m.regex.as_ref().map(|r| r.as_str().to_string()),
                subscribed_regex_topics: m.regex_topics.iter().cloned().collect(),
                assigned: partitions_state(&m.assigned),
                target: self.target.get(&m.id).map(partitions_state).unwrap_or_default(),
            })
            .collect();
        StoredGroup::Consumer(ConsumerState {
            group_epoch: self.epoch,
            assignor: self.assignor.map(|a| a.name().to_string()),
            topics: self
                .topics
                .iter()
                .map(|t| TopicState { name: t.name.clone(), topic_id: t.id.to_string(), partitions: t.partitions })
                .collect(),
            members,
        })
    }

    /// A KIP-848 group restored from its stored state; its members' sessions start `now`.
    pub fn restore(c: ConsumerState, now: Instant, persisted: Persisted) -> Result<ConsumerGroup, DecodeError> {
        let mut topics = Vec::with_capacity(c.topics.len());
        for t in c.topics {
            topics.push(TopicInfo { id: parse_topic_id(&t.topic_id)?, name: t.name, partitions: t.partitions });
        }
        let mut members = BTreeMap::new();
        let mut target = BTreeMap::new();
        for m in c.members {
            target.insert(m.member_id.clone(), partitions_set(&m.target)?);
            let member = ConsumerMember {
                id: m.member_id.clone(),
                instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                epoch: m.member_epoch,
                previous_epoch: m.previous_member_epoch,
                subscribed: m.subscribed_topic_names,
                // A pattern stored before patterns were checked may not compile: it then subscribes to nothing.
                regex: m.subscribed_topic_regex.as_deref().and_then(|r| TopicRegex::new(r).ok()),
                regex_topics: m.subscribed_regex_topics.into_iter().collect(),
                assigned: partitions_set(&m.assigned)?,
                last_heartbeat: now,
            };
            members.insert(m.member_id, member);
        }
        Ok(ConsumerGroup {
            epoch: c.group_epoch,
            assignor: c.assignor.as_deref().and_then(|a| Assignor::parse(Some(a))),
            members,
            target,
            topics,
            session_timeout: None,
            persisted,
        })
    }
}
