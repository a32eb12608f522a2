//! Share groups (KIP-932) after the review of the share path, over the wire: one agent serves a share
//! partition whatever the client's zone; records produced between an assignment and the first fetch are
//! delivered, and a partition added to a consumed topic starts at its earliest offset; an idle session keeps
//! its member's locks; a long poll whose session closed acquires nothing; DeleteGroups waits a session
//! timeout after the coordinator took the group's shard; over-long member ids are refused. Agents with a
//! manual clock move time by hand; waits are bounded polls, never timed assertions.

mod common;

use bytes::Bytes;
use common::{Conn, eventually, plain_batch, s};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use uuid::Uuid;
use weft_agent::clock::{ManualClock, RandomIds, SystemClock};

const NOT_LEADER_OR_FOLLOWER: i16 = 6;

fn batch(value: &str) -> Bytes {
    plain_batch(&[(None, Some(Bytes::from(value.to_string())))], Compression::None)
}

fn config(dir: &std::path::Path, name: &str) -> weft_agent::AgentConfig {
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.join(name));
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.object_store = Some(format!("file://{}/objects", dir.display()));
    config
}

/// One agent whose clock moves only when the test moves it; leases and liveness last an hour of it.
async fn manual_agent(dir: &std::path::Path) -> (weft_agent::RunningAgent, Arc<ManualClock>) {
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", dir.display())).await.expect("metastore");
    let clock = Arc::new(ManualClock::default());
    clock.0.store(1_700_000_000_000, Ordering::SeqCst);
    let mut config = config(dir, "agent");
    config.broker_heartbeat_interval = Duration::from_millis(100);
    config.broker_session_timeout = Duration::from_secs(3600);
    let agent = weft_agent::start_on(config, meta, clock.clone(), Arc::new(RandomIds)).await.expect("agent starts");
    (agent, clock)
}

async fn create_topic(c: &mut Conn, name: &str, partitions: i32) -> Uuid {
    let topic = CreatableTopic::default()
        .with_name(TopicName(s(name)))
        .with_num_partitions(partitions)
        .with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0, "{created:?}");
    created.topics[0].topic_id
}

async fn produce(c: &mut Conn, topic: &str, partition: i32, value: &str) {
    let produce = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
        TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![
            PartitionProduceData::default().with_index(partition).with_records(Some(batch(value))),
        ]),
    ]);
    let produced = c.call(9, &produce).await;
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0, "{produced:?}");
}

async fn set_group_config(c: &mut Conn, group: &str, name: &str, value: &str) {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let set = AlterableConfig::default().with_name(s(name)).with_value(Some(s(value)));
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default().with_resource_type(32).with_resource_name(s(group)).with_configs(vec![set]),
    ]);
    assert_eq!(c.call(1, &alter).await.responses[0].error_code, 0);
}

fn heartbeat(group: &str, member: &str, epoch: i32, topics: Option<&[&str]>) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(topics.map(|t| t.iter().map(|n| TopicName(s(n))).collect()))
}

/// A heartbeat answered without error (a coordinator lease renewing after the clock moved is retried).
async fn beat(c: &mut Conn, req: &ShareGroupHeartbeatRequest) -> ShareGroupHeartbeatResponse {
    let mut last = None;
    for _ in 0..100 {
        let r = c.call(1, req).await;
        if r.error_code == 0 {
            return r;
        }
        last = Some(r);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("heartbeat refused: {last:?}");
}

fn fetch(group: &str, member: &str, epoch: i32, topic: Uuid, partitions: &[i32], wait_ms: i32) -> ShareFetchRequest {
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_max_wait_ms(wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_max_records(100)
        .with_batch_size(100)
        .with_topics(vec![
            FetchTopic::default().with_topic_id(topic).with_partitions(
                partitions.iter().map(|p| FetchPartition::default().with_partition_index(*p)).collect(),
            ),
        ])
}

/// (partition, first, last, delivery count) of every acquired range.
fn acquired(r: &ShareFetchResponse) -> Vec<(i32, i64, i64, i16)> {
    let mut out = Vec::new();
    for t in &r.responses {
        for p in &t.partitions {
            out.extend(
                p.acquired_records.iter().map(|a| (p.partition_index, a.first_offset, a.last_offset, a.delivery_count)),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_serves_a_share_partition_whatever_the_clients_zone() {
    const PARTITIONS: i32 = 12;
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    let mut agents = Vec::new();
    for (i, zone) in ["z1", "z1", "z2"].into_iter().enumerate() {
        let mut config = config(dir.path(), &format!("agent-{i}"));
        config.zone = Some(zone.to_string());
        config.broker_heartbeat_interval = Duration::from_millis(100);
        config.broker_session_timeout = Duration::from_millis(1500);
        let agent = weft_agent::start_on(config, meta.clone(), Arc::new(SystemClock), Arc::new(RandomIds))
            .await
            .expect("agent starts");
        agents.push(agent);
    }
    let addrs: Vec<SocketAddr> = agents.iter().map(|a| a.kafka_addr).collect();
    let mut admin = Conn::open(addrs[0], "admin").await;
    let topic_id = create_topic(&mut admin, "zq", PARTITIONS).await;
    // The leaders a client naming no zone sees, once every agent lists every agent (each agent computes the
    // owner from its own view).
    let leaders: Vec<i32> = eventually("all three agents listed by each", || async {
        let mut seen = Vec::new();
        for addr in &addrs {
            let mut c = Conn::open(*addr, "plain").await;
            let request = MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s("zq")))),
            ]));
            let md = c.call(12, &request).await;
            let mut by: Vec<(i32, i32)> =
                md.topics[0].partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect();
            by.sort();
            seen.push((md.brokers.len() == 3).then(|| by.into_iter().map(|(_, l)| l).collect::<Vec<i32>>()));
        }
        (seen.iter().all(|v| v.is_some() && *v == seen[0])).then(|| seen[0].clone()).flatten()
    })
    .await;
    let all: Vec<i32> = (0..PARTITIONS).collect();
    // A z2 client sees only agent 2 in Metadata; agent 2 still serves only the partitions it owns and names
    // the owner (the no-zone Metadata leader) of the others, with its endpoint.
    for (i, addr) in addrs.iter().enumerate() {
        let mut c = Conn::open(*addr, "app,weft_az=z2").await;
        let r = c.call(1, &fetch("zg", &format!("m{i}"), 0, topic_id, &all, 0)).await;
        assert_eq!(r.error_code, 0, "{r:?}");
        for p in &r.responses[0].partitions {
            let owner = leaders[p.partition_index as usize];
            if owner == agents[i].node_id {
                assert_eq!(p.error_code, 0, "agent {i} owns {}: {p:?}", p.partition_index);
            } else {
                assert_eq!(p.error_code, NOT_LEADER_OR_FOLLOWER, "agent {i}, partition {}", p.partition_index);
                assert_eq!(p.current_leader.leader_id, owner);
                assert!(r.node_endpoints.iter().any(|e| e.node_id.0 == owner), "{:?}", r.node_endpoints);
            }
        }
    }
    assert!(leaders.iter().any(|l| *l != agents[2].node_id), "some partition is owned outside z2: {leaders:?}");
    for a in &agents {
        a.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_produced_after_the_assignment_are_delivered_and_new_partitions_start_at_earliest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, _clock) = manual_agent(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "init").await;
    let topic_id = create_topic(&mut c, "iq", 1).await;
    produce(&mut c, "iq", 0, "before-join").await;
    // share.auto.offset.reset is latest: the assignment fixes the start at the end now (offset 1).
    let joined = beat(&mut c, &heartbeat("ig", "m1", 0, Some(&["iq"]))).await;
    produce(&mut c, "iq", 0, "after-join").await;
    let first = c.call(1, &fetch("ig", "m1", 0, topic_id, &[0], 2_000)).await;
    assert_eq!(acquired(&first), vec![(0, 1, 1, 1)], "{first:?}");

    // A partition added to the topic: what is produced to it before the member is assigned it is delivered.
    let more = CreatePartitionsRequest::default().with_timeout_ms(10_000).with_topics(vec![
        create_partitions_request::CreatePartitionsTopic::default()
            .with_name(TopicName(s("iq")))
            .with_count(2)
            .with_assignments(None),
    ]);
    assert_eq!(c.call(3, &more).await.results[0].error_code, 0);
    produce(&mut c, "iq", 1, "new-partition").await;
    let epoch = joined.member_epoch;
    let assigned = eventually("the new partition assigned", || async {
        let mut c = Conn::open(agent.kafka_addr, "init").await;
        let r = c.call(1, &heartbeat("ig", "m1", epoch, None)).await;
        let has_new =
            r.assignment.as_ref().is_some_and(|a| a.topic_partitions.iter().any(|t| t.partitions.contains(&1)));
        has_new.then_some(r.member_epoch)
    })
    .await;
    assert!(assigned > epoch);
    let second = c.call(1, &fetch("ig", "m1", 1, topic_id, &[1], 2_000)).await;
    assert_eq!(acquired(&second), vec![(1, 0, 0, 1)], "{second:?}");
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_keeps_its_members_locks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, clock) = manual_agent(dir.path()).await;
    let advance = |ms: i64| clock.0.fetch_add(ms, Ordering::SeqCst);
    let mut c = Conn::open(agent.kafka_addr, "idle").await;
    let topic_id = create_topic(&mut c, "lq", 1).await;
    set_group_config(&mut c, "lg", "share.record.lock.duration.ms", "120000").await;
    set_group_config(&mut c, "lg", "share.auto.offset.reset", "earliest").await;
    let m1 = beat(&mut c, &heartbeat("lg", "m1", 0, Some(&["lq"]))).await;
    produce(&mut c, "lq", 0, "slow work").await;
    let first = c.call(1, &fetch("lg", "m1", 0, topic_id, &[0], 2_000)).await;
    assert_eq!(acquired(&first), vec![(0, 0, 0, 1)]);
    // m1 keeps heartbeating (its member lives) but sends no share fetch for 61 s: its session is dropped.
    advance(30_000);
    beat(&mut c, &heartbeat("lg", "m1", m1.member_epoch, None)).await;
    advance(31_000);
    beat(&mut c, &heartbeat("lg", "m1", m1.member_epoch, None)).await;
    // A wrong epoch does not touch the session: INVALID_SHARE_SESSION_EPOCH while it lives, then not found.
    eventually("m1's idle session dropped", || async {
        let mut probe = Conn::open(agent.kafka_addr, "idle").await;
        (probe.call(1, &fetch("lg", "m1", 99, topic_id, &[0], 0)).await.error_code == 122).then_some(())
    })
    .await;
    // The record stays locked to m1 for its lock duration: another member gets nothing yet.
    let m2 = beat(&mut c, &heartbeat("lg", "m2", 0, Some(&["lq"]))).await;
    let other = c.call(1, &fetch("lg", "m2", 0, topic_id, &[0], 200)).await;
    assert_eq!(acquired(&other), vec![], "the lock outlives the idle session");
    // Past the lock duration it is delivered again, a second time.
    advance(60_000);
    beat(&mut c, &heartbeat("lg", "m2", m2.member_epoch, None)).await;
    let again = c.call(1, &fetch("lg", "m2", 1, topic_id, &[], 5_000)).await;
    assert_eq!(acquired(&again), vec![(0, 0, 0, 2)], "{again:?}");
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_whose_session_closed_acquires_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, _clock) = manual_agent(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "poll").await;
    let topic_id = create_topic(&mut c, "pq", 1).await;
    beat(&mut c, &heartbeat("pg", "m1", 0, Some(&["pq"]))).await;
    beat(&mut c, &heartbeat("pg", "m2", 0, Some(&["pq"]))).await;
    let addr = agent.kafka_addr;
    let poll = tokio::spawn(async move {
        let mut c = Conn::open(addr, "poll").await;
        c.call(1, &fetch("pg", "m1", 0, topic_id, &[0], 3_000)).await
    });
    // Once the poll waits, m1 closes its session from another connection; then a record arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let close = ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s("pg"))))
        .with_member_id(Some(s("m1")))
        .with_share_session_epoch(-1);
    assert_eq!(c.call(1, &close).await.error_code, 0);
    produce(&mut c, "pq", 0, "after close").await;
    let polled = poll.await.expect("poll");
    assert_eq!(acquired(&polled), vec![], "a closed session acquires nothing");
    let taken = c.call(1, &fetch("pg", "m2", 0, topic_id, &[0], 2_000)).await;
    assert_eq!(acquired(&taken), vec![(0, 0, 0, 1)], "{taken:?}");
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_groups_waits_a_session_timeout_after_the_shard_was_taken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, clock) = manual_agent(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "delete").await;
    create_topic(&mut c, "dq", 1).await;
    let joined = beat(&mut c, &heartbeat("dg", "m1", 0, Some(&["dq"]))).await;
    assert_eq!(c.call(1, &heartbeat("dg", "m1", -1, None)).await.error_code, 0);
    assert_ne!(joined.member_epoch, 0);
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("dg"))]);
    // Just after taking the shard, members of the group may not have rejoined yet: NON_EMPTY_GROUP.
    assert_eq!(c.call(2, &delete).await.results[0].error_code, 68);
    clock.0.fetch_add(46_000, Ordering::SeqCst);
    let deleted = eventually("the group deleted", || async {
        let mut c = Conn::open(agent.kafka_addr, "delete").await;
        let code = c.call(2, &delete).await.results[0].error_code;
        (code != 14).then_some(code)
    })
    .await;
    assert_eq!(deleted, 0);
    let gone = c.call(1, &ShareGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("dg"))])).await;
    assert_eq!(gone.groups[0].error_code, 69);
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_ids_longer_than_a_uuid_are_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, _clock) = manual_agent(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "ids").await;
    let topic_id = create_topic(&mut c, "mq", 1).await;
    let long = "m".repeat(37);
    assert_eq!(c.call(1, &heartbeat("mg", &long, 0, Some(&["mq"]))).await.error_code, 42);
    assert_eq!(c.call(1, &fetch("mg", &long, 0, topic_id, &[0], 0)).await.error_code, 42);
    let ack = ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s("mg"))))
        .with_member_id(Some(s(&long)))
        .with_share_session_epoch(-1);
    assert_eq!(c.call(1, &ack).await.error_code, 42);
    let ok = "m".repeat(36);
    assert_eq!(c.call(1, &heartbeat("mg", &ok, 0, Some(&["mq"]))).await.error_code, 0);
    agent.shutdown();
}
