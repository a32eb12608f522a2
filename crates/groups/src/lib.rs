//! The consumer group coordinator (classic and KIP-848). Membership lives in memory on the coordinating agent
//! and is stored in the metastore whenever Kafka would write it to its offsets topic (`persist`), so a
//! coordinator that restarts or takes a group over loads it and members carry on without rejoining;
//! committed offsets live in the metastore too. Which agent coordinates a group is decided outside this
//! crate; an agent that loses a group calls [`Coordinator::evict`].

pub mod config;
pub mod consumer;
mod error;
mod group;
mod heartbeat;
mod persist;
#[cfg(test)]
mod persist_tests;
mod restore;
pub mod share;
pub mod stored;
mod summary;
#[cfg(test)]
mod tests;
pub mod topic_regex;

pub use error::GroupError;
pub use group::{GroupState, JoinResult, SyncResult};
pub use heartbeat::HeartbeatParams;
pub use persist::FenceSource;

use bytes::Bytes;
use group::{Group, Member};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Limits and defaults of the coordinator (Kafka's group.* broker configs).
#[derive(Debug, Clone, Copy)]
pub struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: u64,
    pub max_size: usize,
    /// Kafka's group.consumer.session.timeout.ms (KIP-848 groups without their own
    /// `consumer.session.timeout.ms`; their heartbeat interval comes from `config::GroupSettings`).
    pub consumer_session_timeout_ms: u64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: usize::MAX,
            consumer_session_timeout_ms: 45_000,
        }
    }
}

/// An answer now, or a receiver for an answer once the group gets there.
pub enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

impl<T> Reply<T> {
    pub async fn resolve(self, if_dropped: T) -> T {
        match self {
            Reply::Now(v) => v,
            Reply::Wait(rx) => rx.await.unwrap_or(if_dropped),
        }
    }
}

/// A JoinGroup request, decoded.
pub struct JoinParams {
    pub group_id: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+ requires a known member id (KIP-394).
    pub require_known_member_id: bool,
}

/// A described member: (member id, instance id, client id, host, metadata, assignment).
pub type MemberSummary = (String, Option<String>, String, String, Bytes, Bytes);

pub struct GroupSummary {
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol_name: String,
    pub members: Vec<MemberSummary>,
}

pub struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    /// KIP-848 groups, kept apart from classic ones.
    consumer_groups: Mutex<HashMap<String, consumer::ConsumerGroup>>,
    config: GroupConfig,
    /// Where group state is stored (the metastore's groups capability).
    store: Arc<dyn weft_meta::Groups>,
    /// Loads and writes of a group take its turn (see `persist`).
    turns: Vec<tokio::sync::Mutex<()>>,
    incarnations: AtomicU64,
    /// Where writes get their lease fence (see [`persist::FenceSource`]); unset for a lone agent.
    fence: std::sync::OnceLock<persist::FenceSource>,
}

impl Coordinator {
    pub fn new(config: GroupConfig, store: Arc<dyn weft_meta::Groups>) -> Self {
        Coordinator {
            groups: Mutex::new(HashMap::new()),
            consumer_groups: Mutex::new(HashMap::new()),
            config,
            store,
            turns: (0..persist::TURNS).map(|_| tokio::sync::Mutex::new(())).collect(),
            incarnations: AtomicU64::new(1),
            fence: std::sync::OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn consumer_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, consumer::ConsumerGroup>> {
        self.consumer_groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_incarnation(&self) -> u64 {
        self.incarnations.fetch_add(1, Ordering::Relaxed)
    }

    /// JoinGroup. Call [`Coordinator::load`] for the group first.
    pub fn join(self: &Arc<Self>, p: JoinParams, new_id: String) -> Reply<JoinResult> {
        let fail = |e: GroupError, id: &str| Reply::Now(JoinResult::error(e, id));
        if p.group_id.is_empty() {
            return fail(GroupError::InvalidGroupId, &p.member_id);
        }
        if p.session_timeout_ms < self.config.min_session_timeout_ms
            || p.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return fail(GroupError::InvalidSessionTimeout, &p.member_id);
        }
        let now = Instant::now();
        let delay = self.config.initial_rebalance_delay_ms;
        let incarnation = self.next_incarnation();
        let mut groups = self.lock();
        let g = groups
            .entry(p.group_id.clone())
            .or_insert_with(|| Group::new(&p.group_id, persist::Persisted::fresh(incarnation)));
        if !g.supports(&p.protocol_type, &p.protocols) {
            return fail(GroupError::InconsistentGroupProtocol, &p.member_id);
        }
        let (tx, rx) = oneshot::channel();
        let member = |id: &str, assignment: Bytes| Member {
            id: id.to_string(),
            instance_id: p.instance_id.clone(),
            client_id: p.client_id.clone(),
            client_host: p.client_host.clone(),
            session_timeout_ms: p.session_timeout_ms,
            rebalance_timeout_ms: p.rebalance_timeout_ms,
            protocols: p.protocols.clone(),
            assignment,
            join_waiter: None,
            sync_waiter: None,
            last_heartbeat: now,
        };
        let known = !p.member_id.is_empty();
        if !known || g.pending.contains_key(&p.member_id) {
            // A new member (or one completing the KIP-394 two-step join).
            if !known
                && let Some(instance) = &p.instance_id
                && let Some(old_id) = g.member_by_instance(instance).map(str::to_string)
            {
                return self.static_rejoin(g, &old_id, member(&new_id, Bytes::new()), tx, rx, now);
            }
            if !known && p.instance_id.is_none() && p.require_known_member_id {
                g.pending.insert(new_id.clone(), now);
                let mut r = JoinResult::error(GroupError::MemberIdRequired, &new_id);
                r.member_id = new_id;
                return Reply::Now(r);
            }
            if g.members.len() >= self.config.max_size {
                return fail(GroupError::GroupMaxSizeReached, &p.member_id);
            }
            let id = if known { p.member_id.clone() } else { new_id };
            g.pending.remove(&id);
            let mut m = member(&id, Bytes::new());
            m.join_waiter = Some(tx);
            if g.members.is_empty() {
                g.protocol_type = Some(p.protocol_type.clone());
            }
            g.members.insert(id.clone(), m);
            match g.state {
                GroupState::Empty => g.prepare_rebalance(now, delay, "new member joined an empty group"),
                GroupState::Stable | GroupState::CompletingRebalance => {
                    g.prepare_rebalance(now, 0, "new member joined")
                }
                GroupState::PreparingRebalance => g.extend_initial_delay(now, delay),
            }
        } else {
            let Some(existing) = g.members.get(&p.member_id) else {
                return fail(GroupError::UnknownMemberId, &p.member_id);
            };
            if p.instance_id.is_some() && existing.instance_id != p.instance_id {
                return fail(GroupError::FencedInstanceId, &p.member_id);
            }
            let changed = existing.protocols != p.protocols;
            let is_leader = g.leader.as_deref() == Some(p.member_id.as_str());
            let state = g.state;
            let m = g.members.get_mut(&p.member_id).expect("member checked above");
            m.protocols = p.protocols.clone();
            m.session_timeout_ms = p.session_timeout_ms;
            m.rebalance_timeout_ms = p.rebalance_timeout_ms;
            m.last_heartbeat = now;
            match state {
                GroupState::CompletingRebalance if !changed => return Reply::Now(current(g, &p.member_id)),
                GroupState::Stable if !changed && !is_leader => return Reply::Now(current(g, &p.member_id)),
                _ => {}
            }
            m.join_waiter = Some(tx);
            if state != GroupState::PreparingRebalance {
                g.prepare_rebalance(now, 0, "member rejoined with changed metadata or as leader");
            }
        }
        if g.join_complete(now) {
            g.complete_join();
        }
        Reply::Wait(rx)
    }

    /// A static member restarting with a new member id: the old id is fenced and replaced. In a stable group
    /// with unchanged protocols no rebalance happens (KIP-345).
    fn static_rejoin(
        self: &Arc<Self>,
        g: &mut Group,
        old_id: &str,
        mut new: Member,
        tx: oneshot::Sender<JoinResult>,
        rx: oneshot::Receiver<JoinResult>,
        now: Instant,
    ) -> Reply<JoinResult> {
        let Some(mut old) = g.members.remove(old_id) else {
            return Reply::Now(JoinResult::error(GroupError::UnknownMemberId, old_id));
        };
        if let Some(w) = old.join_waiter.take() {
            let _ = w.send(JoinResult::error(GroupError::FencedInstanceId, old_id));
        }
        if let Some(w) = old.sync_waiter.take() {
            let _ = w.send(Err(GroupError::FencedInstanceId));
        }
        let unchanged = old.protocols == new.protocols;
        new.assignment = old.assignment.clone();
        let id = new.id.clone();
        if g.leader.as_deref() == Some(old_id) {
            g.leader = Some(id.clone());
        }
        tracing::info!(group = %g.id, old = %old_id, new = %id, "static member rejoined; old member id fenced");
        if g.state == GroupState::Stable && unchanged {
            // Kafka stores the group with the new member id before answering, and reverts on failure.
            g.members.insert(id.clone(), new);
            let answer = current(g, &id);
            let Some(write) = g.stage() else { return Reply::Now(answer) };
            let stored = self.persist(write);
            let (this, group_id, old_id) = (self.clone(), g.id.clone(), old_id.to_string());
            tokio::spawn(async move {
                let outcome = stored.await.unwrap_or(Err(GroupError::CoordinatorNotAvailable));
                if outcome.is_err() {
                    this.revert_static(&group_id, &id, &old_id);
                }
                let _ = tx.send(match outcome {
                    Ok(()) => answer,
                    Err(e) => JoinResult::error(e, &id),
                });
            });
            return Reply::Wait(rx);
        }
        new.join_waiter = Some(tx);
        g.members.insert(id, new);
        if g.state != GroupState::PreparingRebalance {
            g.prepare_rebalance(now, 0, "static member rejoined with changed metadata");
        }
        if g.join_complete(now) {
            g.complete_join();
        }
        Reply::Wait(rx)
    }

    /// Gives a static member its old member id back after storing the replacement failed, so the previous
    /// incarnation carries on (as Kafka's coordinator does).
    fn revert_static(&self, group_id: &str, new_id: &str, old_id: &str) {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else { return };
        let Some(mut m) = g.members.remove(new_id) else { return };
        m.id = old_id.to_string();
        g.members.insert(old_id.to_string(), m);
        if g.leader.as_deref() == Some(new_id) {
            g.leader = Some(old_id.to_string());
        }
        tracing::info!(group = %group_id, old = %old_id, new = %new_id, "storing a static member's replacement failed; reverted");
    }

    /// Checks a member's identity.
    fn check_member(g: &Group, member_id: &str, instance_id: Option<&str>, generation: i32) -> Result<(), GroupError> {
        if let Some(instance) = instance_id
            && let Some(owner) = g.member_by_instance(instance)
            && owner != member_id
        {
            return Err(GroupError::FencedInstanceId);
        }
        if !g.members.contains_key(member_id) {
            return Err(GroupError::UnknownMemberId);
        }
        if generation != g.generation {
            return Err(GroupError::IllegalGeneration);
        }
        Ok(())
    }

    /// SyncGroup. Call [`Coordinator::load`] for the group first.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        self: &Arc<Self>,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncResult> {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else { return Reply::Now(Err(GroupError::UnknownMemberId)) };
        if let Err(e) = Self::check_member(g, member_id, instance_id, generation) {
            return Reply::Now(Err(e));
        }
        if protocol_type.is_some_and(|t| Some(t) != g.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != g.protocol_name.as_deref())
        {
            return Reply::Now(Err(GroupError::InconsistentGroupProtocol));
        }
        match g.state {
            GroupState::Empty => Reply::Now(Err(GroupError::UnknownMemberId)),
            GroupState::PreparingRebalance => Reply::Now(Err(GroupError::RebalanceInProgress)),
            GroupState::Stable if !g.storing => {
                let assignment = g.members.get(member_id).map(|m| m.assignment.clone()).unwrap_or_default();
                Reply::Now(Ok(assignment))
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = g.members.get_mut(member_id) {
                    m.sync_waiter = Some(tx);
                    m.last_heartbeat = Instant::now();
                }
                if g.state == GroupState::CompletingRebalance && g.leader.as_deref() == Some(member_id) {
                    let map: BTreeMap<String, Bytes> = assignments.into_iter().collect();
                    for m in g.members.values_mut() {
                        m.assignment = map.get(&m.id).cloned().unwrap_or_default();
                    }
                    // Stable in memory now; the answers wait until the generation is stored (Kafka's storeGroup).
                    g.state = GroupState::Stable;
                    g.storing = true;
                    match g.stage() {
                        Some(write) => {
                            let stored = self.persist(write);
                            let (this, id, generation) = (self.clone(), g.id.clone(), g.generation);
                            tokio::spawn(async move {
                                let outcome = stored.await.unwrap_or(Err(GroupError::CoordinatorNotAvailable));
                                this.finish_sync(&id, generation, outcome);
                            });
                        }
                        None => g.answer_syncs(Ok(())),
                    }
                }
                Reply::Wait(rx)
            }
        }
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        let mut groups = self.lock();
        let g = groups.get_mut(group_id).ok_or(GroupError::UnknownMemberId)?;
        Self::check_member(g, member_id, instance_id, generation)?;
        if let Some(m) = g.members.get_mut(member_id) {
            m.last_heartbeat = Instant::now();
        }
        match g.state {
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::Empty => Err(GroupError::UnknownMemberId),
            GroupState::Stable | GroupState::CompletingRebalance => Ok(()),
        }
    }

    /// Answers the SyncGroup requests of a generation once its storing ended: with their assignments, or
    /// with the failure, after which the group rebalances (Kafka's resetAndPropagateAssignmentError).
    fn finish_sync(&self, group_id: &str, generation: i32, outcome: Result<(), GroupError>) {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else { return };
        if g.generation != generation || g.state != GroupState::Stable || !g.storing {
            return;
        }
        g.answer_syncs(outcome);
        if outcome.is_err() {
            for m in g.members.values_mut() {
                m.assignment = Bytes::new();
            }
            g.prepare_rebalance(Instant::now(), 0, "storing the group's assignment failed");
        } else {
            tracing::info!(group = %g.id, generation, "rebalance complete: group stable and stored");
        }
    }

    /// Removes members (by member id, or by instance id for static members). Returns one outcome per member.
    /// Call [`Coordinator::load`] for the group first.
    pub fn leave(
        self: &Arc<Self>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Vec<Result<(), GroupError>> {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return members.iter().map(|_| Err(GroupError::UnknownMemberId)).collect();
        };
        let now = Instant::now();
        let outcomes = members
            .iter()
            .map(|(member_id, instance)| {
                let id = match instance {
                    Some(i) => match g.member_by_instance(i) {
                        Some(owner) if member_id.is_empty() || owner == member_id => owner.to_string(),
                        Some(_) => return Err(GroupError::FencedInstanceId),
                        None => return Err(GroupError::UnknownMemberId),
                    },
                    None => member_id.clone(),
                };
                if g.pending.remove(&id).is_some() {
                    return Ok(());
                }
                if !g.members.contains_key(&id) {
                    return Err(GroupError::UnknownMemberId);
                }
                g.remove_member(&id, now, "left the group");
                Ok(())
            })
            .collect();
        // The last member leaving empties the group, which Kafka stores.
        self.persist_later(g.stage().into_iter().collect());
        outcomes
    }

    /// Whether an offset commit from this member may be stored now.
    pub fn check_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if let Some(answer) = self.check_consumer_commit(group_id, generation, member_id) {
            return answer;
        }
        let groups = self.lock();
        let Some(g) = groups.get(group_id) else {
            // Commits outside any group membership (assign() users) are allowed with generation -1.
            return if generation < 0 { Ok(()) } else { Err(GroupError::IllegalGeneration) };
        };
        if generation < 0 && member_id.is_empty() && g.members.is_empty() {
            return Ok(());
        }
        Self::check_member(g, member_id, instance_id, generation)?;
        if g.state == GroupState::CompletingRebalance || g.storing {
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Runs timers: session expiry, rebalance deadlines, retries of failed writes. Drops groups left empty
    /// once their state is stored (a later request loads them again).
    pub fn tick(self: &Arc<Self>) {
        self.tick_consumer_groups(Duration::from_millis(self.config.consumer_session_timeout_ms));
        let now = Instant::now();
        let mut writes = Vec::new();
        let mut groups = self.lock();
        for g in groups.values_mut() {
            g.tick(now);
            if !g.persisted.backing_off(now) {
                writes.extend(g.stage());
            }
        }
        groups.retain(|_, g| g.state != GroupState::Empty || !g.pending.is_empty() || !g.persisted.settled());
        drop(groups);
        self.persist_later(writes);
    }

    /// Ids of groups that currently have members.
    pub fn active_groups(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.lock().values().filter(|g| !g.members.is_empty()).map(|g| g.id.clone()).collect();
        ids.extend(self.list_consumer_groups().into_iter().map(|(id, _)| id));
        ids
    }

    /// Forgets an empty group (classic or KIP-848) along with member ids handed out but not yet used; a group
    /// with members is refused with NON_EMPTY_GROUP. Returns whether the group was in memory.
    fn forget_empty(&self, group_id: &str) -> Result<bool, GroupError> {
        let mut consumer_groups = self.consumer_lock();
        let mut groups = self.lock();
        let busy = groups.get(group_id).is_some_and(|g| !g.members.is_empty())
            || consumer_groups.get(group_id).is_some_and(|g| !g.members.is_empty());
        if busy {
            return Err(GroupError::NonEmptyGroup);
        }
        let classic = groups.remove(group_id).is_some();
        let consumer = consumer_groups.remove(group_id).is_some();
        Ok(classic || consumer)
    }

    /// Answers every waiting JoinGroup and SyncGroup with NOT_COORDINATOR (clients then look for the
    /// coordinator again) and forgets all membership. Used at shutdown so draining connections do not wait for
    /// rebalances.
    pub fn shutdown(&self) {
        let mut groups = self.lock();
        for g in groups.values_mut() {
            g.answer_all(GroupError::NotCoordinator);
        }
        groups.clear();
    }

    /// Spawns the timer task that expires sessions and completes due rebalances.
    pub fn spawn_timer(self: &std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(100));
            loop {
                interval.tick().await;
                match weak.upgrade() {
                    Some(c) => c.tick(),
                    None => return,
                }
            }
        })
    }
}

/// The JoinGroup answer describing the group's current generation (no rebalance needed).
fn current(g: &Group, member_id: &str) -> JoinResult {
    let leader = g.leader.clone().unwrap_or_default();
    let protocol = g.protocol_name.clone().unwrap_or_default();
    JoinResult {
        error: None,
        generation: g.generation,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        leader: leader.clone(),
        member_id: member_id.to_string(),
        members: if leader == member_id {
            g.members
                .values()
                .map(|m| {
                    let md =
                        m.protocols.iter().find(|(n, _)| *n == protocol).map(|(_, d)| d.clone()).unwrap_or_default();
                    (m.id.clone(), m.instance_id.clone(), md)
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}
