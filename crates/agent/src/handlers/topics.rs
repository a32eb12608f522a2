//! CreateTopics, DeleteTopics and CreatePartitions. Authorized as Kafka's controller does: CREATE on the
//! cluster or the topic (and DESCRIBE_CONFIGS to see the new topic's configs), DESCRIBE and DELETE on a
//! topic to delete it, ALTER on a topic to add partitions.

use super::configs::topic_config_entries;
use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check, may_create_topic, visible};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::*;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;
use weft_meta::NewTopic;
use weft_topics::TopicEntry;
use weft_topics::config as topic_config;

/// Upper bound on partitions per topic: each costs metastore rows and index lookups.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;
const MAX_TOPIC_NAME_LEN: usize = 249;

/// Kafka's topic name rules: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name cannot be {name:?}"));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(format!("topic name is {} characters, longer than {MAX_TOPIC_NAME_LEN}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "topic name {name:?} contains {c:?}; legal characters are ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

struct Refusal {
    code: i16,
    message: String,
}

fn refuse(e: ResponseError, message: impl Into<String>) -> Refusal {
    Refusal { code: e.code(), message: message.into() }
}

impl Agent {
    /// Creates a topic with the broker defaults (auto-creation); an existing topic is returned as is.
    pub async fn auto_create_topic(&self, name: &str) -> Result<Arc<TopicEntry>, i16> {
        let spec = NewTopic {
            name: name.to_string(),
            id: self.ids.uuid(),
            partitions: self.config.default_partitions,
            configs: BTreeMap::new(),
            created_ms: self.clock.now_ms(),
        };
        match self.meta.create_topic(spec).await {
            Ok(t) => {
                tracing::info!(topic = name, partitions = t.partitions, "auto-created topic");
                Ok(self.topics.insert(t))
            }
            Err(weft_meta::MetaError::TopicExists { .. }) => match self.topics.get(self.meta.as_ref(), name).await {
                Ok(Some(t)) => Ok(t),
                _ => Err(ResponseError::UnknownTopicOrPartition.code()),
            },
            Err(e) => {
                tracing::warn!(topic = name, error = %e, "auto-create failed");
                Err(e.code())
            }
        }
    }
}

fn check_new_topic(agent: &Agent, t: &CreatableTopic) -> Result<(i32, BTreeMap<String, String>), Refusal> {
    validate_topic_name(&t.name).map_err(|m| refuse(ResponseError::InvalidTopicException, m))?;
    let partitions = if !t.assignments.is_empty() {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err(refuse(ResponseError::InvalidRequest, "both partition assignments and counts were given"));
        }
        let view = agent.cluster.view();
        let known = |id: i32| id == agent.cluster.node_id() || view.member(id).is_some();
        if let Some(a) = t.assignments.iter().find(|a| a.broker_ids.iter().any(|b| !known(b.0))) {
            return Err(refuse(
                ResponseError::InvalidReplicaAssignment,
                format!("partition {} names an unknown broker", a.partition_index),
            ));
        }
        t.assignments.len() as i32
    } else if t.num_partitions == -1 {
        agent.config.default_partitions
    } else {
        t.num_partitions
    };
    if partitions <= 0 {
        return Err(refuse(
            ResponseError::InvalidPartitions,
            format!("number of partitions must be larger than 0, was {partitions}"),
        ));
    }
    if partitions > MAX_PARTITIONS_PER_TOPIC {
        return Err(refuse(
            ResponseError::InvalidPartitions,
            format!("{partitions} partitions exceed the limit of {MAX_PARTITIONS_PER_TOPIC}"),
        ));
    }
    // Object storage replicates data, so any replication factor is accepted and served as one replica.
    if t.replication_factor == 0 || t.replication_factor < -1 {
        return Err(refuse(
            ResponseError::InvalidReplicationFactor,
            format!("replication factor must be larger than 0, was {}", t.replication_factor),
        ));
    }
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        if let Some(v) = &c.value {
            configs.insert(c.name.to_string(), v.to_string());
        }
    }
    let invalid = |e: topic_config::ConfigError| Refusal { code: e.code(), message: e.to_string() };
    topic_config::drop_removed(&t.name, &mut configs).map_err(invalid)?;
    topic_config::validate_all(&configs).map_err(invalid)?;
    Ok((partitions, configs))
}

pub async fn create(
    agent: &Agent,
    ctx: &RequestContext,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> =
        req.topics.iter().filter(|t| !seen.insert(t.name.to_string())).map(|t| t.name.to_string()).collect();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut r = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        let outcome = if duplicates.contains(t.name.as_str()) {
            Err(refuse(ResponseError::InvalidRequest, format!("topic {} is listed more than once", t.name.as_str())))
        } else if let Err(denied) = may_create_topic(ctx, &t.name) {
            Err(Refusal { code: denied.code(), message: "authorization failed".into() })
        } else {
            create_one(agent, t, req.validate_only).await
        };
        match outcome {
            Ok((id, partitions, configs)) => {
                if version >= 7 {
                    r.topic_id = id;
                }
                // Whether the configs are shown is a probe, not a denial to audit (Kafka: logIfDenied=false).
                if version >= 5 && !visible(ctx, Operation::DescribeConfigs, Resource::Topic(&t.name)) {
                    r.topic_config_error_code = kafka_protocol::ResponseError::TopicAuthorizationFailed.code();
                } else if version >= 5 {
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                    r.configs = Some(
                        topic_config_entries(&configs, &agent.topics.current_cluster(), None)
                            .into_iter()
                            .map(|c| {
                                CreatableTopicConfigs::default()
                                    .with_name(c.name)
                                    .with_value(c.value)
                                    .with_read_only(c.read_only)
                                    .with_config_source(c.config_source)
                                    .with_is_sensitive(c.is_sensitive)
                            })
                            .collect(),
                    );
                }
            }
            Err(refusal) => {
                tracing::warn!(topic = %t.name.as_str(), code = refusal.code, reason = %refusal.message, "create topic refused");
                r.error_code = refusal.code;
                r.error_message = Some(str_bytes(refusal.message));
            }
        }
        results.push(r);
    }
    CreateTopicsResponse::default().with_topics(results)
}

async fn create_one(
    agent: &Agent,
    t: &CreatableTopic,
    validate_only: bool,
) -> Result<(Uuid, i32, BTreeMap<String, String>), Refusal> {
    let (partitions, configs) = check_new_topic(agent, t)?;
    let exists = |name: &str| refuse(ResponseError::TopicAlreadyExists, format!("topic '{name}' already exists"));
    if validate_only {
        return match agent.meta.topic(&t.name).await {
            Ok(Some(_)) => Err(exists(&t.name)),
            Ok(None) => Ok((Uuid::nil(), partitions, configs)),
            Err(e) => Err(Refusal { code: e.code(), message: "metastore unavailable".into() }),
        };
    }
    let spec = NewTopic {
        name: t.name.to_string(),
        id: agent.ids.uuid(),
        partitions,
        configs,
        created_ms: agent.clock.now_ms(),
    };
    match agent.meta.create_topic(spec).await {
        Ok(topic) => {
            tracing::info!(topic = %topic.name, partitions, "created topic");
            let entry = agent.topics.insert(topic);
            Ok((entry.topic.id, entry.topic.partitions, entry.topic.configs.clone()))
        }
        Err(weft_meta::MetaError::TopicExists { .. }) => Err(exists(&t.name)),
        Err(e) => Err(Refusal { code: e.code(), message: "metastore unavailable".into() }),
    }
}

pub async fn delete(
    agent: &Agent,
    ctx: &RequestContext,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; earlier versions send a list of names.
    let targets: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        req.topics.into_iter().map(|t| (t.name, t.topic_id)).collect()
    } else {
        req.topic_names.into_iter().map(|n| (Some(n), Uuid::nil())).collect()
    };
    let any_topic = visible(ctx, Operation::Delete, Resource::Cluster);
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let mut r = DeletableTopicResult::default().with_name(name.clone()).with_topic_id(id);
        let name = match name {
            Some(n) => Some(n.to_string()),
            None => match agent.meta.topic_by_id(id).await {
                Ok(t) => t.map(|t| t.name),
                Err(_) => None,
            },
        };
        let Some(name) = name else {
            r.error_code = ResponseError::UnknownTopicId.code();
            responses.push(r);
            continue;
        };
        // DELETE on the cluster, or DESCRIBE and DELETE on the topic, as Kafka's controller checks; a topic named
        // by id is not named back to a client that may not DESCRIBE it.
        let visible = if any_topic { Ok(()) } else { check(ctx, Operation::Describe, Resource::Topic(&name)) };
        let deletable = if any_topic {
            Ok(())
        } else {
            visible.and_then(|()| check(ctx, Operation::Delete, Resource::Topic(&name)))
        };
        if let Err(code) = deletable {
            if visible.is_err() && !id.is_nil() {
                r.name = None;
            }
            // As Kafka's controller: a topic the client may see but not delete is first looked up, and a
            // missing one is reported missing.
            let missing = visible.is_ok() && matches!(agent.meta.topic(&name).await, Ok(None));
            r.error_code = if missing { ResponseError::UnknownTopicOrPartition.code() } else { code };
            responses.push(r);
            continue;
        }
        match agent.meta.delete_topic(&name, agent.clock.now_ms()).await {
            Ok(t) => {
                tracing::info!(topic = %name, "deleted topic");
                agent.topics.remove(&name);
                agent.partitions.forget_topic(t.id);
                agent.share.partitions.forget_topic(t.id);
                r.name = Some(TopicName(str_bytes(name)));
                if version >= 6 {
                    r.topic_id = t.id;
                }
            }
            Err(e) => {
                tracing::warn!(topic = %name, error = %e, "delete topic refused");
                r.error_code = e.code();
                if version >= 5 {
                    r.error_message = Some(str_bytes(e.to_string()));
                }
            }
        }
        responses.push(r);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

pub async fn create_partitions(
    agent: &Agent,
    ctx: &RequestContext,
    req: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if let Err(code) = check(ctx, Operation::Alter, Resource::Topic(&t.name)) {
            r.error_code = code;
            r.error_message = Some(str_bytes("authorization failed"));
        } else if let Err(refusal) = grow(agent, t, req.validate_only).await {
            tracing::warn!(topic = %t.name.as_str(), reason = %refusal.message, "create partitions refused");
            r.error_code = refusal.code;
            r.error_message = Some(str_bytes(refusal.message));
        }
        results.push(r);
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn grow(agent: &Agent, t: &CreatePartitionsTopic, validate_only: bool) -> Result<(), Refusal> {
    let current = match agent.meta.topic(&t.name).await {
        Ok(Some(topic)) => topic.partitions,
        Ok(None) => {
            return Err(refuse(
                ResponseError::UnknownTopicOrPartition,
                format!("topic '{}' does not exist", t.name.as_str()),
            ));
        }
        Err(e) => return Err(Refusal { code: e.code(), message: "metastore unavailable".into() }),
    };
    if t.count == current {
        return Err(refuse(ResponseError::InvalidPartitions, format!("topic already has {current} partitions")));
    }
    if t.count < current {
        return Err(refuse(
            ResponseError::InvalidPartitions,
            format!("topic currently has {current} partitions, which is higher than the requested {}", t.count),
        ));
    }
    if t.count > MAX_PARTITIONS_PER_TOPIC {
        return Err(refuse(
            ResponseError::InvalidPartitions,
            format!("{} partitions exceed the limit of {MAX_PARTITIONS_PER_TOPIC}", t.count),
        ));
    }
    if let Some(assignments) = &t.assignments {
        if assignments.len() as i32 != t.count - current {
            return Err(refuse(
                ResponseError::InvalidReplicaAssignment,
                format!("{} assignments given for {} new partitions", assignments.len(), t.count - current),
            ));
        }
        let view = agent.cluster.view();
        let known = |id: i32| id == agent.cluster.node_id() || view.member(id).is_some();
        if assignments.iter().any(|a| a.broker_ids.iter().any(|b| !known(b.0))) {
            return Err(refuse(ResponseError::InvalidReplicaAssignment, "an assignment names an unknown broker"));
        }
    }
    if validate_only {
        return Ok(());
    }
    match agent.meta.add_partitions(&t.name, t.count).await {
        Ok(topic) => {
            tracing::info!(topic = %topic.name, partitions = topic.partitions, "added partitions");
            agent.topics.insert(topic);
            Ok(())
        }
        Err(e) => Err(Refusal { code: e.code(), message: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::validate_topic_name;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_EU-west").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name(".").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("bad/name").is_err());
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
        assert!(validate_topic_name(&"a".repeat(250)).is_err());
    }
}
