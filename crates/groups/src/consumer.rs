//! KIP-848 consumer groups: the coordinator computes the assignment (uniform or range) and each member
//! converges to it through heartbeats. A member first releases partitions it must give up (keeping its
//! epoch), then receives the new epoch and the partitions nobody else still holds; partitions still held by
//! another member are handed over on a later heartbeat, once released. State is in memory and stored in the
//! metastore on every change (`persist`); offsets are in the metastore.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

pub use crate::topic_regex::TopicRegex;

/// A partition, as the consumer protocol names it.
pub type Tp = (Uuid, i32);

/// A subscribed topic resolved against metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    Uniform,
    Range,
}

impl Assignor {
    pub fn parse(name: Option<&str>) -> Option<Assignor> {
        match name {
            None | Some("uniform") => Some(Assignor::Uniform),
            Some("range") => Some(Assignor::Range),
            Some(_) => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }
}

#[derive(Debug)]
pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub epoch: i32,
    /// The epoch before the last bump: a heartbeat with it is accepted if the member owns no more than it
    /// was assigned (its previous answer was lost), as in Kafka.
    pub previous_epoch: i32,
    pub subscribed: Vec<String>,
    pub regex: Option<TopicRegex>,
    /// The topics the regex matched at the member's last heartbeat among those its principal may DESCRIBE
    /// (Kafka 4 filters regex subscriptions by authorization): what the regex subscribes it to.
    pub regex_topics: BTreeSet<String>,
    /// What the member was last told it owns.
    pub assigned: BTreeSet<Tp>,
    pub last_heartbeat: Instant,
}

#[derive(Debug, Default)]
pub struct ConsumerGroup {
    pub epoch: i32,
    pub assignor: Option<Assignor>,
    pub members: BTreeMap<String, ConsumerMember>,
    pub target: BTreeMap<String, BTreeSet<Tp>>,
    /// The topic universe of the last target computation (reused when members expire).
    pub topics: Vec<TopicInfo>,
    /// The group's `consumer.session.timeout.ms` as of its last heartbeat (not stored: a group loaded by
    /// another coordinator takes the default until its first heartbeat there).
    pub session_timeout: Option<Duration>,
    pub persisted: crate::persist::Persisted,
}

/// What a heartbeat answers: the member's epoch and, when it changed, its assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub member_id: String,
    pub epoch: i32,
    pub assignment: Option<BTreeSet<Tp>>,
}

/// Computes every member's target partitions. `topics` holds every topic any member subscribes to.
pub fn assign(
    assignor: Assignor,
    members: &BTreeMap<String, ConsumerMember>,
    topics: &[TopicInfo],
) -> BTreeMap<String, BTreeSet<Tp>> {
    let mut out: BTreeMap<String, BTreeSet<Tp>> = members.keys().map(|m| (m.clone(), BTreeSet::new())).collect();
    let subscribers = |t: &TopicInfo| -> Vec<&String> {
        members.values().filter(|m| subscribes(m, &t.name)).map(|m| &m.id).collect()
    };
    match assignor {
        Assignor::Range => {
            for t in topics {
                let subs = subscribers(t);
                if subs.is_empty() {
                    continue;
                }
                let n = subs.len() as i32;
                let (per, extra) = (t.partitions / n, t.partitions % n);
                let mut next = 0;
                for (i, m) in subs.iter().enumerate() {
                    let take = per + i32::from((i as i32) < extra);
                    for p in next..next + take {
                        out.entry((*m).clone()).or_default().insert((t.id, p));
                    }
                    next += take;
                }
            }
        }
        Assignor::Uniform => {
            // Round-robin over all partitions in a stable order, each to the least-loaded subscriber.
            for t in topics {
                let subs = subscribers(t);
                for p in 0..t.partitions {
                    if let Some(m) = subs.iter().min_by_key(|m| (out.get(**m).map_or(0, BTreeSet::len), **m)) {
                        out.entry((*m).clone()).or_default().insert((t.id, p));
                    }
                }
            }
        }
    }
    out
}

/// Whether a member subscribes to a topic by name or through its regex (as last resolved; no regex runs here).
pub fn subscribes(m: &ConsumerMember, topic: &str) -> bool {
    m.subscribed.iter().any(|s| s == topic) || m.regex_topics.contains(topic)
}

impl ConsumerMember {
    /// Resolves the member's regex against `topics`, keeping those `may_describe` allows (the member's
    /// principal's DESCRIBE), as Kafka 4 does; a member without a regex subscribes to nothing through one.
    pub fn resolve_regex(&mut self, topics: &[TopicInfo], may_describe: &dyn Fn(&str) -> bool) {
        self.regex_topics = match &self.regex {
            None => BTreeSet::new(),
            Some(re) => topics
                .iter()
                .filter(|t| re.is_match(&t.name) && may_describe(&t.name))
                .map(|t| t.name.clone())
                .collect(),
        };
    }
}

impl ConsumerGroup {
    /// Sets a new target if it differs from the current one, bumping the group epoch.
    pub fn retarget(&mut self, target: BTreeMap<String, BTreeSet<Tp>>) {
        if target != self.target {
            self.epoch += 1;
            self.target = target;
        }
    }

    /// Moves a member one step toward its target and returns the heartbeat answer. `owned` is what the
    /// member reports holding (None: unchanged since its last heartbeat).
    pub fn reconcile(&mut self, member_id: &str, owned: Option<BTreeSet<Tp>>) -> Option<Beat> {
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        let held_by_others: BTreeSet<Tp> =
            self.members.values().filter(|o| o.id != member_id).flat_map(|o| o.assigned.iter().copied()).collect();
        let epoch = self.epoch;
        let m = self.members.get_mut(member_id)?;
        let owned = owned.unwrap_or_else(|| m.assigned.clone());
        let before = m.assigned.clone();
        let before_epoch = m.epoch;
        let revoke: BTreeSet<Tp> = m.assigned.difference(&target).copied().collect();
        if !revoke.is_empty() && owned.intersection(&revoke).next().is_some() {
            // First the member gives up what it must release; it keeps its epoch until it has.
            m.assigned = m.assigned.intersection(&target).copied().collect();
        } else {
            if m.epoch != epoch {
                m.previous_epoch = m.epoch;
            }
            m.epoch = epoch;
            m.assigned = target.iter().filter(|tp| !held_by_others.contains(tp)).copied().collect();
        }
        let changed = m.assigned != before || m.assigned != owned || m.epoch != before_epoch;
        Some(Beat { member_id: m.id.clone(), epoch: m.epoch, assignment: changed.then(|| m.assigned.clone()) })
    }

    /// Removes members silent for longer than `session`; returns whether any was removed.
    pub fn expire(&mut self, now: Instant, session: Duration) -> bool {
        let before = self.members.len();
        self.members.retain(|_, m| now.duration_since(m.last_heartbeat) <= session);
        before != self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> ConsumerMember {
        ConsumerMember {
            id: id.into(),
            instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            epoch: 0,
            previous_epoch: 0,
            subscribed: topics.iter().map(|t| t.to_string()).collect(),
            regex: None,
            regex_topics: BTreeSet::new(),
            assigned: BTreeSet::new(),
            last_heartbeat: Instant::now(),
        }
    }

    #[test]
    fn assignors_cover_every_partition_once() {
        let t = TopicInfo { name: "t".into(), id: Uuid::from_u128(1), partitions: 5 };
        let mut members = BTreeMap::new();
        members.insert("a".to_string(), member("a", &["t"]));
        members.insert("b".to_string(), member("b", &["t"]));
        for assignor in [Assignor::Uniform, Assignor::Range] {
            let target = assign(assignor, &members, std::slice::from_ref(&t));
            let all: Vec<Tp> = target.values().flatten().copied().collect();
            assert_eq!(all.len(), 5, "{assignor:?}");
            assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 5);
            assert!(target.values().all(|s| s.len() >= 2));
        }
        let range = assign(Assignor::Range, &members, std::slice::from_ref(&t));
        assert_eq!(range["a"], (0..3).map(|p| (t.id, p)).collect());
    }

    #[test]
    fn a_partition_moves_only_after_its_owner_releases_it() {
        let t = TopicInfo { name: "t".into(), id: Uuid::from_u128(1), partitions: 2 };
        let mut g = ConsumerGroup::default();
        g.members.insert("a".into(), member("a", &["t"]));
        g.retarget(assign(Assignor::Range, &g.members, std::slice::from_ref(&t)));
        let beat = g.reconcile("a", Some(BTreeSet::new())).unwrap();
        assert_eq!(beat.assignment.map(|a| a.len()), Some(2));
        g.members.insert("b".into(), member("b", &["t"]));
        g.retarget(assign(Assignor::Range, &g.members, std::slice::from_ref(&t)));
        // b gets its epoch but not partition 1, which a still holds.
        let b = g.reconcile("b", Some(BTreeSet::new())).unwrap();
        assert_eq!((b.epoch, b.assignment), (g.epoch, Some(BTreeSet::new())));
        // a is told to release partition 1 and keeps its old epoch until it has.
        let a = g.reconcile("a", None).unwrap();
        assert!(a.epoch < g.epoch);
        assert_eq!(a.assignment, Some([(t.id, 0)].into()));
        let a = g.reconcile("a", Some([(t.id, 0)].into())).unwrap();
        assert_eq!((a.epoch, a.assignment), (g.epoch, Some([(t.id, 0)].into())), "new epoch, same partitions");
        let a = g.reconcile("a", Some([(t.id, 0)].into())).unwrap();
        assert_eq!(a.assignment, None, "nothing changed");
        let b = g.reconcile("b", Some(BTreeSet::new())).unwrap();
        assert_eq!(b.assignment, Some([(t.id, 1)].into()));
    }
}
