//! Three agents in one process sharing one metastore and one object-store directory, as three processes
//! would share PostgreSQL and a bucket: Metadata from each lists all three with leaders spread by
//! rendezvous hashing; a client naming its zone sees only that zone's agents; FindCoordinator agrees across
//! agents and the others refuse with NOT_COORDINATOR; when an agent stops, the others take over its
//! partitions and coordinator shards. Waits are bounded polls, never timed assertions.

mod common;

use bytes::{Bytes, BytesMut};
use common::{Conn, eventually, s};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use weft_agent::clock::{Clock, RandomIds, SystemClock};

const NOT_COORDINATOR: i16 = 16;
const PARTITIONS: i32 = 30;

struct Cluster {
    _dir: tempfile::TempDir,
    agents: Vec<weft_agent::RunningAgent>,
}

async fn start_three() -> Cluster {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    let mut agents = Vec::new();
    for (i, zone) in ["z1", "z1", "z2"].into_iter().enumerate() {
        let mut config = weft_agent::AgentConfig::with_data_dir(dir.path().join(format!("agent-{i}")));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.admin_listen = None;
        config.schema_registry_listen = None;
        config.object_store = Some(format!("file://{}/objects", dir.path().display()));
        config.zone = Some(zone.to_string());
        config.broker_heartbeat_interval = Duration::from_millis(100);
        config.broker_session_timeout = Duration::from_millis(1500);
        let agent = weft_agent::start_on(config, meta.clone(), Arc::new(SystemClock), Arc::new(RandomIds))
            .await
            .expect("agent starts");
        agents.push(agent);
    }
    Cluster { _dir: dir, agents }
}

fn metadata_request() -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s("spread")))),
        ]))
        .with_allow_auto_topic_creation(false)
}

/// Broker ids and, per partition, the leader, as `addr` answers a client named `client_id`.
async fn metadata(addr: SocketAddr, client_id: &str) -> (BTreeSet<i32>, Vec<i32>) {
    let mut c = Conn::open(addr, client_id).await;
    let md = c.call(12, &metadata_request()).await;
    let brokers = md.brokers.iter().map(|b| b.node_id.0).collect();
    let topic = &md.topics[0];
    assert_eq!(topic.error_code, 0);
    let mut by_partition: Vec<(i32, i32)> =
        topic.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect();
    by_partition.sort();
    for p in &topic.partitions {
        assert_eq!((p.replica_nodes.clone(), p.isr_nodes.clone()), (vec![p.leader_id], vec![p.leader_id]));
    }
    (brokers, by_partition.into_iter().map(|(_, l)| l).collect())
}

/// The coordinator each agent names for `keys` (FindCoordinator v4, batched).
async fn coordinators(addr: SocketAddr, key_type: i8, keys: &[String]) -> Vec<i32> {
    let mut c = Conn::open(addr, "finder").await;
    let req = FindCoordinatorRequest::default()
        .with_key_type(key_type)
        .with_coordinator_keys(keys.iter().map(|k| s(k)).collect());
    let resp = c.call(4, &req).await;
    resp.coordinators.iter().map(|c| if c.error_code == 0 { c.node_id.0 } else { -1 }).collect()
}

async fn commit_offset(addr: SocketAddr, group: &str) -> i16 {
    let mut c = Conn::open(addr, "committer").await;
    let partition = OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(0);
    let topic = OffsetCommitRequestTopic::default().with_name(TopicName(s("spread"))).with_partitions(vec![partition]);
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![topic]);
    c.call(8, &req).await.topics[0].partitions[0].error_code
}

async fn init_transactional(addr: SocketAddr, id: &str) -> i16 {
    let mut c = Conn::open(addr, "producer").await;
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    c.call(4, &req).await.error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_without_the_kafka_role_are_not_brokers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    let mut started = Vec::new();
    for roles in ["kafka", "jobs"] {
        let mut config = weft_agent::AgentConfig::with_data_dir(dir.path().join(roles));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.admin_listen = None;
        config.schema_registry_listen = None;
        config.object_store = Some(format!("file://{}/objects", dir.path().display()));
        config.roles = weft_agent::config::Roles::parse(roles).expect("roles");
        config.broker_heartbeat_interval = Duration::from_millis(100);
        let agent = weft_agent::start_on(config, meta.clone(), Arc::new(SystemClock), Arc::new(RandomIds))
            .await
            .expect("agent starts");
        started.push(agent);
    }
    assert_eq!((started[0].serves_kafka, started[1].serves_kafka), (true, false));
    assert_ne!(started[0].node_id, started[1].node_id, "both registered");
    let live = meta.live_agents(SystemClock.now_ms(), 60_000).await.expect("registry");
    assert_eq!(live.len(), 2, "the jobs agent is registered too");
    // Give the kafka agent a few heartbeats to see the other one; it still lists only itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = Conn::open(started[0].kafka_addr, "plain").await;
    let md = c.call(12, &MetadataRequest::default().with_topics(Some(Vec::new()))).await;
    assert_eq!(md.brokers.iter().map(|b| b.node_id.0).collect::<Vec<_>>(), vec![started[0].node_id]);
    for agent in started {
        agent.shutdown();
        agent.wait().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_share_partitions_zones_and_coordinators() {
    let mut cluster = start_three().await;
    let addrs: Vec<SocketAddr> = cluster.agents.iter().map(|a| a.kafka_addr).collect();
    let ids: Vec<i32> = cluster.agents.iter().map(|a| a.node_id).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 3, "node ids are unique: {ids:?}");
    let all: BTreeSet<i32> = ids.iter().copied().collect();

    let mut c = Conn::open(addrs[0], "admin").await;
    let topic = CreatableTopic::default()
        .with_name(TopicName(s("spread")))
        .with_num_partitions(PARTITIONS)
        .with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0);

    // Every agent lists all three, and they agree on every leader.
    let mut views = Vec::new();
    for addr in &addrs {
        let view = eventually("all three agents listed", || async {
            let (brokers, leaders) = metadata(*addr, "plain").await;
            (brokers == all).then_some(leaders)
        })
        .await;
        views.push(view);
    }
    assert!(views.iter().all(|v| *v == views[0]), "agents disagree on leaders: {views:?}");
    let led: BTreeMap<i32, usize> = all.iter().map(|n| (*n, views[0].iter().filter(|l| *l == n).count())).collect();
    assert!(led.values().all(|n| *n >= 4), "leaders spread over the agents: {led:?}");

    // Zones: z2 has one agent, z1 two; an unknown zone gets everyone.
    for addr in &addrs {
        let (brokers, leaders) = metadata(*addr, "app-1,weft_az=z2 x").await;
        assert_eq!(brokers, BTreeSet::from([ids[2]]));
        assert!(leaders.iter().all(|l| *l == ids[2]));
        let (brokers, leaders) = metadata(*addr, "weft_az=z1").await;
        assert_eq!(brokers, BTreeSet::from([ids[0], ids[1]]));
        assert!(leaders.iter().all(|l| *l == ids[0] || *l == ids[1]));
        assert_eq!(metadata(*addr, "weft_az=z9").await.0, all);
    }

    // Coordinators: one per key, the same from every agent, over all zones.
    let groups: Vec<String> = (0..24).map(|i| format!("group-{i}")).collect();
    let txns: Vec<String> = (0..12).map(|i| format!("txn-{i}")).collect();
    let owners = coordinators(addrs[0], 0, &groups).await;
    let txn_owners = coordinators(addrs[0], 1, &txns).await;
    for addr in &addrs[1..] {
        assert_eq!(coordinators(*addr, 0, &groups).await, owners);
        assert_eq!(coordinators(*addr, 1, &txns).await, txn_owners);
    }
    assert_eq!(owners.iter().collect::<BTreeSet<_>>().len(), 3, "groups spread over all agents: {owners:?}");
    for (addr, (group, owner)) in addrs.iter().cycle().zip(groups.iter().zip(&owners)).take(6) {
        let mut c = Conn::open(*addr, "finder-v3").await;
        let one = c.call(3, &FindCoordinatorRequest::default().with_key(s(group))).await;
        assert_eq!((one.error_code, one.node_id.0), (0, *owner), "v3 names the same coordinator as v4");
        assert_eq!(one.port, addrs[ids.iter().position(|n| n == owner).expect("known")].port() as i32);
    }
    let index = |node: i32| ids.iter().position(|n| *n == node).expect("a known agent");
    for (group, owner) in groups.iter().zip(&owners) {
        let served = eventually("the owner serves its group", || async {
            (commit_offset(addrs[index(*owner)], group).await == 0).then_some(())
        });
        served.await;
        for (i, addr) in addrs.iter().enumerate() {
            if ids[i] != *owner {
                assert_eq!(commit_offset(*addr, group).await, NOT_COORDINATOR, "{group} at agent {}", ids[i]);
            }
        }
    }
    // Each group is listed by its coordinator alone, as each Kafka broker lists the groups it coordinates.
    let mut listed = Vec::new();
    for addr in &addrs {
        let mut c = Conn::open(*addr, "lister").await;
        let resp = c.call(5, &ListGroupsRequest::default()).await;
        listed.extend(resp.groups.into_iter().map(|g| g.group_id.to_string()));
    }
    listed.sort();
    assert_eq!(listed, groups.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>());
    for (txn, owner) in txns.iter().zip(&txn_owners) {
        for (i, addr) in addrs.iter().enumerate() {
            if ids[i] != *owner {
                assert_eq!(init_transactional(*addr, txn).await, NOT_COORDINATOR, "{txn} at agent {}", ids[i]);
            }
        }
    }

    // The third agent stops: the others take over its partitions and its shards; nothing else moves.
    let stopped = cluster.agents.pop().expect("three agents");
    stopped.shutdown();
    stopped.wait().await;
    let left: BTreeSet<i32> = ids[..2].iter().copied().collect();
    for addr in &addrs[..2] {
        let after = eventually("the stopped agent leaves", || async {
            let (brokers, leaders) = metadata(*addr, "plain").await;
            (brokers == left).then_some(leaders)
        })
        .await;
        for (p, (before, now)) in views[0].iter().zip(&after).enumerate() {
            assert!(left.contains(now), "partition {p} led by {now}");
            if *before != ids[2] {
                assert_eq!(before, now, "partition {p} moved though its leader stayed");
            }
        }
    }
    let moved = coordinators(addrs[0], 0, &groups).await;
    assert_eq!(coordinators(addrs[1], 0, &groups).await, moved);
    for ((group, before), now) in groups.iter().zip(&owners).zip(&moved) {
        assert!(left.contains(now));
        if *before != ids[2] {
            assert_eq!(before, now, "{group} moved though its coordinator stayed");
        }
        eventually("the new owner serves the group", || async {
            (commit_offset(addrs[index(*now)], group).await == 0).then_some(())
        })
        .await;
    }
    for agent in cluster.agents {
        agent.shutdown();
        agent.wait().await;
    }
}

fn one_record(value: &str) -> Bytes {
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let r = Record {
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
        value: Some(Bytes::from(value.to_string())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, [&r], &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("batch");
    buf.freeze()
}

/// Fetch v12 of partition 0 of `topic` at `offset`: (error code, high watermark).
async fn fetch_at(addr: SocketAddr, topic: &str, offset: i64) -> (i16, i64) {
    let mut c = Conn::open(addr, "fetcher").await;
    let partition = fetch_request::FetchPartition::default().with_partition(0).with_fetch_offset(offset);
    let req = FetchRequest::default().with_max_wait_ms(0).with_min_bytes(0).with_max_bytes(1 << 20).with_topics(vec![
        fetch_request::FetchTopic::default().with_topic(TopicName(s(topic))).with_partitions(vec![partition]),
    ]);
    let resp = c.call(12, &req).await;
    let p = &resp.responses[0].partitions[0];
    (p.error_code, p.high_watermark)
}

/// An agent whose view of a partition's end lags commits made through another agent (SQLite has no change
/// feed; on PostgreSQL the feed can lag) checks the metastore before answering OFFSET_OUT_OF_RANGE, so a
/// consumer moving between agents is never reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_past_a_stale_end_is_checked_against_the_metastore() {
    let cluster = start_three().await;
    let addrs: Vec<SocketAddr> = cluster.agents.iter().map(|a| a.kafka_addr).collect();
    let mut c = Conn::open(addrs[0], "admin").await;
    let topic =
        CreatableTopic::default().with_name(TopicName(s("lagged"))).with_num_partitions(1).with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0);
    assert_eq!(fetch_at(addrs[1], "lagged", 0).await, (0, 0), "agent 2 watches the empty partition");
    for i in 0..3 {
        let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            produce_request::TopicProduceData::default().with_name(TopicName(s("lagged"))).with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(one_record(&format!("r{i}")))),
            ]),
        ]);
        let resp = c.call(9, &req).await;
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    }
    assert_eq!(fetch_at(addrs[1], "lagged", 3).await, (0, 3), "offset 3 is the end, not out of range");
    assert_eq!(fetch_at(addrs[1], "lagged", 4).await.0, 1, "past the real end is out of range");
}
