//! Share groups (KIP-932) over the wire, request by request, against a real agent on 127.0.0.1:0: what
//! librdkafka's ShareConsumer relies on and cannot show by itself (tests/clients/test_share_groups.py
//! proves the flows): the member id echoed, epochs, the assignment by topic id, share-session epochs and
//! their error codes, non-null records with acquired ranges, acknowledgements answered per partition,
//! RELEASE redelivering with a higher count, and epoch -1 releasing what the member held.

mod common;

use bytes::Bytes;
use common::{Conn, plain_batch, s};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::share_fetch_request::{AcknowledgementBatch, FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use uuid::Uuid;

fn batch(value: &str) -> Bytes {
    plain_batch(&[(None, Some(Bytes::from(value.to_string())))], Compression::None)
}

fn heartbeat(member: &str, epoch: i32, topics: Option<&[&str]>) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("sg")))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(topics.map(|t| t.iter().map(|n| TopicName(s(n))).collect()))
}

fn fetch(member: &str, epoch: i32, topic: Uuid, acks: Vec<(i64, i64, i8)>, wait_ms: i32) -> ShareFetchRequest {
    let batches = acks
        .into_iter()
        .map(|(f, l, t)| {
            AcknowledgementBatch::default().with_first_offset(f).with_last_offset(l).with_acknowledge_types(vec![t])
        })
        .collect();
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s("sg"))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_max_wait_ms(wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_max_records(100)
        .with_batch_size(100)
        .with_topics(vec![FetchTopic::default().with_topic_id(topic).with_partitions(vec![
            FetchPartition::default().with_partition_index(0).with_acknowledgement_batches(batches),
        ])])
}

/// (first, last, delivery count) of each acquired range of the only partition, and its records' bytes.
fn acquired(r: &ShareFetchResponse) -> (Vec<(i64, i64, i16)>, usize) {
    let Some(p) = r.responses.first().and_then(|t| t.partitions.first()) else { return (vec![], 0) };
    let ranges = p.acquired_records.iter().map(|a| (a.first_offset, a.last_offset, a.delivery_count)).collect();
    (ranges, p.records.as_ref().expect("records are never null").len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_wire_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let mut c = Conn::open(agent.kafka_addr, "share-test").await;

    let topic =
        CreatableTopic::default().with_name(TopicName(s("q"))).with_num_partitions(1).with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0);
    let topic_id = created.topics[0].topic_id;
    // earliest, so the records produced before anyone joined are delivered.
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let set = AlterableConfig::default().with_name(s("share.auto.offset.reset")).with_value(Some(s("earliest")));
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default().with_resource_type(32).with_resource_name(s("sg")).with_configs(vec![set]),
    ]);
    assert_eq!(c.call(1, &alter).await.responses[0].error_code, 0);
    for v in ["a", "b", "c"] {
        let produce = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(s("q")))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(batch(v)))]),
        ]);
        let produced = c.call(9, &produce).await;
        assert_eq!(produced.responses[0].partition_responses[0].error_code, 0, "{produced:?}");
    }

    // Heartbeats: the id is echoed, unknown members and future epochs are refused, empty joins invalid.
    assert_eq!(c.call(1, &heartbeat("m1", 3, None)).await.error_code, 25);
    assert_eq!(c.call(1, &heartbeat("m1", 0, Some(&[]))).await.error_code, 42);
    let joined = c.call(1, &heartbeat("m1", 0, Some(&["q"]))).await;
    assert_eq!(joined.error_code, 0, "{joined:?}");
    assert_eq!(joined.member_id.as_deref(), Some("m1"));
    assert_eq!(joined.heartbeat_interval_ms, 5000);
    let assignment = joined.assignment.expect("assignment on join");
    assert_eq!(assignment.topic_partitions[0].topic_id, topic_id);
    assert_eq!(assignment.topic_partitions[0].partitions, vec![0]);
    assert_eq!(c.call(1, &heartbeat("m1", joined.member_epoch + 1, None)).await.error_code, 110);

    // Share sessions: acknowledgements need a session, unknown sessions and wrong epochs are refused.
    assert_eq!(c.call(1, &fetch("m1", 0, topic_id, vec![(0, 0, 1)], 0)).await.error_code, 42);
    assert_eq!(c.call(1, &fetch("m1", 1, topic_id, vec![], 0)).await.error_code, 122);
    let first = c.call(1, &fetch("m1", 0, topic_id, vec![], 5_000)).await;
    assert_eq!(first.error_code, 0, "{first:?}");
    assert_eq!(first.acquisition_lock_timeout_ms, 30_000);
    let (ranges, bytes) = acquired(&first);
    assert_eq!(ranges, vec![(0, 2, 1)]);
    assert!(bytes > 0);
    assert_eq!(c.call(1, &fetch("m1", 5, topic_id, vec![], 0)).await.error_code, 123);

    // A second member finds nothing while m1 holds every record (its poll ends at its wait).
    let other = c.call(1, &fetch("m2", 0, topic_id, vec![], 100)).await;
    assert_eq!(acquired(&other).0, vec![]);

    // Accept 0, release 1..2: the acknowledged partition is answered; 1..2 come back with count 2.
    let acked = c.call(1, &fetch("m1", 1, topic_id, vec![(0, 0, 1), (1, 2, 2)], 5_000)).await;
    assert_eq!(acked.error_code, 0, "{acked:?}");
    let p = &acked.responses[0].partitions[0];
    assert_eq!(p.acknowledge_error_code, 0);
    assert_eq!(acquired(&acked).0, vec![(1, 2, 2)]);
    // Acknowledging what it no longer holds (0 is acknowledged) is INVALID_RECORD_STATE.
    let ack = ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s("sg"))))
        .with_member_id(Some(s("m1")))
        .with_share_session_epoch(2)
        .with_topics(vec![
            share_acknowledge_request::AcknowledgeTopic::default().with_topic_id(topic_id).with_partitions(vec![
                share_acknowledge_request::AcknowledgePartition::default()
                    .with_partition_index(0)
                    .with_acknowledgement_batches(vec![
                        share_acknowledge_request::AcknowledgementBatch::default()
                            .with_first_offset(0)
                            .with_last_offset(0)
                            .with_acknowledge_types(vec![1]),
                    ]),
            ]),
        ]);
    let r = c.call(1, &ack).await;
    assert_eq!((r.error_code, r.responses[0].partitions[0].error_code), (0, 121), "{r:?}");
    // Closing the session (epoch -1) releases 1..2 to the other member, delivered a third time.
    let close = ack.clone().with_share_session_epoch(-1).with_topics(vec![]);
    assert_eq!(c.call(1, &close).await.error_code, 0);
    let taken = c.call(1, &fetch("m2", 1, topic_id, vec![], 5_000)).await;
    assert_eq!(acquired(&taken).0, vec![(1, 2, 3)]);

    // Leaving answers epoch -1; describing shows the remaining state.
    let left = c.call(1, &heartbeat("m1", -1, None)).await;
    assert_eq!((left.error_code, left.member_epoch), (0, -1));
    let described = c
        .call(1, &ShareGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("sg")), GroupId(s("nope"))]))
        .await;
    assert_eq!(described.groups[0].group_state.as_str(), "Empty");
    assert_eq!(described.groups[1].error_code, 69);

    // ListGroups shows it as a share group; a group with members is not deleted.
    let listed = c.call(5, &ListGroupsRequest::default()).await;
    let g = listed.groups.iter().find(|g| g.group_id.as_str() == "sg").expect("listed");
    assert_eq!((g.group_type.as_str(), g.group_state.as_str(), g.protocol_type.as_str()), ("Share", "Empty", "share"));
    let delete = |id: &str| DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(id))]);
    let m3 = c.call(1, &heartbeat("m3", 0, Some(&["q"]))).await;
    assert_eq!(m3.error_code, 0);
    assert_eq!(c.call(2, &delete("sg")).await.results[0].error_code, 68);
    assert_eq!(c.call(1, &heartbeat("m3", -1, None)).await.error_code, 0);
    // Empty now, but this agent took the group's shard less than a session timeout ago, so members it has not
    // heard from may still rejoin: refused until then (share_fixes.rs deletes it once that time passed).
    assert_eq!(c.call(2, &delete("sg")).await.results[0].error_code, 68);
    agent.shutdown();
}
