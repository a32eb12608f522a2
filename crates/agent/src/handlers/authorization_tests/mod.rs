//! Proof that handlers consult [`crate::request::authorize`] for the operation and resource Kafka checks, and
//! answer a denial with Kafka's per-resource error. Real requests go over TCP through dispatch to an agent on
//! a temporary directory; `request::checks` records each check (and denies on request) per client id.

use crate::request::checks::{self, Check};
use crate::request::{Operation, Resource, ResourceKind};
use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod acls;
mod denials;
mod parity;
mod share_offsets;

const TOPIC: &str = "orders";

struct Client {
    stream: TcpStream,
    client_id: &'static str,
    correlation: i32,
}

impl Client {
    async fn connect(agent: &crate::RunningAgent, client_id: &'static str) -> Client {
        Client { stream: TcpStream::connect(agent.kafka_addr).await.expect("connect"), client_id, correlation: 0 }
    }

    async fn exchange(&mut self, frame: &[u8]) -> Bytes {
        self.stream.write_u32(frame.len() as u32).await.expect("write");
        self.stream.write_all(frame).await.expect("write");
        let len = self.stream.read_u32().await.expect("read length");
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).await.expect("read body");
        Bytes::from(body)
    }

    async fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(s(self.client_id)));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, R::header_version(version)).expect("header");
        req.encode(&mut buf, version).expect("body");
        let mut body = self.exchange(&buf).await;
        ResponseHeader::decode(&mut body, R::Response::header_version(version)).expect("response header");
        R::Response::decode(&mut body, version).expect("response body")
    }

    /// A request of a version Kafka 4 removed, encoded with the Kafka 3.9 codec (header v1).
    async fn call_legacy<R: kafka_protocol_k3::protocol::Request>(&mut self, version: i16, req: &R) -> R::Response {
        use kafka_protocol_k3::protocol::{Decodable as _, Encodable as _};
        self.correlation += 1;
        let header = kafka_protocol_k3::messages::RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(kafka_protocol_k3::protocol::StrBytes::from_static_str(self.client_id)));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, 1).expect("header");
        req.encode(&mut buf, version).expect("body");
        let mut body = self.exchange(&buf).await;
        kafka_protocol_k3::messages::ResponseHeader::decode(&mut body, 0).expect("response header");
        R::Response::decode(&mut body, version).expect("response body")
    }

    /// The checks `authorize` was asked to make for this client since the last call.
    fn checks(&self) -> Vec<Check> {
        checks::take(self.client_id)
    }

    fn deny(&self, operation: Operation, resource: Resource<'_>) {
        checks::deny(self.client_id, operation, resource);
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

fn topic(op: Operation, name: &str) -> Check {
    (op, ResourceKind::Topic, name.to_string())
}

fn group(op: Operation, name: &str) -> Check {
    (op, ResourceKind::Group, name.to_string())
}

fn cluster(op: Operation) -> Check {
    (op, ResourceKind::Cluster, "kafka-cluster".to_string())
}

async fn agent() -> (tempfile::TempDir, crate::RunningAgent) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = crate::start(config).await.expect("agent starts");
    (dir, agent)
}

fn create_topics(name: &str) -> CreateTopicsRequest {
    let t = CreatableTopic::default().with_name(topic_name(name)).with_num_partitions(1).with_replication_factor(1);
    CreateTopicsRequest::default().with_topics(vec![t]).with_timeout_ms(10_000)
}

fn produce(name: &str) -> ProduceRequest {
    produce_as(name, None)
}

/// A one-record produce; `transactional` is (transactional id, producer id, epoch).
fn produce_as(name: &str, transactional: Option<(&str, i64, i16)>) -> ProduceRequest {
    let producer = transactional.map(|(_, pid, epoch)| (pid, epoch));
    let batch = one_record_batch(producer, transactional.is_some());
    let data = PartitionProduceData::default().with_index(0).with_records(Some(batch));
    let t = TopicProduceData::default().with_name(topic_name(name)).with_partition_data(vec![data]);
    ProduceRequest::default()
        .with_transactional_id(transactional.map(|(id, _, _)| TransactionalId(s(id))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![t])
}

/// A batch of one record, from `producer` (id, epoch; sequence 0) when given, else from no producer.
fn one_record_batch(producer: Option<(i64, i16)>, transactional: bool) -> Bytes {
    let (producer_id, producer_epoch, sequence) = producer.map_or((-1, -1, -1), |(pid, epoch)| (pid, epoch, 0));
    let record = Record {
        transactional,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut batch, &[record], &options).expect("batch");
    batch.freeze()
}

fn fetch(name: &str) -> FetchRequest {
    let p = FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(1 << 20);
    let t = FetchTopic::default().with_topic(topic_name(name)).with_partitions(vec![p]);
    FetchRequest::default().with_max_wait_ms(0).with_min_bytes(1).with_max_bytes(1 << 20).with_topics(vec![t])
}

fn metadata(name: &str, auto_create: bool) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(topic_name(name)))]))
        .with_allow_auto_topic_creation(auto_create)
}

fn offset_commit(group_id: &str, name: &str) -> OffsetCommitRequest {
    let p = OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(1);
    let t = OffsetCommitRequestTopic::default().with_name(topic_name(name)).with_partitions(vec![p]);
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![t])
}

fn join_group(group_id: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default().with_name(s("range"))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_check_what_kafka_checks() {
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-allowed").await;

    let resp = c.call(7, &create_topics(TOPIC)).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(
        c.checks(),
        vec![cluster(Operation::Create), topic(Operation::DescribeConfigs, TOPIC)],
        "CreateTopics: CREATE on the cluster, DESCRIBE_CONFIGS to see the configs"
    );

    let resp = c.call(9, &produce(TOPIC)).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(c.checks(), vec![topic(Operation::Write, TOPIC)], "Produce");

    let resp = c.call(12, &fetch(TOPIC)).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, 0);
    assert_eq!(c.checks(), vec![topic(Operation::Read, TOPIC)], "Fetch");

    let resp = c.call(12, &metadata(TOPIC, false)).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(c.checks(), vec![topic(Operation::Describe, TOPIC)], "Metadata");

    let resp = c.call(8, &offset_commit("g1", TOPIC)).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    assert_eq!(c.checks(), vec![group(Operation::Read, "g1"), topic(Operation::Read, TOPIC)], "OffsetCommit");

    let resp = c.call(9, &join_group("g1")).await;
    assert_eq!(resp.error_code, E::MemberIdRequired.code());
    assert_eq!(c.checks(), vec![group(Operation::Read, "g1")], "JoinGroup");

    // A removed version goes through the legacy codec to the same handler, with the same context.
    use kafka_protocol_k3::messages as k3;
    let p = k3::list_offsets_request::ListOffsetsPartition::default()
        .with_partition_index(0)
        .with_timestamp(-1)
        .with_max_num_offsets(1);
    let t = k3::list_offsets_request::ListOffsetsTopic::default()
        .with_name(k3::TopicName(kafka_protocol_k3::protocol::StrBytes::from_static_str(TOPIC)))
        .with_partitions(vec![p]);
    let req = k3::ListOffsetsRequest::default().with_replica_id(k3::BrokerId(-1)).with_topics(vec![t]);
    let resp = c.call_legacy(0, &req).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions[0].old_style_offsets, vec![1]);
    assert_eq!(
        c.checks(),
        vec![topic(Operation::Describe, TOPIC), topic(Operation::Describe, TOPIC)],
        "ListOffsets v0 (legacy): one lookup each for the earliest and latest offsets"
    );
    agent.shutdown();
    agent.wait().await;
}

/// Sends `req` and returns the checks it caused.
async fn checks_of<R: Request>(c: &mut Client, version: i16, req: &R) -> Vec<Check> {
    c.call(version, req).await;
    c.checks()
}

fn txn(op: Operation, id: &str) -> Check {
    (op, ResourceKind::TransactionalId, id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_handler_checks_its_resources() {
    use Operation::*;
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::alter_configs_request as ac;
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::describe_producers_request::TopicRequest;
    use kafka_protocol::messages::incremental_alter_configs_request as iac;
    use kafka_protocol::messages::leave_group_request::MemberIdentity;
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
    use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopic};
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };

    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-table").await;
    c.call(7, &create_topics(TOPIC)).await;
    c.call(9, &produce(TOPIC)).await;
    c.call(8, &offset_commit("g1", TOPIC)).await;
    c.checks();

    assert_eq!(checks_of(&mut c, 0, &ApiVersionsRequest::default()).await, vec![], "ApiVersions");
    let all_topics = MetadataRequest::default().with_topics(None);
    assert_eq!(checks_of(&mut c, 12, &all_topics).await, vec![topic(Describe, TOPIC)], "Metadata (all topics)");
    let p = ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1);
    let t = ListOffsetsTopic::default().with_name(topic_name(TOPIC)).with_partitions(vec![p]);
    let req = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![t]);
    assert_eq!(checks_of(&mut c, 7, &req).await, vec![topic(Describe, TOPIC)], "ListOffsets");

    // Groups and their offsets.
    let t = OffsetFetchRequestTopic::default().with_name(topic_name(TOPIC)).with_partition_indexes(vec![0]);
    let req = OffsetFetchRequest::default().with_group_id(GroupId(s("g1"))).with_topics(Some(vec![t]));
    assert_eq!(checks_of(&mut c, 7, &req).await, vec![group(Describe, "g1"), topic(Describe, TOPIC)], "OffsetFetch");
    let g = OffsetFetchRequestGroup::default().with_group_id(GroupId(s("g1"))).with_topics(None);
    let req = OffsetFetchRequest::default().with_groups(vec![g]);
    assert_eq!(
        checks_of(&mut c, 8, &req).await,
        vec![group(Describe, "g1"), topic(Describe, TOPIC)],
        "OffsetFetch v8 (all topics)"
    );
    let t = OffsetDeleteRequestTopic::default()
        .with_name(topic_name(TOPIC))
        .with_partitions(vec![OffsetDeleteRequestPartition::default().with_partition_index(0)]);
    let req = OffsetDeleteRequest::default().with_group_id(GroupId(s("g1"))).with_topics(vec![t]);
    assert_eq!(checks_of(&mut c, 0, &req).await, vec![group(Delete, "g1"), topic(Read, TOPIC)], "OffsetDelete");
    let req = SyncGroupRequest::default()
        .with_group_id(GroupId(s("g1")))
        .with_generation_id(1)
        .with_member_id(s("m"))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")));
    assert_eq!(checks_of(&mut c, 5, &req).await, vec![group(Read, "g1")], "SyncGroup");
    let req = HeartbeatRequest::default().with_group_id(GroupId(s("g1"))).with_generation_id(1).with_member_id(s("m"));
    assert_eq!(checks_of(&mut c, 4, &req).await, vec![group(Read, "g1")], "Heartbeat");
    let req = LeaveGroupRequest::default()
        .with_group_id(GroupId(s("g1")))
        .with_members(vec![MemberIdentity::default().with_member_id(s("m"))]);
    assert_eq!(checks_of(&mut c, 5, &req).await, vec![group(Read, "g1")], "LeaveGroup");
    assert_eq!(checks_of(&mut c, 5, &ListGroupsRequest::default()).await, vec![cluster(Describe)], "ListGroups");
    let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g1"))]);
    assert_eq!(checks_of(&mut c, 5, &req).await, vec![group(Describe, "g1")], "DescribeGroups");
    let req = FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![s("g1")]);
    assert_eq!(checks_of(&mut c, 4, &req).await, vec![group(Describe, "g1")], "FindCoordinator (group)");
    let req = FindCoordinatorRequest::default().with_key_type(1).with_coordinator_keys(vec![s("tx")]);
    assert_eq!(checks_of(&mut c, 4, &req).await, vec![txn(Describe, "tx")], "FindCoordinator (transaction)");
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g3")))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(10_000)
        .with_subscribed_topic_names(Some(vec![topic_name(TOPIC)]))
        .with_topic_partitions(Some(vec![]));
    let joined = c.call(0, &req).await;
    assert_eq!(joined.error_code, 0);
    assert_eq!(c.checks(), vec![group(Read, "g3"), topic(Describe, TOPIC)], "ConsumerGroupHeartbeat");
    let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g3"))]);
    assert_eq!(
        checks_of(&mut c, 0, &req).await,
        vec![group(Describe, "g3"), topic(Describe, TOPIC)],
        "ConsumerGroupDescribe: the group, then the topics it shows"
    );

    // Producers and transactions.
    let req = InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(10_000);
    assert_eq!(checks_of(&mut c, 4, &req).await, vec![cluster(IdempotentWrite)], "InitProducerId (idempotent)");
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s("tx"))))
        .with_transaction_timeout_ms(60_000);
    let init = c.call(4, &req).await;
    assert_eq!(init.error_code, 0);
    assert_eq!(c.checks(), vec![txn(Write, "tx")], "InitProducerId (transactional)");
    let (pid, epoch) = (init.producer_id, init.producer_epoch);
    let t = AddPartitionsToTxnTopic::default().with_name(topic_name(TOPIC)).with_partitions(vec![0]);
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s("tx")))
        .with_v3_and_below_producer_id(pid)
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![t]);
    assert_eq!(checks_of(&mut c, 3, &req).await, vec![txn(Write, "tx"), topic(Write, TOPIC)], "AddPartitionsToTxn");
    let req = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_producer_id(pid)
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(s("g1")));
    assert_eq!(checks_of(&mut c, 3, &req).await, vec![txn(Write, "tx"), group(Read, "g1")], "AddOffsetsToTxn");
    let p = TxnOffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(1);
    let t = TxnOffsetCommitRequestTopic::default().with_name(topic_name(TOPIC)).with_partitions(vec![p]);
    let req = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s("g1")))
        .with_producer_id(pid)
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![t]);
    assert_eq!(
        checks_of(&mut c, 3, &req).await,
        vec![txn(Write, "tx"), group(Read, "g1"), topic(Read, TOPIC)],
        "TxnOffsetCommit"
    );
    let req = DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(s("tx"))]);
    assert_eq!(
        checks_of(&mut c, 0, &req).await,
        vec![txn(Describe, "tx"), topic(Describe, TOPIC)],
        "DescribeTransactions (the id, then the topics it shows)"
    );
    assert_eq!(checks_of(&mut c, 1, &ListTransactionsRequest::default()).await, vec![txn(Describe, "tx")]);
    let req = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_producer_id(pid)
        .with_producer_epoch(epoch)
        .with_committed(false);
    assert_eq!(checks_of(&mut c, 3, &req).await, vec![txn(Write, "tx")], "EndTxn");
    let req = DescribeProducersRequest::default()
        .with_topics(vec![TopicRequest::default().with_name(topic_name(TOPIC)).with_partition_indexes(vec![0])]);
    assert_eq!(checks_of(&mut c, 0, &req).await, vec![topic(Read, TOPIC)], "DescribeProducers");

    // Administration.
    let t = CreatePartitionsTopic::default().with_name(topic_name(TOPIC)).with_count(2);
    let req = CreatePartitionsRequest::default().with_topics(vec![t]).with_validate_only(true);
    assert_eq!(checks_of(&mut c, 3, &req).await, vec![topic(Alter, TOPIC)], "CreatePartitions");
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default().with_resource_type(2).with_resource_name(s(TOPIC)),
        DescribeConfigsResource::default().with_resource_type(4).with_resource_name(s("0")),
    ]);
    assert_eq!(
        checks_of(&mut c, 4, &req).await,
        vec![topic(DescribeConfigs, TOPIC), cluster(DescribeConfigs)],
        "DescribeConfigs"
    );
    let config = ac::AlterableConfig::default().with_name(s("retention.ms")).with_value(Some(s("1000")));
    let r = ac::AlterConfigsResource::default().with_resource_type(2).with_resource_name(s(TOPIC));
    let req =
        AlterConfigsRequest::default().with_resources(vec![r.with_configs(vec![config])]).with_validate_only(true);
    assert_eq!(checks_of(&mut c, 2, &req).await, vec![topic(AlterConfigs, TOPIC)], "AlterConfigs");
    let config = iac::AlterableConfig::default().with_name(s("log.retention.ms")).with_value(Some(s("1000")));
    let r = iac::AlterConfigsResource::default().with_resource_type(4).with_resource_name(s(""));
    let req = IncrementalAlterConfigsRequest::default()
        .with_resources(vec![r.with_configs(vec![config])])
        .with_validate_only(true);
    assert_eq!(checks_of(&mut c, 1, &req).await, vec![cluster(AlterConfigs)], "IncrementalAlterConfigs");
    let p = DeleteRecordsPartition::default().with_partition_index(0).with_offset(0);
    let t = DeleteRecordsTopic::default().with_name(topic_name(TOPIC)).with_partitions(vec![p]);
    let req = DeleteRecordsRequest::default().with_topics(vec![t]).with_timeout_ms(10_000);
    assert_eq!(checks_of(&mut c, 2, &req).await, vec![topic(Delete, TOPIC)], "DeleteRecords");
    assert_eq!(checks_of(&mut c, 4, &DescribeLogDirsRequest::default()).await, vec![cluster(Describe)]);
    assert_eq!(checks_of(&mut c, 1, &DescribeClusterRequest::default()).await, vec![], "DescribeCluster");
    let req = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g1"))]);
    assert_eq!(checks_of(&mut c, 2, &req).await, vec![group(Delete, "g1")], "DeleteGroups");
    let req = DeleteTopicsRequest::default()
        .with_topics(vec![DeleteTopicState::default().with_name(Some(topic_name(TOPIC)))])
        .with_timeout_ms(10_000);
    assert_eq!(checks_of(&mut c, 6, &req).await, vec![cluster(Delete)], "DeleteTopics (DELETE on the cluster)");
    agent.shutdown();
    agent.wait().await;
}
