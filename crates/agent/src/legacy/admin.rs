//! CreateTopics v0-1, DeleteTopics v0, DescribeConfigs v0 and DescribeLogDirs v0.

use super::{to3, to18};
use crate::Agent;
use crate::handlers;
use crate::request::RequestContext;
use kafka_protocol::messages::create_topics_request as ct18;
use kafka_protocol::messages::describe_configs_request as dc18;
use kafka_protocol::messages::describe_log_dirs_request as dl18;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName,
};
use kafka_protocol_k3::messages as k3;
use kafka_protocol_k3::messages::create_topics_response as ctr3;
use kafka_protocol_k3::messages::delete_topics_response as dtr3;
use kafka_protocol_k3::messages::describe_configs_response as dcr3;
use kafka_protocol_k3::messages::describe_log_dirs_response as dlr3;
use weft_topics::config::source;

/// The 0.18 versions the converted requests are handled at: the oldest that codec knows.
const CREATE_TOPICS_AS: i16 = 2;
const DELETE_TOPICS_AS: i16 = 1;
const DESCRIBE_CONFIGS_AS: i16 = 1;
const DESCRIBE_LOG_DIRS_AS: i16 = 1;

fn name18(n: &k3::TopicName) -> TopicName {
    TopicName(to18(&n.0))
}

fn name3(n: &TopicName) -> k3::TopicName {
    k3::TopicName(to3(&n.0))
}

/// v0 and v1 carry what v2 does (v1 added validate_only, which v0 leaves false).
pub fn create_topics_request(req: k3::CreateTopicsRequest) -> CreateTopicsRequest {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let assignments = t
                .assignments
                .iter()
                .map(|a| {
                    ct18::CreatableReplicaAssignment::default()
                        .with_partition_index(a.partition_index)
                        .with_broker_ids(a.broker_ids.iter().map(|b| BrokerId(b.0)).collect())
                })
                .collect();
            let configs = t
                .configs
                .iter()
                .map(|c| {
                    ct18::CreatableTopicConfig::default()
                        .with_name(to18(&c.name))
                        .with_value(c.value.as_ref().map(to18))
                })
                .collect();
            ct18::CreatableTopic::default()
                .with_name(name18(&t.name))
                .with_num_partitions(t.num_partitions)
                .with_replication_factor(t.replication_factor)
                .with_assignments(assignments)
                .with_configs(configs)
        })
        .collect();
    CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(req.timeout_ms)
        .with_validate_only(req.validate_only)
}

/// v0 answers each topic's name and code; v1 adds the error message.
pub fn create_topics_response(resp: CreateTopicsResponse, version: i16) -> k3::CreateTopicsResponse {
    let topics = resp
        .topics
        .iter()
        .map(|t| {
            let message = if version >= 1 { t.error_message.as_ref().map(to3) } else { None };
            ctr3::CreatableTopicResult::default()
                .with_name(name3(&t.name))
                .with_error_code(t.error_code)
                .with_error_message(message)
        })
        .collect();
    k3::CreateTopicsResponse::default().with_topics(topics)
}

pub async fn create_topics(
    agent: &Agent,
    ctx: &RequestContext,
    req: k3::CreateTopicsRequest,
    version: i16,
) -> k3::CreateTopicsResponse {
    let resp = crate::admin_audit::run(ctx, create_topics_request(req), |r| {
        handlers::topics::create(agent, ctx, r, CREATE_TOPICS_AS)
    })
    .await;
    create_topics_response(resp, version)
}

/// v0 names topics, as v1-5 do.
pub fn delete_topics_request(req: k3::DeleteTopicsRequest) -> DeleteTopicsRequest {
    DeleteTopicsRequest::default()
        .with_topic_names(req.topic_names.iter().map(name18).collect())
        .with_timeout_ms(req.timeout_ms)
}

/// Name and code per topic; no throttle time before v1.
pub fn delete_topics_response(resp: DeleteTopicsResponse) -> k3::DeleteTopicsResponse {
    let responses = resp
        .responses
        .iter()
        .map(|r| {
            dtr3::DeletableTopicResult::default()
                .with_name(Some(r.name.as_ref().map(name3).unwrap_or_default()))
                .with_error_code(r.error_code)
        })
        .collect();
    k3::DeleteTopicsResponse::default().with_responses(responses)
}

pub async fn delete_topics(
    agent: &Agent,
    ctx: &RequestContext,
    req: k3::DeleteTopicsRequest,
) -> k3::DeleteTopicsResponse {
    delete_topics_response(
        crate::admin_audit::run(ctx, delete_topics_request(req), |r| {
            handlers::topics::delete(agent, ctx, r, DELETE_TOPICS_AS)
        })
        .await,
    )
}

/// v0 asks for resources and keys only: no synonyms (v1+) and no documentation (v3+).
pub fn describe_configs_request(req: k3::DescribeConfigsRequest) -> DescribeConfigsRequest {
    let resources = req
        .resources
        .iter()
        .map(|r| {
            dc18::DescribeConfigsResource::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(to18(&r.resource_name))
                .with_configuration_keys(r.configuration_keys.as_ref().map(|ks| ks.iter().map(to18).collect()))
        })
        .collect();
    DescribeConfigsRequest::default().with_resources(resources).with_include_synonyms(false)
}

/// v0 reports `is_default` where v1+ report a source: a value is the default when nothing set it (Kafka's
/// DEFAULT_CONFIG source; the field's documented meaning is "true if the configuration is not set").
pub fn describe_configs_response(resp: DescribeConfigsResponse) -> k3::DescribeConfigsResponse {
    let results = resp
        .results
        .iter()
        .map(|r| {
            let configs = r
                .configs
                .iter()
                .map(|c| {
                    dcr3::DescribeConfigsResourceResult::default()
                        .with_name(to3(&c.name))
                        .with_value(c.value.as_ref().map(to3))
                        .with_read_only(c.read_only)
                        .with_is_default(c.config_source == source::DEFAULT)
                        .with_is_sensitive(c.is_sensitive)
                })
                .collect();
            dcr3::DescribeConfigsResult::default()
                .with_error_code(r.error_code)
                .with_error_message(r.error_message.as_ref().map(to3))
                .with_resource_type(r.resource_type)
                .with_resource_name(to3(&r.resource_name))
                .with_configs(configs)
        })
        .collect();
    k3::DescribeConfigsResponse::default().with_throttle_time_ms(resp.throttle_time_ms).with_results(results)
}

pub async fn describe_configs(
    agent: &Agent,
    ctx: &RequestContext,
    req: k3::DescribeConfigsRequest,
) -> k3::DescribeConfigsResponse {
    let resp = handlers::configs::describe(agent, ctx, describe_configs_request(req), DESCRIBE_CONFIGS_AS).await;
    describe_configs_response(resp)
}

/// v0 has the layout of v1 (v1 only changed throttling).
pub fn describe_log_dirs_request(req: k3::DescribeLogDirsRequest) -> DescribeLogDirsRequest {
    let topics = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| {
                dl18::DescribableLogDirTopic::default()
                    .with_topic(name18(&t.topic))
                    .with_partitions(t.partitions.clone())
            })
            .collect()
    });
    DescribeLogDirsRequest::default().with_topics(topics)
}

/// Per log dir its code, path and partitions' sizes; no top-level code (v3+) or byte totals (v4+).
pub fn describe_log_dirs_response(resp: DescribeLogDirsResponse) -> k3::DescribeLogDirsResponse {
    let results = resp
        .results
        .iter()
        .map(|d| {
            let topics = d
                .topics
                .iter()
                .map(|t| {
                    let partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            dlr3::DescribeLogDirsPartition::default()
                                .with_partition_index(p.partition_index)
                                .with_partition_size(p.partition_size)
                                .with_offset_lag(p.offset_lag)
                                .with_is_future_key(p.is_future_key)
                        })
                        .collect();
                    dlr3::DescribeLogDirsTopic::default().with_name(name3(&t.name)).with_partitions(partitions)
                })
                .collect();
            dlr3::DescribeLogDirsResult::default()
                .with_error_code(d.error_code)
                .with_log_dir(to3(&d.log_dir))
                .with_topics(topics)
        })
        .collect();
    k3::DescribeLogDirsResponse::default().with_throttle_time_ms(resp.throttle_time_ms).with_results(results)
}

pub async fn describe_log_dirs(
    agent: &Agent,
    ctx: &RequestContext,
    req: k3::DescribeLogDirsRequest,
) -> k3::DescribeLogDirsResponse {
    let resp = handlers::log_dirs::handle(agent, ctx, describe_log_dirs_request(req), DESCRIBE_LOG_DIRS_AS).await;
    describe_log_dirs_response(resp)
}
