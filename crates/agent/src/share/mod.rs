//! Share groups on this agent (KIP-932): the share-group coordinator (`weft_groups::share`, for the groups
//! whose shard this agent holds), the share partitions it leads (`partitions`) and the share sessions of
//! the members fetching from it (`sessions`), the initial state of partitions as they are assigned (`init`),
//! plus the timer that expires members, idle sessions and acquisition locks. The wire handlers are in `handlers::{share_group, share_fetch}`.

pub mod init;
pub mod isolation;
pub mod partitions;
pub mod sessions;

use crate::Agent;
use partitions::SharePartitions;
use sessions::{Partitions, ShareSessions};
use std::sync::Arc;
use std::time::Duration;
use weft_groups::share::{ShareGroupLimits, ShareGroups};
use weft_meta::SharePartitionKey;

/// Share partitions loaded at once on one agent.
const MAX_LOADED_PARTITIONS: usize = 10_000;
/// Share sessions on one agent (Kafka's group.share.max.share.sessions is 2000 per broker).
const MAX_SESSIONS: usize = 2_000;
/// A session not used for this long is dropped (its client is gone: librdkafka fetches at least every
/// `fetch.wait.max.ms`); the records its member holds keep their locks until their own deadlines.
const SESSION_IDLE_MS: i64 = 60_000;
/// How often members, sessions and locks are checked for expiry.
const TICK: Duration = Duration::from_millis(250);
/// Every this many ticks, partitions of topics deleted through another agent are unloaded.
const TOPIC_SWEEP_TICKS: u64 = 40;

/// The share-group services of one agent.
pub struct Share {
    pub groups: ShareGroups,
    pub partitions: SharePartitions,
    pub sessions: ShareSessions,
}

impl Share {
    pub fn new() -> Self {
        Share {
            groups: ShareGroups::new(ShareGroupLimits::default()),
            partitions: SharePartitions::new(MAX_LOADED_PARTITIONS),
            sessions: ShareSessions::new(MAX_SESSIONS),
        }
    }
}

/// Releases what `member` of `group` holds in `partitions` (its session closed or ended, or it left).
pub async fn release(agent: &Agent, group: &str, member: &str, partitions: &Partitions) {
    for (topic_id, partition) in partitions {
        let key = SharePartitionKey { group: group.to_string(), topic_id: *topic_id, partition: *partition };
        if let Err(e) = agent.share.partitions.release(agent, &key, member).await {
            tracing::warn!(group, member, %topic_id, partition, error = %e, "share partition: releasing a member's records failed");
        }
    }
}

/// Ends `member`'s share session here, if any, releasing its records (it left or was removed).
pub async fn end_member(agent: &Agent, group: &str, member: &str) {
    if let Ok(partitions) = agent.share.sessions.close(&(group.to_string(), member.to_string())) {
        release(agent, group, member, &partitions).await;
    }
}

/// Unloads the share partitions of topics that no longer exist (deleted through any agent).
async fn unload_deleted_topics(agent: &Agent) {
    for topic_id in agent.share.partitions.topics() {
        if let Ok(None) = agent.topics.get_by_id(agent.meta.as_ref(), topic_id).await {
            let n = agent.share.partitions.forget_topic(topic_id);
            tracing::debug!(%topic_id, partitions = n, "share partitions of a deleted topic unloaded");
        }
    }
}

/// Runs the expiry of members, sessions and acquisition locks until the agent stops: members and sessions
/// in one loop, locks (and unloading partitions owned elsewhere) in another, so a partition busy with a slow
/// fetch never holds up member expiry, nor the reverse.
pub async fn run_timer(agent: Arc<Agent>) {
    tokio::join!(expire_members(&agent), expire_locks(&agent));
}

async fn expire_members(agent: &Agent) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 0u64.. {
        interval.tick().await;
        if tick % TOPIC_SWEEP_TICKS == 0 {
            unload_deleted_topics(agent).await;
        }
        let now = agent.clock.now_ms();
        // Groups whose shard moved to another agent: their members rejoin there. A lease this agent still
        // owns but holds not at this instant (COORDINATOR_LOAD_IN_PROGRESS) keeps its members.
        let elsewhere = Some(kafka_protocol::ResponseError::NotCoordinator.code());
        agent.share.groups.evict(|g| agent.cluster.refusal(g) == elsewhere);
        for (group, member) in agent.share.groups.expire(now) {
            tracing::debug!(group, member, "share group member expired");
            end_member(agent, &group, &member).await;
        }
        // An idle session is only forgotten: its member's records stay locked until their own deadlines
        // (share.record.lock.duration.ms), as a consumer may process a poll for longer than the idle limit.
        let idle = agent.share.sessions.expire_idle(now, SESSION_IDLE_MS);
        if !idle.is_empty() {
            tracing::debug!(sessions = idle.len(), "idle share sessions dropped");
        }
        metrics::gauge!("weft_share_sessions").set(agent.share.sessions.len() as f64);
    }
}

async fn expire_locks(agent: &Agent) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let me = agent.cluster.node_id();
        let dropped = agent.share.partitions.drop_unowned(|k| agent.cluster.share_owner(k.topic_id, k.partition) == me);
        if dropped > 0 {
            tracing::info!(dropped, "share partitions now owned by another agent were unloaded");
        }
        agent.share.partitions.expire_locks(agent).await;
        metrics::gauge!("weft_share_partitions_loaded").set(agent.share.partitions.loaded() as f64);
    }
}
