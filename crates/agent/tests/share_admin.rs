//! The share-group offsets admin APIs (DescribeShareGroupOffsets, AlterShareGroupOffsets,
//! DeleteShareGroupOffsets v0) over the wire, request by request: the start offset after acknowledgements,
//! NON_EMPTY_GROUP while a member is present, a reset delivered by the next ShareFetch (the leader's loaded
//! copy is dropped), deletion restarting the group at share.auto.offset.reset, the refusals Kafka answers,
//! and with two agents sharing a metastore: NOT_COORDINATOR off the coordinator and a reset through one agent
//! noticed by the partition's leader on the other.

mod common;

use bytes::Bytes;
use common::{Conn, eventually, plain_batch, s};
use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::share_fetch_request::{AcknowledgementBatch, FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use weft_agent::clock::{RandomIds, SystemClock};

const GROUP: &str = "sa";

fn heartbeat(group: &str, member: &str, epoch: i32, topics: Option<&[&str]>) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(topics.map(|t| t.iter().map(|n| TopicName(s(n))).collect()))
}

fn fetch(group: &str, member: &str, epoch: i32, topic: Uuid, acks: &[(i64, i64, i8)]) -> ShareFetchRequest {
    let batches = acks
        .iter()
        .map(|&(f, l, t)| {
            AcknowledgementBatch::default().with_first_offset(f).with_last_offset(l).with_acknowledge_types(vec![t])
        })
        .collect();
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_max_wait_ms(2_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_max_records(100)
        .with_batch_size(100)
        .with_topics(vec![FetchTopic::default().with_topic_id(topic).with_partitions(vec![
            FetchPartition::default().with_partition_index(0).with_acknowledgement_batches(batches),
        ])])
}

/// (first, last, delivery count) of each range acquired from the only partition.
fn acquired(r: &ShareFetchResponse) -> Vec<(i64, i64, i16)> {
    let Some(p) = r.responses.first().and_then(|t| t.partitions.first()) else { return vec![] };
    p.acquired_records.iter().map(|a| (a.first_offset, a.last_offset, a.delivery_count)).collect()
}

fn describe(group: &str, topics: Option<&[&str]>) -> DescribeShareGroupOffsetsRequest {
    let topics = topics.map(|ts| {
        ts.iter()
            .map(|t| {
                DescribeShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(TopicName(s(t)))
                    .with_partitions(vec![0])
            })
            .collect()
    });
    DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default().with_group_id(GroupId(s(group))).with_topics(topics),
    ])
}

/// The start offset of partition 0 of `topic` in `group`, -1 without state.
async fn start_offset(c: &mut Conn, group: &str, topic: &str) -> i64 {
    let r = c.call(0, &describe(group, Some(&[topic]))).await;
    assert_eq!(r.groups[0].error_code, 0, "{r:?}");
    let p = &r.groups[0].topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "{r:?}");
    p.start_offset
}

fn alter(group: &str, topic: &str, partitions: &[(i32, i64)]) -> AlterShareGroupOffsetsRequest {
    let partitions = partitions
        .iter()
        .map(|&(p, o)| AlterShareGroupOffsetsRequestPartition::default().with_partition_index(p).with_start_offset(o))
        .collect();
    AlterShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group))).with_topics(vec![
        AlterShareGroupOffsetsRequestTopic::default().with_topic_name(TopicName(s(topic))).with_partitions(partitions),
    ])
}

fn delete(group: &str, topic: &str) -> DeleteShareGroupOffsetsRequest {
    DeleteShareGroupOffsetsRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_topics(vec![DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(TopicName(s(topic)))])
}

async fn create_topic(c: &mut Conn, name: &str) -> Uuid {
    let topic =
        CreatableTopic::default().with_name(TopicName(s(name))).with_num_partitions(1).with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0, "{created:?}");
    created.topics[0].topic_id
}

async fn set_earliest(c: &mut Conn, group: &str) {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let set = AlterableConfig::default().with_name(s("share.auto.offset.reset")).with_value(Some(s("earliest")));
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default().with_resource_type(32).with_resource_name(s(group)).with_configs(vec![set]),
    ]);
    assert_eq!(c.call(1, &alter).await.responses[0].error_code, 0);
}

async fn produce(c: &mut Conn, topic: &str, n: usize) {
    let records: Vec<(Option<Bytes>, Option<Bytes>)> =
        (0..n).map(|i| (None, Some(Bytes::from(format!("v{i}"))))).collect();
    let data =
        PartitionProduceData::default().with_index(0).with_records(Some(plain_batch(&records, Compression::None)));
    let produce = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
        TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![data]),
    ]);
    let r = c.call(9, &produce).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0, "{r:?}");
}

/// Joins `member`, fetches once in a new session (acknowledging nothing) and returns what it acquired.
async fn join_and_fetch(c: &mut Conn, group: &str, member: &str, topic: &str, topic_id: Uuid) -> Vec<(i64, i64, i16)> {
    let joined = c.call(1, &heartbeat(group, member, 0, Some(&[topic]))).await;
    assert_eq!(joined.error_code, 0, "{joined:?}");
    let r = c.call(1, &fetch(group, member, 0, topic_id, &[])).await;
    assert_eq!(r.error_code, 0, "{r:?}");
    acquired(&r)
}

async fn leave(c: &mut Conn, group: &str, member: &str) {
    assert_eq!(c.call(1, &heartbeat(group, member, -1, None)).await.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_offsets_are_described_altered_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let mut c = Conn::open(agent.kafka_addr, "share-admin").await;
    let topic_id = create_topic(&mut c, "q").await;
    set_earliest(&mut c, GROUP).await;
    produce(&mut c, "q", 5).await;

    // Nothing stored yet: -1 for a named partition, nothing for "all topics".
    assert_eq!(start_offset(&mut c, GROUP, "q").await, -1);
    let all = c.call(0, &describe(GROUP, None)).await;
    assert!(all.groups[0].topics.is_empty(), "{all:?}");

    // m1 takes 0..4 and accepts 0..1: the start offset moves to 2, and "all topics" lists q by name and id.
    assert_eq!(join_and_fetch(&mut c, GROUP, "m1", "q", topic_id).await, vec![(0, 4, 1)]);
    let r = c.call(1, &fetch(GROUP, "m1", 1, topic_id, &[(0, 1, 1)]).with_max_wait_ms(0)).await;
    assert_eq!(r.responses[0].partitions[0].acknowledge_error_code, 0, "{r:?}");
    assert_eq!(start_offset(&mut c, GROUP, "q").await, 2);
    let all = c.call(0, &describe(GROUP, None)).await;
    let t = &all.groups[0].topics[0];
    assert_eq!((t.topic_name.as_str(), t.topic_id, t.partitions[0].start_offset), ("q", topic_id, 2));

    // While m1 is a member, the offsets may not change.
    let refused = c.call(0, &alter(GROUP, "q", &[(0, 4)])).await;
    assert_eq!(refused.error_code, 68, "{refused:?}");
    assert_eq!(c.call(0, &delete(GROUP, "q")).await.error_code, 68);
    assert_eq!(start_offset(&mut c, GROUP, "q").await, 2);

    // Empty: the reset to 4 is stored, and the next member starts there although 2..3 were released.
    leave(&mut c, GROUP, "m1").await;
    let altered = c.call(0, &alter(GROUP, "q", &[(0, 4)])).await;
    assert_eq!((altered.error_code, altered.responses[0].topic_id), (0, topic_id), "{altered:?}");
    assert_eq!(altered.responses[0].partitions[0].error_code, 0);
    assert_eq!(start_offset(&mut c, GROUP, "q").await, 4);
    assert_eq!(join_and_fetch(&mut c, GROUP, "m2", "q", topic_id).await, vec![(4, 4, 1)]);
    leave(&mut c, GROUP, "m2").await;

    // Deleting the offsets drops the state: the group starts over at share.auto.offset.reset (earliest).
    let deleted = c.call(0, &delete(GROUP, "q")).await;
    assert_eq!((deleted.error_code, deleted.responses[0].error_code), (0, 0), "{deleted:?}");
    assert_eq!(deleted.responses[0].topic_id, topic_id);
    assert_eq!(start_offset(&mut c, GROUP, "q").await, -1);
    assert_eq!(join_and_fetch(&mut c, GROUP, "m3", "q", topic_id).await, vec![(0, 4, 1)]);
    leave(&mut c, GROUP, "m3").await;

    // Refusals: per partition for unknown topics, partitions and negative offsets; per topic without state.
    let r = c.call(0, &alter(GROUP, "nope", &[(0, 1)])).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 3);
    let r = c.call(0, &alter(GROUP, "q", &[(1, 1), (0, -5)])).await;
    let codes: Vec<i16> = r.responses[0].partitions.iter().map(|p| p.error_code).collect();
    assert_eq!(codes, vec![3, 42]);
    assert_eq!(c.call(0, &delete(GROUP, "nope")).await.responses[0].error_code, 3);
    create_topic(&mut c, "untouched").await;
    assert_eq!(c.call(0, &delete(GROUP, "untouched")).await.responses[0].error_code, 3);
    // An unknown group has no offsets to delete; altering creates it, as Kafka does.
    let r = c.call(0, &delete("ghost", "q")).await;
    assert_eq!(r.error_code, 69, "{r:?}");
    assert_eq!(c.call(0, &alter("ghost", "q", &[(0, 3)])).await.error_code, 0);
    assert_eq!(start_offset(&mut c, "ghost", "q").await, 3);
    let listed = c.call(5, &ListGroupsRequest::default()).await;
    assert!(listed.groups.iter().any(|g| g.group_id.as_str() == "ghost" && g.group_type.as_str() == "Share"));
    // A consumer group's id is not a share group; an empty id is invalid.
    let beat = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("classic")))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(10_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("q"))]))
        .with_topic_partitions(Some(vec![]));
    assert_eq!(c.call(0, &beat).await.error_code, 0);
    assert_eq!(c.call(0, &alter("classic", "q", &[(0, 1)])).await.error_code, 69);
    assert_eq!(c.call(0, &describe("classic", None)).await.groups[0].error_code, 69);
    // A simple group (committed offsets, no members) is a classic group too: not turned into a share group.
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("simple")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default().with_name(TopicName(s("q"))).with_partitions(
                vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1),
                ],
            ),
        ]);
    assert_eq!(c.call(8, &commit).await.topics[0].partitions[0].error_code, 0);
    assert_eq!(c.call(0, &alter("simple", "q", &[(0, 1)])).await.error_code, 69);
    assert_eq!(c.call(0, &alter("", "q", &[(0, 1)])).await.error_code, 24);
    agent.shutdown();
}

async fn find_coordinator(addr: SocketAddr, group: &str) -> i32 {
    let mut c = Conn::open(addr, "finder").await;
    let r = c.call(4, &FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![s(group)])).await;
    assert_eq!(r.coordinators[0].error_code, 0, "{r:?}");
    r.coordinators[0].node_id.0
}

/// The node leading partition 0 of `topic`.
async fn leader(addr: SocketAddr, topic: &str) -> i32 {
    let mut c = Conn::open(addr, "meta").await;
    let req = MetadataRequest::default().with_topics(Some(vec![
        metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s(topic)))),
    ]));
    let r = c.call(12, &req).await;
    r.topics[0].partitions[0].leader_id.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_route_and_notice_resets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    let mut agents = Vec::new();
    for i in 0..2 {
        let mut config = weft_agent::AgentConfig::with_data_dir(dir.path().join(format!("agent-{i}")));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.admin_listen = None;
        config.schema_registry_listen = None;
        config.object_store = Some(format!("file://{}/objects", dir.path().display()));
        config.broker_heartbeat_interval = Duration::from_millis(100);
        config.broker_session_timeout = Duration::from_millis(1500);
        let agent = weft_agent::start_on(config, meta.clone(), Arc::new(SystemClock), Arc::new(RandomIds))
            .await
            .expect("agent starts");
        agents.push(agent);
    }
    let addr_of = |node: i32| agents.iter().find(|a| a.node_id == node).map(|a| a.kafka_addr).expect("known node");
    eventually("both agents listed", || async {
        let mut c = Conn::open(agents[0].kafka_addr, "meta").await;
        (c.call(12, &MetadataRequest::default().with_topics(Some(vec![]))).await.brokers.len() == 2).then_some(())
    })
    .await;
    let mut admin = Conn::open(agents[0].kafka_addr, "admin").await;
    let topic_id = create_topic(&mut admin, "spread").await;
    // A group coordinated by one agent and a partition led by the other, when both exist among a few groups.
    let lead = leader(agents[0].kafka_addr, "spread").await;
    let mut group = String::new();
    for i in 0..32 {
        let g = format!("g-{i}");
        if find_coordinator(agents[0].kafka_addr, &g).await != lead {
            group = g;
            break;
        }
    }
    assert!(!group.is_empty(), "some group is coordinated off the partition leader");
    let coordinator = find_coordinator(agents[0].kafka_addr, &group).await;
    let mut coord = Conn::open(addr_of(coordinator), "coord").await;
    let mut other = Conn::open(addr_of(lead), "other").await;
    // Shard leases settle after both agents are listed: wait until the leader no longer holds the group's.
    eventually("the group's shard settles off the partition leader", || {
        let (group, other_addr) = (group.clone(), addr_of(lead));
        async move {
            let mut c = Conn::open(other_addr, "settle").await;
            (c.call(0, &describe(&group, None)).await.groups[0].error_code == 16).then_some(())
        }
    })
    .await;
    set_earliest(&mut coord, &group).await;
    produce(&mut other, "spread", 3).await;

    // Off the coordinator: NOT_COORDINATOR for all three.
    assert_eq!(other.call(0, &alter(&group, "spread", &[(0, 1)])).await.error_code, 16);
    assert_eq!(other.call(0, &delete(&group, "spread")).await.error_code, 16);
    assert_eq!(other.call(0, &describe(&group, None)).await.groups[0].error_code, 16);

    // The leader loads the state and m1 accepts everything (start offset 3). A reset to 0 through the
    // coordinator leaves the leader's copy with nothing to acquire and no write to be fenced: the leader
    // notices the new state epoch when it revalidates its copy, and delivers 0..2 again.
    // The coordinator may still be taking its shard over (COORDINATOR_LOAD_IN_PROGRESS).
    for _ in 0..100 {
        if coord.call(1, &heartbeat(&group, "m1", 0, Some(&["spread"]))).await.error_code == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = other.call(1, &fetch(&group, "m1", 0, topic_id, &[])).await;
    assert_eq!(acquired(&r), vec![(0, 2, 1)]);
    let r = other.call(1, &fetch(&group, "m1", 1, topic_id, &[(0, 2, 1)]).with_max_wait_ms(0)).await;
    assert_eq!(r.responses[0].partitions[0].acknowledge_error_code, 0, "{r:?}");
    leave(&mut coord, &group, "m1").await;
    assert_eq!(start_offset(&mut coord, &group, "spread").await, 3);
    assert_eq!(coord.call(0, &alter(&group, "spread", &[(0, 0)])).await.responses[0].partitions[0].error_code, 0);
    assert_eq!(start_offset(&mut coord, &group, "spread").await, 0);
    assert_eq!(coord.call(1, &heartbeat(&group, "m2", 0, Some(&["spread"]))).await.error_code, 0);
    let mut got = Vec::new();
    for _ in 0..100 {
        let r = other.call(1, &fetch(&group, "m2", 0, topic_id, &[]).with_max_wait_ms(100)).await;
        got = acquired(&r);
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got, vec![(0, 2, 1)]);
    for a in agents {
        a.shutdown();
    }
}
