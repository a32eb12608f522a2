//! The request versions Kafka 4 removed (KIP-896) and Kafka 3.9 still served, against a real agent on
//! 127.0.0.1:0: each request is encoded as Kafka 3.9's specs lay it out (the codec generated from them,
//! `kafka-protocol` 0.15.1), goes through dispatch, and its response decodes with that codec at the same
//! version with the expected fields. Real clients that send these versions (Sarama 1.22) are in
//! tests/clients/test_sarama.py.

mod common;

use bytes::{Buf, Bytes, BytesMut};
use common::Conn;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, ProduceRequest, ProduceResponse};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use kafka_protocol_k3::messages as k3;
use kafka_protocol_k3::messages::{
    create_topics_request as ct, describe_log_dirs_request as dl, list_offsets_request as lo,
    offset_commit_request as oc, offset_fetch_request as of,
};
use kafka_protocol_k3::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

const RECORD_TIME: i64 = 1_700_000_000_000;

impl Conn {
    async fn connect(agent: &weft_agent::RunningAgent) -> Conn {
        Conn::open(agent.kafka_addr, "legacy-test").await
    }

    /// One request encoded with the Kafka 3.9 codec at `version` (header v1: none of these is flexible).
    async fn call_k3<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        let correlation = self.next_correlation();
        assert_eq!(R::header_version(version), 1, "legacy versions use request header v1");
        let header = k3::RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(StrBytes::from_static_str("legacy-test")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, 1).expect("header");
        req.encode(&mut buf, version).expect("body");
        self.send_frame(&buf).await;
        let mut body = self.read_frame().await.expect("a response, not a closed connection");
        assert_eq!(R::Response::header_version(version), 0);
        let h = k3::ResponseHeader::decode(&mut body, 0).expect("response header");
        assert_eq!(h.correlation_id, correlation);
        let resp = R::Response::decode(&mut body, version).expect("response body");
        assert!(!body.has_remaining(), "trailing bytes in response");
        resp
    }
}

async fn agent() -> (tempfile::TempDir, weft_agent::RunningAgent) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.auto_create_topics = false;
    let agent = weft_agent::start(config).await.expect("agent starts");
    (dir, agent)
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic(v: &str) -> k3::TopicName {
    k3::TopicName(s(v))
}

fn new_topic(name: &str, partitions: i32, configs: &[(&str, &str)]) -> ct::CreatableTopic {
    let configs = configs
        .iter()
        .map(|(k, v)| ct::CreatableTopicConfig::default().with_name(s(k)).with_value(Some(s(v))))
        .collect();
    ct::CreatableTopic::default()
        .with_name(topic(name))
        .with_num_partitions(partitions)
        .with_replication_factor(1)
        .with_configs(configs)
}

async fn produce(c: &mut Conn, name: &str, count: usize) {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: RECORD_TIME,
            key: None,
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        &records,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .expect("batch");
    let name = kafka_protocol::messages::TopicName(kafka_protocol::protocol::StrBytes::from_string(name.into()));
    let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
        TopicProduceData::default().with_name(name).with_partition_data(vec![
            PartitionProduceData::default().with_index(0).with_records(Some(batch.freeze())),
        ]),
    ]);
    let resp: ProduceResponse = c.call(3, &req).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_advertises_kafka_39_floors_and_every_version_has_a_codec() {
    let (_dir, agent) = agent().await;
    let mut c = Conn::connect(&agent).await;
    let resp: ApiVersionsResponse = c.call(0, &ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, 0);
    for a in &resp.api_keys {
        let key = ApiKey::try_from(a.api_key).expect("known api key");
        let current = key.valid_versions();
        let Ok(k3_key) = k3::ApiKey::try_from(a.api_key) else {
            // APIs Kafka 3.9 did not serve (KIP-932's share groups): the current codec's versions only.
            assert!(current.min <= a.min_version && a.max_version <= current.max, "{key:?} beyond the codec");
            assert!(matches!(
                key,
                ApiKey::ShareGroupHeartbeat
                    | ApiKey::ShareGroupDescribe
                    | ApiKey::ShareFetch
                    | ApiKey::ShareAcknowledge
                    | ApiKey::DescribeShareGroupOffsets
                    | ApiKey::AlterShareGroupOffsets
                    | ApiKey::DeleteShareGroupOffsets
            ));
            continue;
        };
        let k3_range = k3_key.valid_versions();
        for v in a.min_version..=a.max_version {
            let by_current = (current.min..=current.max).contains(&v);
            let by_k3 = (k3_range.min..=k3_range.max).contains(&v) && weft_protocol::versions::is_legacy(a.api_key, v);
            assert!(by_current || by_k3, "{key:?} v{v} is advertised but neither codec serves it");
        }
        // Below Produce v3 and Fetch v4 lie message formats v0/v1 (KIP-724), refused; every other API starts
        // where Kafka 3.9 started.
        let floor = match key {
            ApiKey::Produce => 3,
            ApiKey::Fetch => 4,
            _ => k3_range.min,
        };
        assert_eq!(a.min_version, floor, "{key:?} floor");
    }
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_commit_v0_v1_offset_fetch_v0_and_list_offsets_v0() {
    let (_dir, agent) = agent().await;
    let mut c = Conn::connect(&agent).await;
    let created = c
        .call_k3(
            0,
            &k3::CreateTopicsRequest::default().with_topics(vec![new_topic("old", 1, &[])]).with_timeout_ms(5000),
        )
        .await;
    assert_eq!(created.topics[0].error_code, 0);
    produce(&mut c, "old", 5).await;

    let commit = |version: i16, offset: i64, meta: &str| {
        let partition = oc::OffsetCommitRequestPartition::default()
            .with_partition_index(0)
            .with_committed_offset(offset)
            .with_committed_metadata(Some(s(meta)));
        let mut req =
            k3::OffsetCommitRequest::default().with_group_id(k3::GroupId(s("legacy-group"))).with_topics(vec![
                oc::OffsetCommitRequestTopic::default().with_name(topic("old")).with_partitions(vec![partition]),
            ]);
        if version >= 1 {
            req = req.with_generation_id_or_member_epoch(-1).with_member_id(s(""));
        }
        req
    };
    let fetch =
        k3::OffsetFetchRequest::default().with_group_id(k3::GroupId(s("legacy-group"))).with_topics(Some(vec![
            of::OffsetFetchRequestTopic::default().with_name(topic("old")).with_partition_indexes(vec![0]),
        ]));

    let r = c.call_k3(0, &commit(0, 3, "zero")).await;
    assert_eq!((r.topics[0].name.0.as_str(), r.topics[0].partitions[0].error_code), ("old", 0));
    let f = c.call_k3(0, &fetch).await;
    let p = &f.topics[0].partitions[0];
    assert_eq!((p.committed_offset, p.metadata.as_ref().map(|m| m.as_str()), p.error_code), (3, Some("zero"), 0));

    let r = c.call_k3(1, &commit(1, 4, "one")).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let f = c.call_k3(0, &fetch).await;
    assert_eq!(f.topics[0].partitions[0].committed_offset, 4);
    // Newer versions see the same offsets: Weft has one offset store.
    let f1 = c.call_k3(1, &fetch).await;
    assert_eq!(f1.topics[0].partitions[0].committed_offset, 4);

    let mut unknown = commit(1, 1, "");
    unknown.topics[0].name = topic("nope");
    let r = c.call_k3(1, &unknown).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");

    let list = |partition: i32, timestamp: i64, max: i32| {
        k3::ListOffsetsRequest::default().with_replica_id(k3::BrokerId(-1)).with_topics(vec![
            lo::ListOffsetsTopic::default().with_name(topic("old")).with_partitions(vec![
                lo::ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(timestamp)
                    .with_max_num_offsets(max),
            ]),
        ])
    };
    let offsets = |r: k3::ListOffsetsResponse| {
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.old_style_offsets.clone())
    };
    assert_eq!(offsets(c.call_k3(0, &list(0, -1, 1)).await), (0, vec![5]));
    assert_eq!(offsets(c.call_k3(0, &list(0, -2, 1)).await), (0, vec![0]));
    assert_eq!(offsets(c.call_k3(0, &list(0, -1, 10)).await), (0, vec![5, 0]));
    assert_eq!(offsets(c.call_k3(0, &list(0, RECORD_TIME, 10)).await), (0, vec![0]));
    assert_eq!(offsets(c.call_k3(0, &list(0, RECORD_TIME - 1, 10)).await), (0, vec![]));
    assert_eq!(offsets(c.call_k3(0, &list(0, i64::MAX, 10)).await), (0, vec![5, 0]));
    assert_eq!(offsets(c.call_k3(0, &list(7, -1, 1)).await), (3, vec![]));
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topics_v0_v1_describe_configs_v0_describe_log_dirs_v0_delete_topics_v0() {
    let (_dir, agent) = agent().await;
    let mut c = Conn::connect(&agent).await;
    // Configs Kafka 4 removed are accepted and ignored, as a Kafka 3.x broker did.
    let configs =
        [("retention.ms", "3600000"), ("message.format.version", "2.1"), ("message.downconversion.enable", "false")];
    let r = c
        .call_k3(
            0,
            &k3::CreateTopicsRequest::default()
                .with_topics(vec![new_topic("admin", 2, &configs)])
                .with_timeout_ms(5000),
        )
        .await;
    assert_eq!((r.topics[0].name.0.as_str(), r.topics[0].error_code), ("admin", 0));

    let again = k3::CreateTopicsRequest::default().with_topics(vec![new_topic("admin", 2, &[])]).with_timeout_ms(5000);
    let r = c.call_k3(1, &again).await;
    assert_eq!(r.topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS");
    assert!(r.topics[0].error_message.as_ref().is_some_and(|m| m.contains("admin")), "{:?}", r.topics[0].error_message);
    let bad = k3::CreateTopicsRequest::default()
        .with_topics(vec![new_topic("bad", 1, &[("retention.ms", "soon")])])
        .with_timeout_ms(5000);
    assert_eq!(c.call_k3(0, &bad).await.topics[0].error_code, 40, "INVALID_CONFIG");
    let dry = k3::CreateTopicsRequest::default()
        .with_topics(vec![new_topic("dry", 1, &[])])
        .with_timeout_ms(5000)
        .with_validate_only(true);
    assert_eq!(c.call_k3(1, &dry).await.topics[0].error_code, 0);

    let describe = k3::DescribeConfigsRequest::default().with_resources(vec![
        k3::describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("admin"))
            .with_configuration_keys(None),
        k3::describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("dry"))
            .with_configuration_keys(None),
    ]);
    let r = c.call_k3(0, &describe).await;
    assert_eq!(r.results[0].error_code, 0);
    let entry = |name: &str| r.results[0].configs.iter().find(|e| e.name.as_str() == name).cloned();
    let retention = entry("retention.ms").expect("retention.ms described");
    assert_eq!((retention.value.as_ref().map(|v| v.as_str()), retention.is_default), (Some("3600000"), false));
    let cleanup = entry("cleanup.policy").expect("cleanup.policy described");
    assert_eq!((cleanup.value.as_ref().map(|v| v.as_str()), cleanup.is_default), (Some("delete"), true));
    assert!(entry("message.format.version").is_none(), "removed configs are not stored");
    assert_eq!(r.results[1].error_code, 3, "validate_only created nothing");

    let dirs = c
        .call_k3(
            0,
            &k3::DescribeLogDirsRequest::default().with_topics(Some(vec![
                dl::DescribableLogDirTopic::default().with_topic(topic("admin")).with_partitions(vec![0, 1]),
            ])),
        )
        .await;
    assert_eq!(dirs.results.len(), 1);
    assert_eq!(dirs.results[0].error_code, 0);
    let t = &dirs.results[0].topics[0];
    assert_eq!((t.name.0.as_str(), t.partitions.len()), ("admin", 2));

    let delete = k3::DeleteTopicsRequest::default().with_topic_names(vec![topic("admin")]).with_timeout_ms(5000);
    let r = c.call_k3(0, &delete).await;
    assert_eq!((r.responses[0].name.as_ref().map(|n| n.0.as_str()), r.responses[0].error_code), (Some("admin"), 0));
    assert_eq!(c.call_k3(0, &delete).await.responses[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_legacy_request_closes_the_connection() {
    let (_dir, agent) = agent().await;
    let mut c = Conn::connect(&agent).await;
    // OffsetCommit v1 header, then a group id claiming 200 bytes that are not there.
    let mut frame = BytesMut::new();
    k3::RequestHeader::default()
        .with_request_api_key(8)
        .with_request_api_version(1)
        .with_correlation_id(1)
        .encode(&mut frame, 1)
        .expect("header");
    frame.extend_from_slice(&[0, 200, b'g']);
    c.send_frame(&frame).await;
    assert!(c.closed().await, "the connection should be closed");
    // The agent still serves other connections.
    let mut c = Conn::connect(&agent).await;
    let resp: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, 0);
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_apis_v0_create_describe_and_delete_literal_acls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.authorizer = weft_agent::config::Authorizer::Acl;
    config.super_users = Some("User:ANONYMOUS".into());
    let agent = weft_agent::start(config).await.expect("agent starts");
    let mut c = Conn::connect(&agent).await;
    let creation = k3::create_acls_request::AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s("old-acl"))
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(3)
        .with_permission_type(3);
    let created = c.call_k3(0, &k3::CreateAclsRequest::default().with_creations(vec![creation])).await;
    assert_eq!(created.results[0].error_code, 0);
    let describe = k3::DescribeAclsRequest::default()
        .with_resource_type_filter(1)
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(1)
        .with_permission_type(1);
    let listed = c.call_k3(0, &describe).await;
    assert_eq!(listed.error_code, 0);
    assert_eq!(listed.resources.len(), 1);
    assert_eq!((listed.resources[0].resource_name.as_str(), listed.resources[0].acls.len()), ("old-acl", 1));
    let filter = k3::delete_acls_request::DeleteAclsFilter::default()
        .with_resource_type_filter(2)
        .with_resource_name_filter(Some(s("old-acl")))
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(1)
        .with_permission_type(1);
    let deleted = c.call_k3(0, &k3::DeleteAclsRequest::default().with_filters(vec![filter])).await;
    assert_eq!(deleted.filter_results[0].error_code, 0);
    assert_eq!(deleted.filter_results[0].matching_acls[0].principal.as_str(), "User:alice");
    assert!(c.call_k3(0, &describe).await.resources.is_empty());
    agent.shutdown();
}
