//! Share-group semantics beyond the basic wire flow (share_groups.rs), request by request against a real
//! agent on 127.0.0.1:0: `share.isolation.level=read_committed` (acquisition up to the last stable offset,
//! aborted transactions archived and never delivered), group ids of one type refused by the APIs of the
//! others as Kafka refuses them, a deleted topic taking its share state along (a re-created one starts
//! fresh), and the share metrics, lock timeouts included.

mod common;

use bytes::{Bytes, BytesMut};
use common::{Conn, eventually, s};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::share_fetch_request::{AcknowledgementBatch, FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::sync::Arc;
use uuid::Uuid;
use weft_meta::{Metastore, SharePartitionKey};

const GROUP_ID_NOT_FOUND: i16 = 69;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNKNOWN_TOPIC_ID: i16 = 100;

struct Setup {
    _dir: tempfile::TempDir,
    agent: weft_agent::RunningAgent,
    meta: Arc<dyn Metastore>,
    c: Conn,
}

async fn setup(admin: bool) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta: Arc<dyn Metastore> =
        weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path().join("agent"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = admin.then(|| "127.0.0.1:0".parse().unwrap());
    config.schema_registry_listen = None;
    config.object_store = Some(format!("file://{}/objects", dir.path().display()));
    let clock = Arc::new(weft_agent::clock::SystemClock);
    let ids = Arc::new(weft_agent::clock::RandomIds);
    let agent = weft_agent::start_on(config, meta.clone(), clock, ids).await.expect("agent starts");
    let c = Conn::open(agent.kafka_addr, "share-semantics").await;
    Setup { _dir: dir, agent, meta, c }
}

async fn create_topic(c: &mut Conn, name: &str) -> Uuid {
    let topic =
        CreatableTopic::default().with_name(TopicName(s(name))).with_num_partitions(1).with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0, "{created:?}");
    created.topics[0].topic_id
}

async fn set_group_configs(c: &mut Conn, group: &str, configs: &[(&str, &str)]) {
    let configs =
        configs.iter().map(|(k, v)| AlterableConfig::default().with_name(s(k)).with_value(Some(s(v)))).collect();
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default().with_resource_type(32).with_resource_name(s(group)).with_configs(configs),
    ]);
    let r = c.call(1, &alter).await;
    assert_eq!(r.responses[0].error_code, 0, "{r:?}");
}

/// One batch of `values`, transactional for `pid` (with `sequence`) or plain when `pid` is -1.
fn batch(pid: i64, sequence: i32, values: &[&str]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: pid >= 0,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: if pid >= 0 { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Plain records: the encoder keeps a run of following sequences in one batch, whose own is -1.
            sequence: if pid >= 0 { sequence + i as i32 } else { i as i32 - 1 },
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("batch");
    buf.freeze()
}

async fn produce(c: &mut Conn, topic: &str, txn: Option<&str>, records: Bytes) {
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(s(topic)))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))]),
        ]);
    let r = c.call(9, &produce).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0, "{r:?}");
}

/// Starts a transaction of `id` on partition 0 of `topic`; its producer id.
async fn begin(c: &mut Conn, id: &str, topic: &str) -> i64 {
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r = c.call(4, &init).await;
    assert_eq!((r.error_code, r.producer_epoch), (0, 0), "{r:?}");
    let pid = r.producer_id.0;
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(id)))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(0)
        .with_v3_and_below_topics(vec![
            AddPartitionsToTxnTopic::default().with_name(TopicName(s(topic))).with_partitions(vec![0]),
        ]);
    let r = c.call(3, &add).await;
    assert_eq!(r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code, 0, "{r:?}");
    pid
}

async fn end(c: &mut Conn, id: &str, pid: i64, commit: bool) {
    let end = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(id)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(0)
        .with_committed(commit);
    assert_eq!(c.call(3, &end).await.error_code, 0);
}

fn heartbeat(group: &str, member: &str, epoch: i32, topics: Option<&[&str]>) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(topics.map(|t| t.iter().map(|n| TopicName(s(n))).collect()))
}

/// A ShareFetch of `member` in `group` for partition 0 of `topic` with acknowledgements (first, last, type).
fn share_fetch(group: &str, member: &str, epoch: i32, topic: Uuid, acks: &[(i64, i64, i8)]) -> ShareFetchRequest {
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

/// (first, last, delivery count) of each acquired range of the only partition, and its error code.
fn acquired(r: &ShareFetchResponse) -> (Vec<(i64, i64, i16)>, i16) {
    assert_eq!(r.error_code, 0, "{r:?}");
    let Some(p) = r.responses.first().and_then(|t| t.partitions.first()) else { return (vec![], 0) };
    assert!(p.records.is_some(), "records are never null");
    (p.acquired_records.iter().map(|a| (a.first_offset, a.last_offset, a.delivery_count)).collect(), p.error_code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_acquires_up_to_the_stable_offset_and_archives_aborted_records() {
    let Setup { _dir, agent, mut c, .. } = setup(false).await;
    let topic = create_topic(&mut c, "tx-queue").await;
    for group in ["rc", "rc-one", "ru"] {
        set_group_configs(&mut c, group, &[("share.auto.offset.reset", "earliest")]).await;
    }
    for group in ["rc", "rc-one"] {
        set_group_configs(&mut c, group, &[("share.isolation.level", "read_committed")]).await;
    }
    // 0 plain; 1..2 aborted (marker 3); 4 committed (marker 5); 6 in an open transaction; 7 plain.
    produce(&mut c, "tx-queue", None, batch(-1, 0, &["p0"])).await;
    let a = begin(&mut c, "tx-a", "tx-queue").await;
    produce(&mut c, "tx-queue", Some("tx-a"), batch(a, 0, &["a1", "a2"])).await;
    end(&mut c, "tx-a", a, false).await;
    let b = begin(&mut c, "tx-b", "tx-queue").await;
    produce(&mut c, "tx-queue", Some("tx-b"), batch(b, 0, &["b1"])).await;
    end(&mut c, "tx-b", b, true).await;
    let open = begin(&mut c, "tx-c", "tx-queue").await;
    produce(&mut c, "tx-queue", Some("tx-c"), batch(open, 0, &["c1"])).await;
    produce(&mut c, "tx-queue", None, batch(-1, 0, &["p7"])).await;

    // read_uncommitted sees everything; read_committed stops at the open transaction and skips the aborted.
    for (group, member) in [("ru", "u1"), ("rc", "m1"), ("rc-one", "o1")] {
        assert_eq!(c.call(1, &heartbeat(group, member, 0, Some(&["tx-queue"]))).await.error_code, 0);
    }
    assert_eq!(acquired(&c.call(1, &share_fetch("ru", "u1", 0, topic, &[])).await).0, vec![(0, 7, 1)]);
    let first = c.call(1, &share_fetch("rc", "m1", 0, topic, &[])).await;
    assert_eq!(acquired(&first).0, vec![(0, 0, 1), (3, 5, 1)]);
    // Acknowledging the aborted offsets is refused: they were never handed out.
    let refused = c.call(1, &share_fetch("rc", "m1", 1, topic, &[(1, 2, 1)])).await;
    assert_eq!(refused.responses[0].partitions[0].acknowledge_error_code, 121, "{refused:?}");
    // Once the open transaction commits, the rest is acquired; the aborted records never come back.
    end(&mut c, "tx-c", open, true).await;
    let acks = [(0, 0, 1), (3, 3, 0), (4, 4, 1), (5, 5, 0)];
    let rest = c.call(1, &share_fetch("rc", "m1", 2, topic, &acks)).await;
    assert_eq!(rest.responses[0].partitions[0].acknowledge_error_code, 0, "{rest:?}");
    assert_eq!(acquired(&rest).0, vec![(6, 8, 1)]);

    // One record per fetch: a read that holds only aborted records is archived and the next one taken.
    let mut one = share_fetch("rc-one", "o1", 0, topic, &[]).with_max_records(1);
    assert_eq!(acquired(&c.call(1, &one).await).0, vec![(0, 0, 1)]);
    one = share_fetch("rc-one", "o1", 1, topic, &[(0, 0, 1)]).with_max_records(1);
    assert_eq!(acquired(&c.call(1, &one).await).0, vec![(3, 3, 1)]);
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_types_do_not_mix() {
    let Setup { _dir, agent, mut c, .. } = setup(false).await;
    create_topic(&mut c, "mixed").await;
    assert_eq!(c.call(1, &heartbeat("sg", "s1", 0, Some(&["mixed"]))).await.error_code, 0);

    // A share group's id for the classic protocol: INCONSISTENT_GROUP_PROTOCOL, as Kafka's classicGroupJoin.
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(s("sg")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            join_group_request::JoinGroupRequestProtocol::default().with_name(s("range")).with_metadata(Bytes::new()),
        ]);
    let joined = c.call(5, &join).await;
    assert_eq!((joined.error_code, joined.member_id.as_str()), (INCONSISTENT_GROUP_PROTOCOL, ""));
    // ...for KIP-848: GROUP_ID_NOT_FOUND, "not a consumer group", as for describing it as one.
    let kip848 = |group: &str, member: &str| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s(member))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(10_000)
            .with_subscribed_topic_names(Some(vec![TopicName(s("mixed"))]))
            .with_topic_partitions(Some(vec![]))
    };
    let r = c.call(0, &kip848("sg", "k1")).await;
    assert_eq!(r.error_code, GROUP_ID_NOT_FOUND, "{r:?}");
    assert_eq!(r.error_message.as_deref(), Some("group sg is not a consumer group"));
    let described = c.call(0, &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("sg"))])).await;
    assert_eq!(described.groups[0].error_code, GROUP_ID_NOT_FOUND);
    // ...and for committing offsets: a share group keeps none.
    use offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("sg")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default().with_name(TopicName(s("mixed"))).with_partitions(vec![
            OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(1),
        ])]);
    assert_eq!(c.call(8, &commit).await.topics[0].partitions[0].error_code, GROUP_ID_NOT_FOUND);
    // DescribeGroups: a bare Dead group before v6, GROUP_ID_NOT_FOUND from v6; ListGroups: type Share.
    let describe = DescribeGroupsRequest::default().with_groups(vec![GroupId(s("sg"))]);
    let old = c.call(5, &describe).await;
    assert_eq!((old.groups[0].error_code, old.groups[0].group_state.as_str()), (0, "Dead"));
    let new = c.call(6, &describe).await;
    assert_eq!(new.groups[0].error_code, GROUP_ID_NOT_FOUND);
    let listed = c.call(5, &ListGroupsRequest::default()).await;
    let types: Vec<(&str, &str)> = listed.groups.iter().map(|g| (g.group_id.as_str(), g.group_type.as_str())).collect();
    assert_eq!(types, vec![("sg", "Share")]);

    // The other way round: classic, KIP-848 and offsets-only groups refuse share members.
    let classic = c.call(3, &join.clone().with_group_id(GroupId(s("cg")))).await;
    assert_eq!(classic.error_code, 0, "{classic:?}");
    assert_eq!(c.call(0, &kip848("kg", "k1")).await.error_code, 0);
    let commit_only = commit.with_group_id(GroupId(s("og")));
    assert_eq!(c.call(8, &commit_only).await.topics[0].partitions[0].error_code, 0);
    for group in ["cg", "kg", "og"] {
        let r = c.call(1, &heartbeat(group, "s2", 0, Some(&["mixed"]))).await;
        assert_eq!(r.error_code, GROUP_ID_NOT_FOUND, "{group}: {r:?}");
        assert_eq!(r.error_message.as_deref(), Some(format!("group {group} is not a share group").as_str()));
    }
    agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_topic_takes_its_share_state_and_a_recreated_one_starts_fresh() {
    let Setup { _dir, agent, meta, mut c } = setup(false).await;
    let old = create_topic(&mut c, "doomed").await;
    set_group_configs(&mut c, "dg", &[("share.auto.offset.reset", "earliest")]).await;
    produce(&mut c, "doomed", None, batch(-1, 0, &["x", "y"])).await;
    assert_eq!(c.call(1, &heartbeat("dg", "d1", 0, Some(&["doomed"]))).await.error_code, 0);
    assert_eq!(acquired(&c.call(1, &share_fetch("dg", "d1", 0, old, &[])).await).0, vec![(0, 1, 1)]);
    let key = SharePartitionKey { group: "dg".into(), topic_id: old, partition: 0 };
    assert!(meta.share_state(&key).await.expect("read").is_some(), "stored while in use");

    let delete = DeleteTopicsRequest::default().with_topic_names(vec![TopicName(s("doomed"))]).with_timeout_ms(10_000);
    assert_eq!(c.call(5, &delete).await.responses[0].error_code, 0);
    assert_eq!(meta.share_state(&key).await.expect("read"), None, "deleted with the topic");
    // The session still names the old topic id: answered per partition, the session goes on.
    let gone = c.call(1, &share_fetch("dg", "d1", 1, old, &[(0, 1, 1)])).await;
    let p = &gone.responses[0].partitions[0];
    assert_eq!((p.error_code, p.acknowledge_error_code), (UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_ID), "{gone:?}");
    // Nothing of the old state comes back, even after the member's records would have been released.
    assert_eq!(c.call(1, &heartbeat("dg", "d1", -1, None)).await.error_code, 0);
    assert_eq!(meta.share_state(&key).await.expect("read"), None, "no late write resurrects it");

    // Re-created under the name: a new id, delivered from its start with a first delivery count.
    let new = create_topic(&mut c, "doomed").await;
    assert_ne!(new, old);
    produce(&mut c, "doomed", None, batch(-1, 0, &["z"])).await;
    let joined = c.call(1, &heartbeat("dg", "d2", 0, Some(&["doomed"]))).await;
    assert_eq!(joined.assignment.expect("assignment").topic_partitions[0].topic_id, new);
    assert_eq!(acquired(&c.call(1, &share_fetch("dg", "d2", 0, new, &[])).await).0, vec![(0, 0, 1)]);
    agent.shutdown();
}

/// The value of `weft_share_records_total{event="<event>"}` in the exposition, 0 when absent.
fn share_count(text: &str, event: &str) -> u64 {
    let wanted = format!("weft_share_records_total{{event=\"{event}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(wanted.as_str())).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_metrics_count_every_event_and_lock_timeouts_when_they_happen() {
    let Setup { _dir, agent, mut c, .. } = setup(true).await;
    let topic = create_topic(&mut c, "counted").await;
    // Kafka's smallest lock duration (group.share.min.record.lock.duration.ms), so the test waits 15 s once.
    set_group_configs(
        &mut c,
        "mg",
        &[("share.auto.offset.reset", "earliest"), ("share.record.lock.duration.ms", "15000")],
    )
    .await;
    produce(&mut c, "counted", None, batch(-1, 0, &["a", "b", "c", "d", "e"])).await;
    assert_eq!(c.call(1, &heartbeat("mg", "m1", 0, Some(&["counted"]))).await.error_code, 0);
    assert_eq!(acquired(&c.call(1, &share_fetch("mg", "m1", 0, topic, &[])).await).0, vec![(0, 4, 1)]);
    // Accept 0, release 1, reject 2; 3..4 stay acquired until their lock times out.
    let acks = [(0, 0, 1), (1, 1, 2), (2, 2, 3)];
    let r = c.call(1, &share_fetch("mg", "m1", 1, topic, &acks).with_max_wait_ms(0)).await;
    assert_eq!(r.responses[0].partitions[0].acknowledge_error_code, 0, "{r:?}");
    assert_eq!(acquired(&r).0, vec![(1, 1, 2)], "the released record is redelivered at once");

    let http = reqwest::Client::new();
    let url = format!("http://{}/metrics", agent.admin_addr.expect("admin listener"));
    let scrape = || async { http.get(&url).send().await.expect("scrape").text().await.expect("body") };
    let text = scrape().await;
    assert_eq!(share_count(&text, "lock_timeout"), 0, "{text}");
    for (event, n) in [("acquired", 6), ("redelivered", 1), ("acknowledged", 1), ("released", 1), ("rejected", 1)] {
        assert_eq!(share_count(&text, event), n, "{event}: {text}");
    }
    // The locks of 1 and 3..4 end after 15 s and are counted then, without any request.
    let counted = eventually("lock timeouts counted", || async {
        let text = scrape().await;
        (share_count(&text, "lock_timeout") == 3).then_some(text)
    });
    let text = tokio::time::timeout(std::time::Duration::from_secs(40), async {
        tokio::time::sleep(std::time::Duration::from_secs(14)).await;
        counted.await
    })
    .await
    .expect("lock timeouts within 40 s");
    assert_eq!(share_count(&text, "archived"), 1, "only the rejected record: {text}");
    agent.shutdown();
}
