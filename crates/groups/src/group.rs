//! One classic consumer group: members, generations and the rebalance state machine, following the Java
//! group coordinator (Empty -> PreparingRebalance -> CompletingRebalance -> Stable).

use crate::GroupError;
use crate::persist::Persisted;
use bytes::Bytes;
use std::collections::BTreeMap;
use tokio::sync::oneshot;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a JoinGroup waiter receives.
#[derive(Debug, Clone)]
pub struct JoinResult {
    pub error: Option<GroupError>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// (member id, group instance id, metadata): only for the leader.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(error: GroupError, member_id: &str) -> Self {
        JoinResult {
            error: Some(error),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

/// What a SyncGroup waiter receives: the member's assignment, or why there is none.
pub type SyncResult = Result<Bytes, GroupError>;

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// (protocol name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub join_waiter: Option<oneshot::Sender<JoinResult>>,
    pub sync_waiter: Option<oneshot::Sender<SyncResult>>,
    pub last_heartbeat: Instant,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(n, _)| n == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }

    /// Members waiting on a join or sync are kept alive, as in Kafka.
    fn expired(&self, now: Instant) -> bool {
        self.join_waiter.is_none()
            && self.sync_waiter.is_none()
            && now.duration_since(self.last_heartbeat).as_millis() > self.session_timeout_ms.max(0) as u128
    }
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED and not yet used to join.
    pub pending: BTreeMap<String, Instant>,
    /// When the current PreparingRebalance ends at the latest.
    pub rebalance_deadline: Option<Instant>,
    /// Set while the initial-join delay runs (group formed from Empty): completion waits for the deadline.
    pub initial_delay: bool,
    /// Set while the assignment of a completed generation is being stored: SyncGroup answers wait for it.
    pub storing: bool,
    pub persisted: Persisted,
}

impl Group {
    pub fn new(id: &str, persisted: Persisted) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            rebalance_deadline: None,
            initial_delay: false,
            storing: false,
            persisted,
        }
    }

    /// Answers the waiting SyncGroup requests: each member's assignment, or `outcome`'s error.
    pub fn answer_syncs(&mut self, outcome: Result<(), GroupError>) {
        self.storing = false;
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(outcome.map(|()| m.assignment.clone()));
            }
        }
    }

    /// Answers every waiting JoinGroup and SyncGroup of the group with `error`.
    pub fn answer_all(&mut self, error: GroupError) {
        for m in self.members.values_mut() {
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult::error(error, &m.id));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(Err(error));
            }
        }
    }

    pub fn member_by_instance(&self, instance: &str) -> Option<&str> {
        self.members.values().find(|m| m.instance_id.as_deref() == Some(instance)).map(|m| m.id.as_str())
    }

    /// Whether every member supports at least one protocol that all members support.
    pub fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(p, _)| self.members.values().all(|m| m.protocols.iter().any(|(q, _)| q == p)))
    }

    /// Moves to PreparingRebalance: pending syncs are told to rejoin, and the rebalance deadline is set.
    pub fn prepare_rebalance(&mut self, now: Instant, initial_delay_ms: u64, reason: &str) {
        self.storing = false;
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(Err(GroupError::RebalanceInProgress));
            }
        }
        let max_rebalance = self.members.values().map(|m| m.rebalance_timeout_ms.max(0) as u64).max().unwrap_or(0);
        let from_empty = self.state == GroupState::Empty;
        self.initial_delay = from_empty && initial_delay_ms > 0;
        let wait = if self.initial_delay { initial_delay_ms.min(max_rebalance.max(1)) } else { max_rebalance };
        self.rebalance_deadline = Some(now + std::time::Duration::from_millis(wait));
        self.state = GroupState::PreparingRebalance;
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), reason, "preparing rebalance");
    }

    /// Extends the initial-join delay when another member arrives, bounded by the rebalance timeout.
    pub fn extend_initial_delay(&mut self, now: Instant, initial_delay_ms: u64) {
        if self.initial_delay {
            let max_rebalance = self.members.values().map(|m| m.rebalance_timeout_ms.max(0) as u64).max().unwrap_or(0);
            let extended = now + std::time::Duration::from_millis(initial_delay_ms);
            if let Some(deadline) = self.rebalance_deadline {
                let cap = deadline.max(now) + std::time::Duration::from_millis(max_rebalance);
                self.rebalance_deadline = Some(extended.min(cap).max(deadline));
            }
        }
    }

    /// Whether the join phase can complete now.
    pub fn join_complete(&self, now: Instant) -> bool {
        if self.state != GroupState::PreparingRebalance {
            return false;
        }
        let deadline_passed = self.rebalance_deadline.is_some_and(|d| now >= d);
        let all_joined = !self.members.is_empty() && self.members.values().all(|m| m.join_waiter.is_some());
        if self.initial_delay { deadline_passed } else { all_joined || deadline_passed }
    }

    /// Ends the join phase: members that did not rejoin are removed, a new generation starts and every
    /// waiting member gets its JoinGroup response.
    pub fn complete_join(&mut self) {
        let gone: Vec<String> =
            self.members.values().filter(|m| m.join_waiter.is_none()).map(|m| m.id.clone()).collect();
        for id in &gone {
            self.members.remove(id);
            tracing::info!(group = %self.id, member = %id, "member removed: did not rejoin before the rebalance timeout");
        }
        self.rebalance_deadline = None;
        self.initial_delay = false;
        self.generation += 1;
        metrics::counter!("weft_consumer_group_rebalances_total", "group" => self.id.clone()).increment(1);
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            self.leader = None;
            return;
        }
        self.protocol_name = self.select_protocol();
        if self.leader.as_ref().is_none_or(|l| !self.members.contains_key(l)) {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = GroupState::CompletingRebalance;
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let roster: Vec<(String, Option<String>, Bytes)> =
            self.members.values().map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata_for(&protocol))).collect();
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult {
                    error: None,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader { roster.clone() } else { Vec::new() },
                });
            }
        }
        tracing::info!(group = %self.id, generation = self.generation, protocol = %protocol, %leader, members = self.members.len(), "rebalance: join complete");
    }

    /// The protocol supported by every member that most members prefer (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(p, _)| p)
            .filter(|p| self.members.values().all(|m| m.protocols.iter().any(|(q, _)| q == *p)))
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((p, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(&p)) {
                *votes.entry(p).or_default() += 1;
            }
        }
        candidates.into_iter().max_by_key(|p| (votes.get(p).copied().unwrap_or(0), std::cmp::Reverse(*p))).cloned()
    }

    /// Removes a member (leave or expiry) and rebalances the rest.
    pub fn remove_member(&mut self, id: &str, now: Instant, reason: &str) {
        let Some(mut m) = self.members.remove(id) else { return };
        if let Some(w) = m.join_waiter.take() {
            let _ = w.send(JoinResult::error(GroupError::UnknownMemberId, id));
        }
        if let Some(w) = m.sync_waiter.take() {
            let _ = w.send(Err(GroupError::UnknownMemberId));
        }
        tracing::info!(group = %self.id, member = %id, reason, "member left the group");
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now, 0, reason),
            GroupState::PreparingRebalance | GroupState::Empty => {}
        }
        if self.members.is_empty() && self.state == GroupState::PreparingRebalance && !self.initial_delay {
            self.complete_join();
        }
    }

    /// Expires members whose session timed out and advances a due rebalance. Called periodically.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self.members.values().filter(|m| m.expired(now)).map(|m| m.id.clone()).collect();
        for id in expired {
            self.remove_member(&id, now, "session timeout");
        }
        self.pending.retain(|_, since| now.duration_since(*since).as_secs() < 300);
        if self.join_complete(now) {
            self.complete_join();
        }
    }
}
