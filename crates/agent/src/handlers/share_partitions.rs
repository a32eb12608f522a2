//! What ShareFetch and ShareAcknowledge share: finding a requested share partition (its topic by id, READ on
//! the topic as Kafka's `KafkaApis` checks it, this agent being its share owner) and applying a partition's
//! acknowledgement batches (each all or nothing, stored before the answer).

use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, authorize, check};
use kafka_protocol::ResponseError;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;
use weft_groups::config::GroupSettings;
use weft_groups::share::MAX_MEMBER_ID_LEN;
use weft_meta::SharePartitionKey;
use weft_share::parse_batches;
use weft_topics::TopicEntry;

/// A partition of a topic, by topic id.
pub type Tp = (Uuid, i32);

/// One acknowledgement batch as the wire carries it: first, last, types.
pub type WireAck = (i64, i64, Vec<i8>);

/// A refused partition: the error, and its leader when it is elsewhere (-1 otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    pub code: i16,
    pub leader: i32,
}

impl Refused {
    fn code(code: i16) -> Self {
        Refused { code, leader: -1 }
    }
}

/// Resolves the requested partitions of one request (each topic looked up once).
pub struct Resolver<'a> {
    agent: &'a Agent,
    ctx: &'a RequestContext,
    brokers: Vec<weft_cluster::Member>,
    topics: BTreeMap<Uuid, Result<Arc<TopicEntry>, i16>>,
}

impl<'a> Resolver<'a> {
    pub fn new(agent: &'a Agent, ctx: &'a RequestContext) -> Self {
        // Every broker of the listener, whatever the client's zone: the share owner may be in another zone.
        let brokers = agent.cluster.view_on(&ctx.listener).brokers;
        Resolver { agent, ctx, brokers, topics: BTreeMap::new() }
    }

    /// The members clients of this listener see, for NodeEndpoints.
    pub fn brokers(&self) -> &[weft_cluster::Member] {
        &self.brokers
    }

    /// The topic of `tp` if it exists, the client may READ it, the partition exists and this agent leads it.
    pub async fn resolve(&mut self, (topic_id, partition): Tp) -> Result<Arc<TopicEntry>, Refused> {
        if !self.topics.contains_key(&topic_id) {
            let found = match self.agent.topics.get_by_id(self.agent.meta.as_ref(), topic_id).await {
                Ok(Some(e)) => match check(self.ctx, Operation::Read, Resource::Topic(&e.topic.name)) {
                    Ok(()) => Ok(e),
                    Err(code) => Err(code),
                },
                Ok(None) => Err(ResponseError::UnknownTopicId.code()),
                Err(e) => Err(e.code()),
            };
            self.topics.insert(topic_id, found);
        }
        let entry = match self.topics.get(&topic_id) {
            Some(Ok(e)) => e.clone(),
            Some(Err(code)) => return Err(Refused::code(*code)),
            None => return Err(Refused::code(ResponseError::UnknownTopicId.code())),
        };
        if partition < 0 || partition >= entry.topic.partitions {
            return Err(Refused::code(ResponseError::UnknownTopicOrPartition.code()));
        }
        // One owner cluster-wide (not the zone-local Metadata leader), so two agents never serve one share
        // partition; a non-owner refuses and never takes the state over.
        let leader = self.agent.cluster.share_owner(topic_id, partition);
        if leader != self.agent.cluster.node_id() {
            return Err(Refused { code: ResponseError::NotLeaderOrFollower.code(), leader });
        }
        Ok(entry)
    }
}

/// The group and member a ShareFetch or ShareAcknowledge names, once checked (a member id of 1 to 36 bytes,
/// READ on the group), with the group's configs; or the top-level error code and message to answer.
pub async fn admit(
    agent: &Agent,
    ctx: &RequestContext,
    group: Option<&str>,
    member: Option<&str>,
) -> Result<(String, String, GroupSettings), (i16, String)> {
    let (group, member) = match (group, member) {
        (Some(g), Some(m)) if !g.is_empty() && !m.is_empty() && m.len() <= MAX_MEMBER_ID_LEN => {
            (g.to_string(), m.to_string())
        }
        _ => {
            let message = "GroupId and a MemberId of 1 to 36 bytes are required".to_string();
            return Err((ResponseError::InvalidRequest.code(), message));
        }
    };
    if let Err(denied) = authorize(ctx, Operation::Read, Resource::Group(&group)) {
        return Err((denied.code(), denied.to_string()));
    }
    match agent.group_configs.settings(&group).await {
        Ok(settings) => Ok((group, member, settings)),
        Err(e) => Err((e.code(), format!("group configs of {group} unavailable: {e}"))),
    }
}

/// The outcome of one partition's acknowledgements: 0 or Kafka's error code, with a message.
pub type AckOutcome = (i16, Option<String>);

/// Applies `acks` of `member` per partition; every partition named gets an outcome.
pub async fn acknowledge(
    agent: &Agent,
    resolver: &mut Resolver<'_>,
    group: &str,
    member: &str,
    settings: &GroupSettings,
    acks: &BTreeMap<Tp, Vec<WireAck>>,
) -> BTreeMap<Tp, (AckOutcome, Option<Refused>)> {
    let mut out = BTreeMap::new();
    let max_in_flight = crate::share::partitions::config_of(settings).max_in_flight;
    for (&tp, wire) in acks {
        if let Err(refused) = resolver.resolve(tp).await {
            out.insert(tp, ((refused.code, None), Some(refused)));
            continue;
        }
        let batches = match parse_batches(wire.iter().map(|(f, l, t)| (*f, *l, t.as_slice())), max_in_flight) {
            Ok(b) => b,
            Err(e) => {
                out.insert(tp, ((e.error_code(), Some(e.to_string())), None));
                continue;
            }
        };
        let key = SharePartitionKey { group: group.to_string(), topic_id: tp.0, partition: tp.1 };
        let outcome = match agent.share.partitions.acknowledge(agent, &key, settings, member, &batches).await {
            Ok(Ok(())) => (0, None),
            Ok(Err(e)) => (e.error_code(), Some(e.to_string())),
            Err(e) => {
                tracing::warn!(group, topic_id = %tp.0, partition = tp.1, error = %e, "share acknowledgement failed");
                (e.code(), Some(e.to_string()))
            }
        };
        out.insert(tp, (outcome, None));
    }
    out
}

/// NodeEndpoints for the leaders named in `refused` (empty unless some partition is led elsewhere).
pub fn leaders(brokers: &[weft_cluster::Member], refused: impl Iterator<Item = Refused>) -> Vec<&weft_cluster::Member> {
    let ids: std::collections::BTreeSet<i32> = refused.filter(|r| r.leader >= 0).map(|r| r.leader).collect();
    brokers.iter().filter(|m| ids.contains(&m.node_id)).collect()
}
