//! DescribeConfigs for topics, brokers and groups (`group_configs`), with Kafka's defaults, sources, types,
//! synonyms and docs. A topic's configs need DESCRIBE_CONFIGS on the topic, a group's on the group, a
//! broker's, its loggers' and client metrics' on the cluster (the types Weft does not serve are authorized
//! first, then refused).

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use std::collections::BTreeMap;
use weft_topics::config::{self as topic_config, ConfigType, TOPIC_CONFIGS, source};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
/// Kafka's other config resource types (`ConfigResource.Type`), which Weft authorizes as Kafka does before
/// refusing them as unsupported.
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
pub const RESOURCE_GROUP: i8 = 32;

/// The authorization error for `operation` (DESCRIBE_CONFIGS, ALTER_CONFIGS) on a config resource, as Kafka's
/// `KafkaApis` / `ControllerApis` check it: a topic or a group on itself (TOPIC_ / GROUP_AUTHORIZATION_FAILED);
/// a broker, a broker's loggers and client metrics on the cluster (CLUSTER_AUTHORIZATION_FAILED). Unknown
/// resource types are refused later, as unsupported.
pub fn config_resource_denied(
    ctx: &RequestContext,
    operation: Operation,
    resource_type: i8,
    name: &str,
) -> Option<i16> {
    match resource_type {
        RESOURCE_TOPIC => check(ctx, operation, Resource::Topic(name)).err(),
        RESOURCE_GROUP => check(ctx, operation, Resource::Group(name)).err(),
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER | RESOURCE_CLIENT_METRICS => {
            check(ctx, operation, Resource::Cluster).err()
        }
        _ => None,
    }
}

/// All topic configs for a topic with explicit `configs`, each with its effective value and source; with
/// synonyms, the chain Kafka reports: the topic's value, the cluster-wide dynamic default, Kafka's default.
pub fn topic_config_entries(
    configs: &BTreeMap<String, String>,
    cluster: &BTreeMap<String, String>,
    include_synonyms: Option<bool>,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let (value, src) =
                topic_config::effective(configs, cluster, d.name).unwrap_or((d.default, source::DEFAULT));
            let mut synonyms = Vec::new();
            if include_synonyms == Some(true) {
                if let Some(v) = configs.get(d.name) {
                    synonyms.push(synonym(d.name, v, source::TOPIC));
                }
                if let Some(v) = cluster.get(d.synonym) {
                    synonyms.push(synonym(d.synonym, v, source::DYNAMIC_DEFAULT_BROKER));
                }
                synonyms.push(synonym(d.synonym, d.default, source::DEFAULT));
            }
            DescribeConfigsResourceResult::default()
                .with_name(str_bytes(d.name))
                .with_value(Some(str_bytes(value)))
                .with_read_only(false)
                .with_config_source(src)
                .with_is_sensitive(false)
                .with_synonyms(synonyms)
                .with_config_type(d.kind as i8)
                .with_documentation(Some(str_bytes(d.doc)))
        })
        .collect()
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default().with_name(str_bytes(name)).with_value(Some(str_bytes(value))).with_source(source)
}

/// A broker config line: name, value, source (dynamic cluster default, static, or Kafka's default), type, doc.
fn broker_entries(
    agent: &Agent,
    cluster: &BTreeMap<String, String>,
) -> Vec<(String, String, i8, ConfigType, &'static str)> {
    let c = &agent.config;
    let advertised = endpoints(agent.advertised.iter().map(|e| (e.listener.as_str(), e.host.as_str(), e.port)));
    let specs = c.kafka_listeners().unwrap_or_default();
    let listeners = endpoints(specs.iter().map(|s| (s.name.as_str(), s.host.as_str(), i32::from(s.port))));
    let protocols: Vec<String> = specs.iter().map(|s| format!("{}:{}", s.name, s.protocol)).collect();
    let id = agent.cluster.node_id().to_string();
    let mut out: Vec<(String, String, i8, ConfigType, &'static str)> = vec![
        ("node.id".into(), id.clone(), source::STATIC_BROKER, ConfigType::Int, "This agent's broker id."),
        ("broker.id".into(), id, source::STATIC_BROKER, ConfigType::Int, "This agent's broker id."),
        ("listeners".into(), listeners, source::STATIC_BROKER, ConfigType::List, "Kafka listeners."),
        (
            "listener.security.protocol.map".into(),
            protocols.join(","),
            source::STATIC_BROKER,
            ConfigType::List,
            "Security protocol of each listener.",
        ),
        (
            "advertised.listeners".into(),
            advertised,
            source::STATIC_BROKER,
            ConfigType::List,
            "Listener given to clients.",
        ),
        (
            "auto.create.topics.enable".into(),
            c.auto_create_topics.to_string(),
            src_if(!c.auto_create_topics),
            ConfigType::Boolean,
            "Create topics on first metadata request or produce.",
        ),
        (
            "num.partitions".into(),
            c.default_partitions.to_string(),
            src_if(c.default_partitions != 1),
            ConfigType::Int,
            "Partitions of auto-created topics.",
        ),
        (
            "default.replication.factor".into(),
            "1".into(),
            source::DEFAULT,
            ConfigType::Int,
            "Object storage replicates; one replica is reported.",
        ),
        (
            "message.max.bytes".into(),
            c.message_max_bytes.to_string(),
            src_if(c.message_max_bytes != 1_048_588),
            ConfigType::Int,
            "Largest record batch accepted.",
        ),
        (
            "socket.request.max.bytes".into(),
            c.max_frame_bytes.to_string(),
            src_if(c.max_frame_bytes != 104_857_600),
            ConfigType::Int,
            "Largest request accepted.",
        ),
        (
            "max.connections".into(),
            c.max_connections.to_string(),
            source::STATIC_BROKER,
            ConfigType::Int,
            "Open client connections allowed.",
        ),
        ("log.retention.hours".into(), "168".into(), source::DEFAULT, ConfigType::Int, "Default retention in hours."),
        (
            "weft.object.store".into(),
            agent.storage.url().to_string(),
            source::STATIC_BROKER,
            ConfigType::String,
            "Where segment objects are stored.",
        ),
        (
            "weft.flush.bytes".into(),
            c.flush_bytes.to_string(),
            source::STATIC_BROKER,
            ConfigType::Long,
            "Buffered bytes that trigger a segment flush.",
        ),
        (
            "weft.flush.interval.ms".into(),
            c.effective_flush_interval().as_millis().to_string(),
            source::STATIC_BROKER,
            ConfigType::Long,
            "Longest a batch waits for its flush.",
        ),
    ];
    for d in TOPIC_CONFIGS {
        if !out.iter().any(|e| e.0 == d.synonym) {
            out.push((d.synonym.to_string(), d.default.to_string(), source::DEFAULT, d.kind, d.doc));
        }
    }
    for e in &mut out {
        if let Some(v) = cluster.get(&e.0) {
            e.1 = v.clone();
            e.2 = source::DYNAMIC_DEFAULT_BROKER;
        }
    }
    out
}

fn src_if(set: bool) -> i8 {
    if set { source::STATIC_BROKER } else { source::DEFAULT }
}

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    // Without the cluster defaults every effective value could be wrong: refuse rather than guess.
    let cluster = match agent.topics.cluster_defaults(agent.meta.as_ref()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "describe configs refused: cluster defaults unavailable");
            let (code, message) = (e.code(), format!("cluster config defaults unavailable: {e}"));
            let results = req
                .resources
                .into_iter()
                .map(|r| {
                    let result = DescribeConfigsResult::default().with_resource_type(r.resource_type);
                    // A resource the client may not describe is refused as such, whatever the store says.
                    match config_resource_denied(ctx, Operation::DescribeConfigs, r.resource_type, &r.resource_name) {
                        Some(denied) => result.with_resource_name(r.resource_name).with_error_code(denied),
                        None => result
                            .with_resource_name(r.resource_name)
                            .with_error_code(code)
                            .with_error_message(Some(str_bytes(message.clone()))),
                    }
                })
                .collect();
            return DescribeConfigsResponse::default().with_results(results);
        }
    };
    let mut results = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        if let Some(code) = config_resource_denied(ctx, Operation::DescribeConfigs, r.resource_type, &r.resource_name) {
            results.push(result.with_error_code(code));
            continue;
        }
        let entries = match r.resource_type {
            RESOURCE_TOPIC => match agent.meta.topic(&r.resource_name).await {
                Ok(Some(t)) => Ok(topic_config_entries(&t.configs, &cluster, Some(req.include_synonyms))),
                Ok(None) => Err((
                    ResponseError::UnknownTopicOrPartition.code(),
                    format!("topic '{}' does not exist", r.resource_name.as_str()),
                )),
                Err(e) => Err((e.code(), e.to_string())),
            },
            RESOURCE_BROKER
                if r.resource_name.is_empty() || r.resource_name.as_str() == agent.cluster.node_id().to_string() =>
            {
                Ok(broker_entries(agent, &cluster)
                    .into_iter()
                    .map(|(name, value, src, kind, doc)| {
                        let synonyms =
                            if req.include_synonyms { vec![synonym(&name, &value, src)] } else { Vec::new() };
                        let read_only = topic_config::by_synonym(&name).is_none();
                        DescribeConfigsResourceResult::default()
                            .with_name(str_bytes(name))
                            .with_value(Some(str_bytes(value)))
                            .with_read_only(read_only)
                            .with_config_source(src)
                            .with_synonyms(synonyms)
                            .with_config_type(kind as i8)
                            .with_documentation(Some(str_bytes(doc)))
                    })
                    .collect())
            }
            RESOURCE_BROKER => Err((
                ResponseError::InvalidRequest.code(),
                format!("unexpected broker id {}", r.resource_name.as_str()),
            )),
            RESOURCE_GROUP => super::group_configs::describe(agent, &r.resource_name, req.include_synonyms).await,
            other => Err((ResponseError::InvalidRequest.code(), format!("resource type {other} is not supported"))),
        };
        match entries {
            Ok(mut entries) => {
                // Null or empty: every config (Kafka's ConfigHelper).
                if let Some(keys) = r.configuration_keys.as_ref().filter(|k| !k.is_empty()) {
                    entries.retain(|e| keys.iter().any(|k| k.as_str() == e.name.as_str()));
                }
                if !req.include_documentation || version < 3 {
                    entries.iter_mut().for_each(|e| e.documentation = None);
                }
                if version < 3 {
                    entries.iter_mut().for_each(|e| e.config_type = 0);
                }
                result.configs = entries;
            }
            Err((code, message)) => {
                tracing::warn!(resource = %r.resource_name.as_str(), %message, "describe configs refused");
                result.error_code = code;
                result.error_message = Some(str_bytes(message));
            }
        }
        results.push(result);
    }
    DescribeConfigsResponse::default().with_results(results)
}

/// `NAME://HOST:PORT,...` as Kafka writes listener lists (IPv6 hosts in brackets).
fn endpoints<'a>(each: impl Iterator<Item = (&'a str, &'a str, i32)>) -> String {
    let one = |(name, host, port): (&str, &str, i32)| match host.contains(':') {
        true => format!("{name}://[{host}]:{port}"),
        false => format!("{name}://{host}:{port}"),
    };
    each.map(one).collect::<Vec<_>>().join(",")
}
