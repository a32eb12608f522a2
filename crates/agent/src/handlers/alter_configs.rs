//! AlterConfigs and IncrementalAlterConfigs: topic configs, group configs (`group_configs`), and cluster-wide
//! broker defaults (the broker resource with an empty name, Kafka's `--entity-default`). Values are
//! validated like Kafka's (a bad one is INVALID_CONFIG naming the key), stored in the metastore, and take effect without a restart: this agent's
//! caches are updated at once, other agents see the change within the topic cache's lifetime. A change needs
//! ALTER_CONFIGS on the topic or group, or on the cluster for a broker resource.

use super::configs::{RESOURCE_BROKER, RESOURCE_GROUP, RESOURCE_TOPIC, config_resource_denied};
use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    alter_configs_response, incremental_alter_configs_response,
};
use std::collections::{BTreeMap, HashSet};
use weft_topics::config::{self as topic_config, ConfigError, ConfigType};

/// One requested change to a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Set(String),
    Delete,
    Append(String),
    Subtract(String),
}

/// A refused change: the Kafka code and the message naming what was refused.
pub(super) type Refusal = (i16, String);

pub async fn alter(
    agent: &Agent,
    ctx: &RequestContext,
    req: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let names: Vec<(i8, String)> =
        req.resources.iter().map(|r| (r.resource_type, r.resource_name.to_string())).collect();
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let changes: Result<Vec<(String, Op)>, Refusal> = r
            .configs
            .iter()
            .map(|c| match &c.value {
                Some(v) => Ok((c.name.to_string(), Op::Set(v.to_string()))),
                None => Err((
                    ResponseError::InvalidRequest.code(),
                    format!("null value not supported for {}", c.name.as_str()),
                )),
            })
            .collect();
        let (code, message) =
            match config_resource_denied(ctx, Operation::AlterConfigs, r.resource_type, &r.resource_name) {
                Some(code) => (code, None),
                None => {
                    resolve(agent, &names, r.resource_type, &r.resource_name, changes, true, req.validate_only).await
                }
            };
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental(
    agent: &Agent,
    ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let names: Vec<(i8, String)> =
        req.resources.iter().map(|r| (r.resource_type, r.resource_name.to_string())).collect();
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let changes: Result<Vec<(String, Op)>, Refusal> = r
            .configs
            .iter()
            .map(|c| {
                let value = c.value.as_ref().map(|v| v.to_string());
                let name = c.name.to_string();
                let op = match (c.config_operation, value) {
                    (1, _) => Op::Delete,
                    (0, Some(v)) => Op::Set(v),
                    (2, Some(v)) => Op::Append(v),
                    (3, Some(v)) => Op::Subtract(v),
                    (0 | 2 | 3, None) => {
                        return Err((
                            ResponseError::InvalidRequest.code(),
                            format!("null value not supported for {name}"),
                        ));
                    }
                    (other, _) => {
                        return Err((
                            ResponseError::InvalidRequest.code(),
                            format!("unknown config operation {other}"),
                        ));
                    }
                };
                Ok((name, op))
            })
            .collect();
        let (code, message) =
            match config_resource_denied(ctx, Operation::AlterConfigs, r.resource_type, &r.resource_name) {
                Some(code) => (code, None),
                None => {
                    resolve(agent, &names, r.resource_type, &r.resource_name, changes, false, req.validate_only).await
                }
            };
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Applies one resource's parsed changes (refusing resources named twice in the request) and returns the
/// error code and message for its response entry.
#[allow(clippy::too_many_arguments)]
async fn resolve(
    agent: &Agent,
    all: &[(i8, String)],
    resource_type: i8,
    name: &str,
    changes: Result<Vec<(String, Op)>, Refusal>,
    replace: bool,
    validate_only: bool,
) -> (i16, Option<kafka_protocol::protocol::StrBytes>) {
    let named = all.iter().filter(|(t, n)| *t == resource_type && n == name).count();
    let outcome = match changes {
        _ if named > 1 => Err((
            ResponseError::InvalidRequest.code(),
            format!("resource {name:?} appears more than once in the request"),
        )),
        Ok(changes) => apply(agent, resource_type, name, changes, replace, validate_only).await,
        Err(refusal) => Err(refusal),
    };
    match outcome {
        Ok(()) => (0, None),
        Err((code, message)) => (code, Some(str_bytes(message))),
    }
}

fn invalid(e: ConfigError) -> Refusal {
    (e.code(), e.to_string())
}

async fn apply(
    agent: &Agent,
    resource_type: i8,
    name: &str,
    changes: Vec<(String, Op)>,
    replace: bool,
    validate_only: bool,
) -> Result<(), Refusal> {
    let result = match resource_type {
        RESOURCE_TOPIC => apply_topic(agent, name, changes, replace, validate_only).await,
        // Agents are interchangeable and share one configuration, so a broker's dynamic config is the
        // cluster's: the empty name (Kafka's --entity-default) and any broker id both set the cluster default.
        // (Most clients cannot send the empty name: confluent-kafka-python, kafka-python and the rdkafka crate
        // insist on a broker id.)
        RESOURCE_BROKER if name.is_empty() || name.parse::<i32>().is_ok_and(|id| id >= 0) => {
            apply_cluster(agent, changes, replace, validate_only).await
        }
        RESOURCE_BROKER => Err((ResponseError::InvalidRequest.code(), format!("invalid broker id {name:?}"))),
        RESOURCE_GROUP => super::group_configs::apply(agent, name, changes, replace, validate_only).await,
        other => Err((ResponseError::InvalidRequest.code(), format!("resource type {other} is not supported"))),
    };
    if let Err((code, message)) = &result {
        tracing::warn!(resource = name, code, %message, "alter configs refused");
    }
    result
}

async fn apply_topic(
    agent: &Agent,
    name: &str,
    changes: Vec<(String, Op)>,
    replace: bool,
    validate_only: bool,
) -> Result<(), Refusal> {
    if name.is_empty() {
        return Err((ResponseError::InvalidRequest.code(), "topic name is empty".into()));
    }
    let storage_error = |e: weft_meta::MetaError| (e.code(), e.to_string());
    let topic = agent
        .meta
        .topic(name)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| (ResponseError::UnknownTopicOrPartition.code(), format!("topic '{name}' does not exist")))?;
    let cluster = agent.topics.cluster_defaults(agent.meta.as_ref()).await.map_err(storage_error)?;
    let mut configs = if replace { BTreeMap::new() } else { topic.configs.clone() };
    let mut timestamp_difference = None;
    for (key, op) in changes {
        if let Some(def) = topic_config::removed(&key) {
            let value = match &op {
                Op::Set(v) => Some(v.as_str()),
                Op::Delete | Op::Append(_) | Op::Subtract(_) => None,
            };
            topic_config::ignore_removed(name, def, value).map_err(invalid)?;
            if def.name == topic_config::TIMESTAMP_DIFFERENCE {
                timestamp_difference = value.map(str::to_string);
            }
            continue;
        }
        let def = topic_config::lookup(&key).ok_or_else(|| invalid(ConfigError::Unknown(key.clone())))?;
        let current = topic_config::effective(&configs, &cluster, &key).map(|(v, _)| v.to_string());
        edit(&mut configs, &key, def.kind, current, op)?;
    }
    if let Some(v) = timestamp_difference {
        topic_config::apply_timestamp_difference(name, &mut configs, &v);
    }
    topic_config::validate_all(&configs).map_err(invalid)?;
    if validate_only || configs == topic.configs {
        return Ok(());
    }
    let updated = agent.meta.set_topic_configs(name, configs).await.map_err(|e| match e {
        weft_meta::MetaError::UnknownTopic { .. } => {
            (ResponseError::UnknownTopicOrPartition.code(), format!("topic '{name}' does not exist"))
        }
        other => storage_error(other),
    })?;
    tracing::info!(topic = name, configs = ?updated.configs, "topic configs changed");
    agent.topics.insert(updated);
    Ok(())
}

async fn apply_cluster(
    agent: &Agent,
    changes: Vec<(String, Op)>,
    replace: bool,
    validate_only: bool,
) -> Result<(), Refusal> {
    let storage_error = |e: weft_meta::MetaError| (e.code(), e.to_string());
    let stored = agent.meta.cluster_configs().await.map_err(storage_error)?;
    let mut configs = if replace { BTreeMap::new() } else { stored.clone() };
    for (key, op) in changes {
        let def = topic_config::by_synonym(&key).ok_or_else(|| invalid(ConfigError::NotDynamic(key.clone())))?;
        let current = Some(configs.get(&key).cloned().unwrap_or_else(|| def.default.to_string()));
        edit(&mut configs, &key, def.kind, current, op)?;
    }
    topic_config::validate_cluster(&configs).map_err(invalid)?;
    if validate_only || configs == stored {
        return Ok(());
    }
    agent.meta.set_cluster_configs(configs.clone()).await.map_err(storage_error)?;
    tracing::info!(configs = ?configs, "cluster config defaults changed");
    agent.topics.set_cluster_defaults(configs);
    Ok(())
}

/// Applies one operation to a config set. `current` is the effective value before it (for list edits).
pub(super) fn edit(
    configs: &mut BTreeMap<String, String>,
    key: &str,
    kind: ConfigType,
    current: Option<String>,
    op: Op,
) -> Result<(), Refusal> {
    match op {
        Op::Set(v) => {
            configs.insert(key.to_string(), v);
        }
        Op::Delete => {
            configs.remove(key);
        }
        Op::Append(_) | Op::Subtract(_) if kind != ConfigType::List => {
            return Err((
                ResponseError::InvalidConfig.code(),
                format!("config {key} is not a list: append and subtract apply to lists only"),
            ));
        }
        Op::Append(v) => {
            let mut items = list_items(current.as_deref());
            for item in list_items(Some(&v)) {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            configs.insert(key.to_string(), items.join(","));
        }
        Op::Subtract(v) => {
            let remove: HashSet<String> = list_items(Some(&v)).into_iter().collect();
            let items: Vec<String> =
                list_items(current.as_deref()).into_iter().filter(|i| !remove.contains(i)).collect();
            configs.insert(key.to_string(), items.join(","));
        }
    }
    Ok(())
}

fn list_items(value: Option<&str>) -> Vec<String> {
    value.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_edits_append_and_subtract_without_duplicates() {
        let mut c = BTreeMap::new();
        edit(&mut c, "cleanup.policy", ConfigType::List, Some("delete".into()), Op::Append("compact,delete".into()))
            .unwrap();
        assert_eq!(c.get("cleanup.policy").map(String::as_str), Some("delete,compact"));
        edit(&mut c, "cleanup.policy", ConfigType::List, Some("delete,compact".into()), Op::Subtract("delete".into()))
            .unwrap();
        assert_eq!(c.get("cleanup.policy").map(String::as_str), Some("compact"));
        assert!(edit(&mut c, "retention.ms", ConfigType::Long, None, Op::Append("1".into())).is_err());
        edit(&mut c, "cleanup.policy", ConfigType::List, None, Op::Delete).unwrap();
        assert!(c.is_empty());
    }
}
