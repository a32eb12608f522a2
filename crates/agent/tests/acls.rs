//! The ACL authorizer end to end: real requests over TCP to agents started with `--authorizer acl`, the
//! principal `User:ANONYMOUS` (plaintext). ACLs are managed through CreateAcls/DescribeAcls/DeleteAcls on an
//! agent whose super users include ANONYMOUS, and enforced on another agent sharing its metastore (so a
//! change is seen across agents), or stored directly in the metastore before an agent starts.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_agent::clock::{RandomIds, SystemClock};
use weft_meta::{AclRecord, Metastore};

const ANONYMOUS: &str = "User:ANONYMOUS";
// Kafka's codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TRANSACTIONAL_ID: i8 = 5;
const ANY: i8 = 1;
const MATCH: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ALL: i8 = 2;
const READ: i8 = 3;
const WRITE: i8 = 4;
const CREATE: i8 = 5;
const DENY: i8 = 2;
const ALLOW: i8 = 3;

struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    async fn to(agent: &weft_agent::RunningAgent) -> Conn {
        Conn { stream: TcpStream::connect(agent.kafka_addr).await.expect("connect"), correlation: 0 }
    }

    async fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("acl-test")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, R::header_version(version)).expect("header");
        req.encode(&mut buf, version).expect("body");
        self.stream.write_u32(buf.len() as u32).await.expect("write");
        self.stream.write_all(&buf).await.expect("write");
        let len = self.stream.read_u32().await.expect("read length");
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).await.expect("read body");
        let mut body = Bytes::from(body);
        ResponseHeader::decode(&mut body, R::Response::header_version(version)).expect("response header");
        let resp = R::Response::decode(&mut body, version).expect("response body");
        assert!(!body.has_remaining(), "trailing bytes in response");
        resp
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn creation(rt: i8, name: &str, pattern: i8, principal: &str, op: i8, permission: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(rt)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pattern)
        .with_principal(s(principal))
        .with_host(s("*"))
        .with_operation(op)
        .with_permission_type(permission)
}

fn record(rt: i8, name: &str, pattern: i8, principal: &str, op: i8, permission: i8) -> AclRecord {
    AclRecord {
        resource_type: rt,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: principal.into(),
        host: "*".into(),
        operation: op,
        permission,
    }
}

fn describe_all() -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_resource_type_filter(ANY)
        .with_pattern_type_filter(ANY)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

fn delete_filter(rt: i8, name: Option<&str>, pattern: i8) -> DeleteAclsFilter {
    DeleteAclsFilter::default()
        .with_resource_type_filter(rt)
        .with_resource_name_filter(name.map(s))
        .with_pattern_type_filter(pattern)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

fn config(dir: &std::path::Path, name: &str, super_users: Option<&str>) -> weft_agent::AgentConfig {
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.join(name));
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.object_store = Some(format!("file://{}/objects", dir.display()));
    config.authorizer = weft_agent::config::Authorizer::Acl;
    config.super_users = super_users.map(str::to_string);
    config
}

async fn start(config: weft_agent::AgentConfig, meta: &Arc<dyn Metastore>) -> weft_agent::RunningAgent {
    weft_agent::start_on(config, meta.clone(), Arc::new(SystemClock), Arc::new(RandomIds)).await.expect("agent starts")
}

async fn open(dir: &std::path::Path) -> Arc<dyn Metastore> {
    weft_meta::open(&format!("sqlite://{}/meta.db", dir.display())).await.expect("metastore")
}

fn create_topic(name: &str) -> CreateTopicsRequest {
    let t = CreatableTopic::default().with_name(TopicName(s(name))).with_num_partitions(1).with_replication_factor(1);
    CreateTopicsRequest::default().with_topics(vec![t]).with_timeout_ms(10_000)
}

fn produce(name: &str) -> ProduceRequest {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut batch, &[record], &options).expect("batch");
    let data = PartitionProduceData::default().with_index(0).with_records(Some(batch.freeze()));
    let t = TopicProduceData::default().with_name(TopicName(s(name))).with_partition_data(vec![data]);
    ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![t])
}

async fn produce_code(c: &mut Conn, name: &str) -> i16 {
    c.call(9, &produce(name)).await.responses[0].partition_responses[0].error_code
}

async fn fetch_code(c: &mut Conn, name: &str) -> i16 {
    let p = FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(1 << 20);
    let t = FetchTopic::default().with_topic(TopicName(s(name))).with_partitions(vec![p]);
    let req =
        FetchRequest::default().with_max_wait_ms(0).with_min_bytes(1).with_max_bytes(1 << 20).with_topics(vec![t]);
    c.call(12, &req).await.responses[0].partitions[0].error_code
}

/// The topics all-topics Metadata shows.
async fn visible_topics(c: &mut Conn) -> Vec<String> {
    let resp = c.call(12, &MetadataRequest::default().with_topics(None)).await;
    let mut names: Vec<String> = resp.topics.iter().filter_map(|t| t.name.as_ref().map(|n| n.to_string())).collect();
    names.sort();
    names
}

async fn named_metadata_code(c: &mut Conn, name: &str) -> i16 {
    let t = MetadataRequestTopic::default().with_name(Some(TopicName(s(name))));
    let req = MetadataRequest::default().with_topics(Some(vec![t])).with_allow_auto_topic_creation(false);
    c.call(12, &req).await.topics[0].error_code
}

/// Evaluates `$probe` until it holds, for at most 10 s (ACL changes reach other agents within about a second).
macro_rules! eventually {
    ($what:literal, $probe:expr) => {{
        let mut held = false;
        for _ in 0..200 {
            if $probe {
                held = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(held, "timed out waiting for {}", $what);
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_apis_create_describe_and_delete_as_kafka() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = open(dir.path()).await;
    let admin = start(config(dir.path(), "admin", Some("User:ops;User:ANONYMOUS")), &meta).await;
    let mut c = Conn::to(&admin).await;

    let creations = vec![
        creation(TOPIC, "orders", LITERAL, "User:alice", READ, ALLOW),
        creation(TOPIC, "ord", PREFIXED, "User:*", WRITE, DENY),
        creation(CLUSTER, "not-the-cluster", LITERAL, "User:alice", ALL, ALLOW),
        creation(GROUP, "g", MATCH, "User:alice", READ, ALLOW),
        creation(GROUP, "g", LITERAL, "alice", READ, ALLOW),
        creation(TOPIC, "orders", LITERAL, "User:alice", READ, ALLOW),
    ];
    let resp = c.call(3, &CreateAclsRequest::default().with_creations(creations)).await;
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    let invalid = E::InvalidRequest.code();
    assert_eq!(codes, [0, 0, invalid, invalid, invalid, 0], "bad cluster name, MATCH, principal without a type");
    assert!(resp.results[2].error_message.as_ref().is_some_and(|m| m.contains("kafka-cluster")));

    for v in 1..=3 {
        let resp = c.call(v, &describe_all()).await;
        assert_eq!(resp.error_code, 0);
        let found: Vec<(String, i8, usize)> =
            resp.resources.iter().map(|r| (r.resource_name.to_string(), r.pattern_type, r.acls.len())).collect();
        assert_eq!(found, [("ord".into(), PREFIXED, 1), ("orders".into(), LITERAL, 1)], "v{v}: stored once each");
    }
    let matching = describe_all()
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(s("orders-eu")))
        .with_pattern_type_filter(MATCH);
    let resp = c.call(3, &matching).await;
    let names: Vec<String> = resp.resources.iter().map(|r| r.resource_name.to_string()).collect();
    assert_eq!(names, ["ord"], "MATCH: the prefixed binding covers orders-eu, the literal one does not");
    let deny_only = describe_all().with_permission_type(DENY);
    assert_eq!(c.call(3, &deny_only).await.resources[0].acls[0].principal.as_str(), "User:*");

    let filters = vec![
        delete_filter(TOPIC, Some("orders"), LITERAL),
        delete_filter(TOPIC, Some("nothing"), ANY),
        delete_filter(0, None, ANY),
    ];
    let resp = c.call(3, &DeleteAclsRequest::default().with_filters(filters)).await;
    let summary: Vec<(i16, usize)> =
        resp.filter_results.iter().map(|r| (r.error_code, r.matching_acls.len())).collect();
    assert_eq!(summary, [(0, 1), (0, 0), (invalid, 0)], "UNKNOWN resource type: INVALID_REQUEST");
    assert_eq!(resp.filter_results[0].matching_acls[0].principal.as_str(), "User:alice");
    let left = c.call(3, &describe_all()).await.resources;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].resource_name.as_str(), "ord");

    // Without an authorizer Kafka answers SECURITY_DISABLED.
    let mut plain_config = config(dir.path(), "plain", None);
    plain_config.authorizer = weft_agent::config::Authorizer::None;
    let plain = start(plain_config, &meta).await;
    let mut p = Conn::to(&plain).await;
    assert_eq!(p.call(3, &describe_all()).await.error_code, E::SecurityDisabled.code());
    let resp = p
        .call(
            3,
            &CreateAclsRequest::default().with_creations(vec![creation(TOPIC, "t", LITERAL, ANONYMOUS, READ, ALLOW)]),
        )
        .await;
    assert_eq!(resp.results[0].error_code, E::SecurityDisabled.code());
    plain.shutdown();
    admin.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_made_on_one_agent_decide_requests_on_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = open(dir.path()).await;
    let admin = start(config(dir.path(), "admin", Some(ANONYMOUS)), &meta).await;
    let user = start(config(dir.path(), "user", Some("User:someone-else")), &meta).await;
    let mut a = Conn::to(&admin).await;
    let mut u = Conn::to(&user).await;
    assert_eq!(a.call(7, &create_topic("orders")).await.topics[0].error_code, 0);
    assert_eq!(a.call(7, &create_topic("secret")).await.topics[0].error_code, 0);

    // No ACLs, allow.everyone.if.no.acl.found off: everything is refused.
    let resp = u
        .call(
            3,
            &CreateAclsRequest::default().with_creations(vec![creation(TOPIC, "t", LITERAL, ANONYMOUS, READ, ALLOW)]),
        )
        .await;
    assert_eq!(resp.results[0].error_code, E::ClusterAuthorizationFailed.code());
    assert_eq!(u.call(3, &describe_all()).await.error_code, E::ClusterAuthorizationFailed.code());
    assert_eq!(produce_code(&mut u, "orders").await, E::TopicAuthorizationFailed.code());
    assert_eq!(fetch_code(&mut u, "orders").await, E::TopicAuthorizationFailed.code());
    assert!(visible_topics(&mut u).await.is_empty(), "Metadata hides topics the principal may not describe");
    assert_eq!(named_metadata_code(&mut u, "orders").await, E::TopicAuthorizationFailed.code());
    assert_eq!(u.call(7, &create_topic("new")).await.topics[0].error_code, E::TopicAuthorizationFailed.code());

    let grant = vec![
        creation(TOPIC, "ord", PREFIXED, ANONYMOUS, WRITE, ALLOW),
        creation(TOPIC, "*", LITERAL, "User:*", READ, ALLOW),
        creation(TOPIC, "secret", LITERAL, "User:*", READ, DENY),
    ];
    let resp = a.call(3, &CreateAclsRequest::default().with_creations(grant)).await;
    assert!(resp.results.iter().all(|r| r.error_code == 0));
    eventually!("the other agent to allow the write", produce_code(&mut u, "orders").await == 0);
    assert_eq!(fetch_code(&mut u, "orders").await, 0, "READ on every topic for everyone");
    assert_eq!(fetch_code(&mut u, "secret").await, E::TopicAuthorizationFailed.code(), "deny wins");
    assert_eq!(produce_code(&mut u, "secret").await, E::TopicAuthorizationFailed.code());
    assert_eq!(visible_topics(&mut u).await, ["orders", "secret"], "READ implies DESCRIBE");
    assert_eq!(named_metadata_code(&mut u, "orders").await, 0);

    // Deleting the grant takes it away again.
    let f = delete_filter(TOPIC, Some("ord"), PREFIXED);
    assert_eq!(
        a.call(3, &DeleteAclsRequest::default().with_filters(vec![f])).await.filter_results[0].matching_acls.len(),
        1
    );
    eventually!(
        "the other agent to refuse the write",
        produce_code(&mut u, "orders").await == E::TopicAuthorizationFailed.code()
    );
    user.shutdown();
    admin.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_transactions_idempotence_and_admin_apis_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = open(dir.path()).await;
    meta.create_acls(&[
        record(TOPIC, "orders", LITERAL, ANONYMOUS, WRITE, ALLOW),
        record(TOPIC, "orders", LITERAL, ANONYMOUS, CREATE, ALLOW),
        record(GROUP, "mine", LITERAL, ANONYMOUS, READ, ALLOW),
        record(TRANSACTIONAL_ID, "tx-", PREFIXED, ANONYMOUS, WRITE, ALLOW),
    ])
    .await
    .expect("store acls");
    let agent = start(config(dir.path(), "agent", None), &meta).await;
    let mut c = Conn::to(&agent).await;
    assert_eq!(c.call(7, &create_topic("orders")).await.topics[0].error_code, 0, "CREATE on the topic");
    assert_eq!(produce_code(&mut c, "orders").await, 0);

    let commit = |group: &str| {
        let p = OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(1);
        let t = OffsetCommitRequestTopic::default().with_name(TopicName(s("orders"))).with_partitions(vec![p]);
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![t])
    };
    let resp = c.call(8, &commit("theirs")).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, E::GroupAuthorizationFailed.code());
    let resp = c.call(8, &commit("mine")).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, E::TopicAuthorizationFailed.code(), "no READ on the topic");

    let idempotent = InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(10_000);
    assert_eq!(c.call(4, &idempotent).await.error_code, 0, "WRITE on a topic suffices (Kafka 3.x)");
    let tx = |id: &str| idempotent.clone().with_transactional_id(Some(TransactionalId(s(id))));
    assert_eq!(c.call(4, &tx("tx-1")).await.error_code, 0);
    assert_eq!(c.call(4, &tx("other")).await.error_code, E::TransactionalIdAuthorizationFailed.code());

    let resp = c
        .call(
            4,
            &DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("orders")),
            ]),
        )
        .await;
    assert_eq!(resp.results[0].error_code, E::TopicAuthorizationFailed.code(), "no DESCRIBE_CONFIGS");
    let del = DeleteTopicsRequest::default().with_topic_names(vec![TopicName(s("orders"))]).with_timeout_ms(10_000);
    assert_eq!(c.call(4, &del).await.responses[0].error_code, E::TopicAuthorizationFailed.code(), "no DELETE");
    assert_eq!(c.call(4, &DescribeLogDirsRequest::default()).await.error_code, E::ClusterAuthorizationFailed.code());
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_acls_on_a_resource_everyone_may_if_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = open(dir.path()).await;
    meta.create_acls(&[record(TOPIC, "guarded", LITERAL, "User:bob", WRITE, ALLOW)]).await.expect("store acl");
    let mut cfg = config(dir.path(), "agent", None);
    cfg.allow_everyone_if_no_acl_found = true;
    let audit_log = dir.path().join("audit.log");
    cfg.audit_log = Some(audit_log.clone());
    let agent = start(cfg, &meta).await;
    let mut c = Conn::to(&agent).await;
    assert_eq!(c.call(7, &create_topic("open")).await.topics[0].error_code, 0);
    assert_eq!(c.call(7, &create_topic("guarded")).await.topics[0].error_code, 0);
    assert_eq!(produce_code(&mut c, "open").await, 0, "no ACL on the topic");
    assert_eq!(produce_code(&mut c, "guarded").await, E::TopicAuthorizationFailed.code(), "ACLs for bob only");
    assert_eq!(visible_topics(&mut c).await, ["open"]);
    agent.shutdown();
    agent.wait().await;
    // The refused produce is audited once; the topic Metadata left out is not a denial. Both topics created
    // are admin changes.
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = std::fs::read_to_string(&audit_log).unwrap_or_default().lines().map(str::to_string).collect();
        if lines.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let all: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let created: Vec<&serde_json::Value> = all.iter().filter(|l| l["api"] == "CreateTopics").collect();
    assert_eq!(created.len(), 2, "{lines:?}");
    assert!(created.iter().all(|l| l["event"] == "admin" && l["outcome"] == "success"), "{lines:?}");
    let denials: Vec<&serde_json::Value> = all.iter().filter(|l| l["event"] == "denied").collect();
    assert_eq!(denials.len(), 1, "{lines:?}");
    assert_eq!(denials[0]["event"], "denied");
    assert_eq!(denials[0]["principal"], "User:ANONYMOUS");
    assert_eq!(denials[0]["operation"], "WRITE");
    assert_eq!(denials[0]["resource_type"], "TOPIC");
    assert_eq!(denials[0]["resource_name"], "guarded");
}
