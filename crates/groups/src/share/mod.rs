//! The share-group coordinator (KIP-932 ShareGroupHeartbeat, ShareGroupDescribe, ListGroups and DeleteGroups
//! of share groups): membership, member and group epochs, assignment and session expiry, per group id.
//!
//! Membership lives in memory on the coordinating agent only. Kafka keeps it in its log so a new
//! coordinator knows the members; here a restarted or new coordinator answers UNKNOWN_MEMBER_ID and members
//! rejoin with epoch 0 and the same member id, which clients do at once. What must survive (which records
//! were delivered and acknowledged) is the share-partition state in the metastore, not membership.
//! Which agent coordinates a group is decided outside this crate (the coordinator shards).

mod group;
#[cfg(test)]
mod tests;

pub use group::TopicPartition;

use crate::consumer::TopicInfo;
use group::ShareGroup;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// One ShareGroupHeartbeat, with what the coordinator needs beside the request.
#[derive(Debug, Clone)]
pub struct ShareHeartbeat {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub rack: Option<String>,
    /// `None`: unchanged since the last heartbeat.
    pub subscribed: Option<Vec<String>>,
    pub client_id: String,
    pub client_host: String,
    /// The group's share.session.timeout.ms.
    pub session_timeout_ms: i64,
    pub now_ms: i64,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareBeat {
    pub member_id: String,
    pub epoch: i32,
    /// The member's whole assignment when it changed or the member (re)joined; `None`: unchanged.
    pub assignment: Option<BTreeSet<TopicPartition>>,
}

/// The longest member id accepted (Kafka's are UUID strings: 22 characters base64, 36 with hyphens). Member
/// ids are kept per member and per acquired run, so their length is bounded at the wire.
pub const MAX_MEMBER_ID_LEN: usize = 36;

/// A refused heartbeat, with Kafka's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareGroupError {
    #[error("invalid share group heartbeat: {reason}")]
    InvalidRequest { reason: String },
    #[error("member {member} is not a member of the share group")]
    UnknownMemberId { member: String },
    #[error("member {member} sent epoch {epoch} but its epoch is {current}")]
    FencedMemberEpoch { member: String, epoch: i32, current: i32 },
    #[error("share group {group} already has {max} members")]
    GroupMaxSizeReached { group: String, max: usize },
    #[error("too many share groups on this coordinator ({max})")]
    TooManyGroups { max: usize },
    #[error("share group {group} is not empty")]
    NonEmptyGroup { group: String },
}

impl ShareGroupError {
    pub fn code(&self) -> i16 {
        match self {
            ShareGroupError::InvalidRequest { .. } => 42,
            ShareGroupError::UnknownMemberId { .. } => 25,
            ShareGroupError::FencedMemberEpoch { .. } => 110,
            ShareGroupError::GroupMaxSizeReached { .. } => 81,
            // COORDINATOR_NOT_AVAILABLE: the client looks the coordinator up again and retries.
            ShareGroupError::TooManyGroups { .. } => 15,
            ShareGroupError::NonEmptyGroup { .. } => 68,
        }
    }
}

/// What ShareGroupDescribe shows of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareMemberSnapshot {
    pub member_id: String,
    pub epoch: i32,
    pub rack: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: Vec<String>,
    pub assigned: BTreeSet<TopicPartition>,
}

/// What ShareGroupDescribe shows of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupSnapshot {
    pub state: &'static str,
    pub epoch: i32,
    pub members: Vec<ShareMemberSnapshot>,
}

/// Bounds of the coordinator.
#[derive(Debug, Clone, Copy)]
pub struct ShareGroupLimits {
    /// group.share.max.size: members per group.
    pub max_members: usize,
    /// Share groups held in memory (those with members or known since the last restart).
    pub max_groups: usize,
}

impl Default for ShareGroupLimits {
    fn default() -> Self {
        ShareGroupLimits { max_members: 200, max_groups: 10_000 }
    }
}

/// The share groups this agent coordinates.
pub struct ShareGroups {
    groups: Mutex<BTreeMap<String, ShareGroup>>,
    limits: ShareGroupLimits,
}

impl ShareGroups {
    pub fn new(limits: ShareGroupLimits) -> Self {
        ShareGroups { groups: Mutex::new(BTreeMap::new()), limits }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ShareGroup>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a heartbeat (validated as Kafka does first); `topics` are the cluster's topics.
    pub fn heartbeat(&self, hb: ShareHeartbeat, topics: &[TopicInfo]) -> Result<ShareBeat, ShareGroupError> {
        validate(&hb)?;
        let mut groups = self.lock();
        if !groups.contains_key(&hb.group_id) {
            if hb.member_epoch == -1 {
                return Ok(ShareBeat { member_id: hb.member_id, epoch: -1, assignment: None });
            }
            if groups.len() >= self.limits.max_groups {
                evict_empty(&mut groups);
                if groups.len() >= self.limits.max_groups {
                    return Err(ShareGroupError::TooManyGroups { max: self.limits.max_groups });
                }
            }
        }
        let group = groups.entry(hb.group_id.clone()).or_default();
        if hb.member_epoch == 0
            && !group.members.contains_key(&hb.member_id)
            && group.members.len() >= self.limits.max_members
        {
            return Err(ShareGroupError::GroupMaxSizeReached { group: hb.group_id, max: self.limits.max_members });
        }
        group.heartbeat(&hb, topics)
    }

    /// Removes members whose session ended by `now_ms`; returns (group, member) of each.
    pub fn expire(&self, now_ms: i64) -> Vec<(String, String)> {
        let mut groups = self.lock();
        let mut out = Vec::new();
        for (id, g) in groups.iter_mut() {
            out.extend(g.expire(now_ms).into_iter().map(|m| (id.clone(), m)));
        }
        out
    }

    /// Whether `group` is a share group known here.
    pub fn contains(&self, group: &str) -> bool {
        self.lock().contains_key(group)
    }

    pub fn describe(&self, group: &str) -> Option<ShareGroupSnapshot> {
        let groups = self.lock();
        let g = groups.get(group)?;
        Some(ShareGroupSnapshot {
            state: g.state(),
            epoch: g.epoch,
            members: g
                .members
                .iter()
                .map(|(id, m)| ShareMemberSnapshot {
                    member_id: id.clone(),
                    epoch: m.epoch,
                    rack: m.rack.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed: m.subscribed.iter().cloned().collect(),
                    assigned: m.assigned.clone(),
                })
                .collect(),
        })
    }

    /// (group id, state) of every share group known here.
    pub fn list(&self) -> Vec<(String, &'static str)> {
        self.lock().iter().map(|(id, g)| (id.clone(), g.state())).collect()
    }

    /// Admits a change of the group's share-partition state (AlterShareGroupOffsets, DeleteShareGroupOffsets):
    /// refused while the group has members. `create`: an unknown group becomes a known empty share group, as
    /// Kafka creates it on AlterShareGroupOffsets; otherwise `Ok(false)` says it is not known here.
    pub fn admit_offset_change(&self, group: &str, create: bool) -> Result<bool, ShareGroupError> {
        let mut groups = self.lock();
        match groups.get(group) {
            Some(g) if !g.members.is_empty() => Err(ShareGroupError::NonEmptyGroup { group: group.to_string() }),
            Some(_) => Ok(true),
            None if !create => Ok(false),
            None => {
                if groups.len() >= self.limits.max_groups {
                    evict_empty(&mut groups);
                    if groups.len() >= self.limits.max_groups {
                        return Err(ShareGroupError::TooManyGroups { max: self.limits.max_groups });
                    }
                }
                groups.insert(group.to_string(), ShareGroup::default());
                Ok(true)
            }
        }
    }

    /// Forgets an empty group (DeleteGroups); refused while it has members. `Ok(false)`: not known here.
    pub fn delete(&self, group: &str) -> Result<bool, ShareGroupError> {
        let mut groups = self.lock();
        match groups.get(group) {
            None => Ok(false),
            Some(g) if !g.members.is_empty() => Err(ShareGroupError::NonEmptyGroup { group: group.to_string() }),
            Some(_) => Ok(groups.remove(group).is_some()),
        }
    }

    /// Drops the groups `moved` selects (their shard is coordinated elsewhere now); returns their members.
    pub fn evict(&self, moved: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let mut groups = self.lock();
        let gone: Vec<String> = groups.keys().filter(|g| moved(g)).cloned().collect();
        let mut out = Vec::new();
        for id in gone {
            if let Some(g) = groups.remove(&id) {
                out.extend(g.members.into_keys().map(|m| (id.clone(), m)));
            }
        }
        out
    }
}

/// Kafka's request checks (`throwIfShareGroupHeartbeatRequestIsInvalid`): INVALID_REQUEST for an empty group
/// or member id, an empty rack, an epoch below -1.
fn validate(hb: &ShareHeartbeat) -> Result<(), ShareGroupError> {
    let bad = |reason: &str| Err(ShareGroupError::InvalidRequest { reason: reason.to_string() });
    if hb.group_id.is_empty() {
        return bad("GroupId can't be empty");
    }
    if hb.member_id.is_empty() {
        return bad("MemberId can't be empty");
    }
    if hb.member_id.len() > MAX_MEMBER_ID_LEN {
        return bad("MemberId is longer than 36 bytes");
    }
    if hb.rack.as_deref() == Some("") {
        return bad("RackId can't be empty");
    }
    if hb.member_epoch < -1 {
        return bad("MemberEpoch is invalid");
    }
    Ok(())
}

/// Drops one group without members, making room for another.
fn evict_empty(groups: &mut BTreeMap<String, ShareGroup>) {
    if let Some(id) = groups.iter().find(|(_, g)| g.members.is_empty()).map(|(id, _)| id.clone()) {
        groups.remove(&id);
    }
}
