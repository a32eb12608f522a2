//! Metadata: brokers, cluster id, topics and partitions; auto-creates topics when allowed. A topic the
//! client may not DESCRIBE is left out of "all topics" and answered TOPIC_AUTHORIZATION_FAILED when named.
//!
//! Brokers are the live agents with the `kafka` role (rack = zone); a client naming `weft_az=<zone>` in its
//! client.id is given only its zone's agents when any are live. Each partition's leader is chosen among the
//! brokers given by rendezvous hashing, so clients spread over the agents. Replicas and ISR are the leader
//! alone: any agent serves any partition, so there is no follower to list, and a replica list of one keeps
//! the replication factor clients and tools derive (1) equal to the one Weft reports elsewhere.

use super::authorized_operations::{self, OMITTED as AUTHORIZED_OPERATIONS_OMITTED};
use super::str_bytes;
use super::topics::validate_topic_name;
use crate::Agent;
use crate::error::KafkaCode;
use crate::membership::Cluster;
use crate::request::{Operation, RequestContext, Resource, check, may_create_topic, visible};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use std::sync::Arc;
use uuid::Uuid;
use weft_cluster::Member;
use weft_log::LEADER_EPOCH;
use weft_topics::TopicEntry;

pub async fn handle(agent: &Agent, ctx: &RequestContext, req: MetadataRequest, version: i16) -> MetadataResponse {
    let view = agent.cluster.view_on(&ctx.listener);
    let brokers = Cluster::brokers_for(&view, weft_cluster::zone::client_zone(&ctx.client_id));
    let brokers = if brokers.is_empty() { myself(agent, &ctx.listener).into_iter().collect() } else { brokers };
    let answer = Answer { agent, ctx, brokers: &brokers };
    // Before v4 there is no flag and brokers always auto-created.
    let allow_create = version < 4 || req.allow_auto_topic_creation;
    // KIP-430: the cluster's operations in v8-10 (later versions moved them to DescribeCluster), the topics' v8+.
    let cluster_ops = (8..=10).contains(&version) && req.include_cluster_authorized_operations;
    let topic_ops = version >= 8 && req.include_topic_authorized_operations;
    // In v0 an empty list means every topic; from v1 that is expressed by null.
    let requested = req.topics.filter(|t| version > 0 || !t.is_empty());
    let topics = match requested {
        None => match agent.meta.list_topics().await {
            Ok(all) => all
                .into_iter()
                .filter(|t| visible(ctx, Operation::Describe, Resource::Topic(&t.name)))
                .map(|t| answer.topic(&agent.topics.insert(t)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "metadata: listing topics failed");
                Vec::new()
            }
        },
        Some(requested) => {
            let mut out = Vec::with_capacity(requested.len());
            for t in requested {
                out.push(match t.name {
                    Some(name) => answer.by_name(&name, allow_create).await,
                    None => answer.by_id(t.topic_id).await,
                });
            }
            out
        }
    };
    // Fields a version does not carry must stay at their defaults, or encoding fails.
    let mut resp = MetadataResponse::default()
        .with_brokers(brokers.iter().map(broker_response).collect())
        .with_topics(topics)
        .with_cluster_authorized_operations(authorized_operations::of_cluster_if_asked(ctx, cluster_ops));
    if topic_ops {
        // As Kafka: every topic of the answer that has a name, but those refused (they keep INT32_MIN).
        for t in resp.topics.iter_mut().filter(|t| t.error_code != ResponseError::TopicAuthorizationFailed.code()) {
            if let Some(name) = &t.name {
                t.topic_authorized_operations = authorized_operations::of(ctx, Resource::Topic(name));
            }
        }
    }
    if version >= 1 {
        // Any agent serves admin requests; the lowest id given is the one clients are told of.
        resp.controller_id = BrokerId(brokers.iter().map(|b| b.node_id).min().unwrap_or(agent.cluster.node_id()));
    }
    if version >= 2 {
        resp.cluster_id = Some(str_bytes(agent.cluster_id.clone()));
    }
    if version < 10 {
        resp.topics.iter_mut().for_each(|t| t.topic_id = Uuid::nil());
    }
    if version < 7 {
        resp.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()).for_each(|p| p.leader_epoch = -1);
    }
    resp
}

fn error_topic(name: Option<TopicName>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name)
        .with_topic_id(id)
        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
}

/// One Metadata answer: the brokers it gives and the leaders among them.
struct Answer<'a> {
    agent: &'a Agent,
    ctx: &'a RequestContext,
    brokers: &'a [Member],
}

impl Answer<'_> {
    async fn by_name(&self, name: &TopicName, allow_create: bool) -> MetadataResponseTopic {
        let (agent, ctx) = (self.agent, self.ctx);
        // Kafka checks DESCRIBE before looking: an unauthorized client learns nothing about the topic.
        if let Err(code) = check(ctx, Operation::Describe, Resource::Topic(name)) {
            return error_topic(Some(name.clone()), Uuid::nil(), code);
        }
        if validate_topic_name(name).is_err() {
            return error_topic(Some(name.clone()), Uuid::nil(), ResponseError::InvalidTopicException.code());
        }
        let found = match agent.topics.get(agent.meta.as_ref(), name).await {
            Ok(Some(t)) => Ok(t),
            Ok(None) if allow_create && agent.config.auto_create_topics => match may_create_topic(ctx, name) {
                Ok(()) => agent.auto_create_topic(name).await,
                Err(denied) => Err(denied.code()),
            },
            Ok(None) => Err(ResponseError::UnknownTopicOrPartition.code()),
            Err(e) => {
                tracing::warn!(topic = %name.as_str(), error = %e, "metadata: topic lookup failed");
                Err(e.code())
            }
        };
        match found {
            Ok(t) => self.topic(&t),
            Err(code) => error_topic(Some(name.clone()), Uuid::nil(), code),
        }
    }

    async fn by_id(&self, id: Uuid) -> MetadataResponseTopic {
        let (agent, ctx) = (self.agent, self.ctx);
        match agent.topics.get_by_id(agent.meta.as_ref(), id).await {
            // Kafka does not hide topic ids: an unauthorized one is answered with its id and no name.
            Ok(Some(t)) => match check(ctx, Operation::Describe, Resource::Topic(&t.topic.name)) {
                Ok(()) => self.topic(&t),
                Err(code) => error_topic(None, id, code),
            },
            Ok(None) => error_topic(None, id, ResponseError::UnknownTopicId.code()),
            Err(e) => {
                tracing::warn!(topic_id = %id, error = %e, "metadata: topic lookup failed");
                error_topic(None, id, e.code())
            }
        }
    }

    fn topic(&self, t: &Arc<TopicEntry>) -> MetadataResponseTopic {
        let partitions = (0..t.topic.partitions)
            .map(|p| {
                let leader = BrokerId(self.agent.cluster.leader(self.brokers, t.topic.id, p));
                MetadataResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(leader)
                    .with_leader_epoch(LEADER_EPOCH)
                    .with_replica_nodes(vec![leader])
                    .with_isr_nodes(vec![leader])
            })
            .collect();
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(str_bytes(t.topic.name.clone()))))
            .with_topic_id(t.topic.id)
            .with_partitions(partitions)
            .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
    }
}

/// This agent as a broker on `listener` (when the registry gave no broker at all).
fn myself(agent: &Agent, listener: &str) -> Option<Member> {
    let endpoint = agent.advertised_on(listener)?;
    Some(Member {
        node_id: agent.cluster.node_id(),
        host: endpoint.host.clone(),
        port: endpoint.port,
        zone: agent.config.zone.clone().unwrap_or_default(),
        endpoints: agent.advertised.clone(),
        peer_endpoint: None,
    })
}

fn broker_response(m: &Member) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(BrokerId(m.node_id))
        .with_host(str_bytes(m.host.clone()))
        .with_port(m.port)
        .with_rack((!m.zone.is_empty()).then(|| str_bytes(m.zone.clone())))
}
