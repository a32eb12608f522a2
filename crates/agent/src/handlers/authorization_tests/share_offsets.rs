//! The share-group offsets APIs check what Kafka's `KafkaApis` checks: DESCRIBE on the group and topics
//! (DescribeShareGroupOffsets), READ on the group and topics (Alter), DELETE on the group and READ on the
//! topics (Delete), and answer refusals per group, partition or topic.

use super::*;
use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};

fn describe(group_id: &str, topics: &[&str]) -> DescribeShareGroupOffsetsRequest {
    let topics = topics
        .iter()
        .map(|t| {
            DescribeShareGroupOffsetsRequestTopic::default().with_topic_name(topic_name(t)).with_partitions(vec![0])
        })
        .collect();
    DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default().with_group_id(GroupId(s(group_id))).with_topics(Some(topics)),
    ])
}

fn alter(group_id: &str, topics: &[&str]) -> AlterShareGroupOffsetsRequest {
    let topics = topics
        .iter()
        .map(|t| {
            AlterShareGroupOffsetsRequestTopic::default().with_topic_name(topic_name(t)).with_partitions(vec![
                AlterShareGroupOffsetsRequestPartition::default().with_partition_index(0).with_start_offset(0),
            ])
        })
        .collect();
    AlterShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group_id))).with_topics(topics)
}

fn delete(group_id: &str, topics: &[&str]) -> DeleteShareGroupOffsetsRequest {
    let topics = topics.iter().map(|t| DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(topic_name(t)));
    DeleteShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group_id))).with_topics(topics.collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_offsets_check_and_refuse_as_kafka() {
    let (_dir, agent) = agent().await;
    let mut admin = Client::connect(&agent, "authz-share-admin").await;
    for name in [TOPIC, "other"] {
        assert_eq!(admin.call(7, &create_topics(name)).await.topics[0].error_code, 0);
    }
    let mut c = Client::connect(&agent, "authz-share-denied").await;

    let resp = c.call(0, &alter("sg", &[TOPIC, "other"])).await;
    assert_eq!(resp.error_code, 0, "{resp:?}");
    assert_eq!(
        c.checks(),
        vec![group(Operation::Read, "sg"), topic(Operation::Read, TOPIC), topic(Operation::Read, "other")]
    );
    let resp = c.call(0, &describe("sg", &[TOPIC])).await;
    assert_eq!(resp.groups[0].topics[0].partitions[0].start_offset, 0, "{resp:?}");
    assert_eq!(c.checks(), vec![group(Operation::Describe, "sg"), topic(Operation::Describe, TOPIC)]);
    let resp = c.call(0, &delete("sg", &["other"])).await;
    assert_eq!(resp.responses[0].error_code, 0, "{resp:?}");
    assert_eq!(c.checks(), vec![group(Operation::Delete, "sg"), topic(Operation::Read, "other")]);

    // A refused topic is answered per partition (alter, describe: after the others) or per topic (delete).
    c.deny(Operation::Read, Resource::Topic("other"));
    c.deny(Operation::Describe, Resource::Topic("other"));
    let resp = c.call(0, &alter("sg", &["other", TOPIC])).await;
    let codes: Vec<i16> = resp.responses.iter().map(|t| t.partitions[0].error_code).collect();
    assert_eq!(codes, vec![E::TopicAuthorizationFailed.code(), 0]);
    let resp = c.call(0, &describe("sg", &["other", TOPIC])).await;
    let names: Vec<&str> = resp.groups[0].topics.iter().map(|t| t.topic_name.as_str()).collect();
    assert_eq!(names, vec![TOPIC, "other"]);
    assert_eq!(resp.groups[0].topics[1].partitions[0].error_code, E::TopicAuthorizationFailed.code());
    let resp = c.call(0, &delete("sg", &["other"])).await;
    assert_eq!(resp.responses[0].error_code, E::TopicAuthorizationFailed.code());
    c.checks();

    // A refused group: the whole request (alter, delete) or the group's entry (describe).
    c.deny(Operation::Read, Resource::Group("sg"));
    c.deny(Operation::Describe, Resource::Group("sg"));
    c.deny(Operation::Delete, Resource::Group("sg"));
    assert_eq!(c.call(0, &alter("sg", &[TOPIC])).await.error_code, E::GroupAuthorizationFailed.code());
    assert_eq!(c.call(0, &delete("sg", &[TOPIC])).await.error_code, E::GroupAuthorizationFailed.code());
    let resp = c.call(0, &describe("sg", &[TOPIC])).await;
    assert_eq!(resp.groups[0].error_code, E::GroupAuthorizationFailed.code());
    assert!(resp.groups[0].topics.is_empty());
    // The offsets were left as the allowed requests set them.
    let resp = admin.call(0, &describe("sg", &[TOPIC])).await;
    assert_eq!(resp.groups[0].topics[0].partitions[0].start_offset, 0);
}
