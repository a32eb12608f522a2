//! Denials: each refused check is answered with Kafka's error for the resource, and nothing is done for it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_answer_kafkas_per_resource_errors() {
    let (_dir, agent) = agent().await;
    let mut admin = Client::connect(&agent, "authz-admin").await;
    assert_eq!(admin.call(7, &create_topics(TOPIC)).await.topics[0].error_code, 0);
    let mut c = Client::connect(&agent, "authz-denied").await;

    c.deny(Operation::Write, Resource::Topic(TOPIC));
    let resp = c.call(9, &produce(TOPIC)).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, E::TopicAuthorizationFailed.code());
    let resp = admin.call(12, &fetch(TOPIC)).await;
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 0, "a refused produce writes nothing");

    c.deny(Operation::Read, Resource::Topic(TOPIC));
    let resp = c.call(12, &fetch(TOPIC)).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, E::TopicAuthorizationFailed.code());

    c.deny(Operation::Describe, Resource::Topic("hidden"));
    let resp = c.call(12, &metadata("hidden", true)).await;
    assert_eq!(resp.topics[0].error_code, E::TopicAuthorizationFailed.code());
    let resp = admin.call(12, &metadata("hidden", false)).await;
    assert_eq!(resp.topics[0].error_code, E::UnknownTopicOrPartition.code(), "nothing was auto-created");

    c.deny(Operation::Create, Resource::Cluster);
    let resp = c.call(12, &metadata("fresh", true)).await;
    assert_eq!(resp.topics[0].error_code, 0, "CREATE on the topic suffices");
    c.deny(Operation::Create, Resource::Topic("nope"));
    let resp = c.call(12, &metadata("nope", true)).await;
    assert_eq!(resp.topics[0].error_code, E::TopicAuthorizationFailed.code());
    let resp = c.call(7, &create_topics("nope")).await;
    assert_eq!(resp.topics[0].error_code, E::TopicAuthorizationFailed.code());

    c.deny(Operation::Read, Resource::Group("g2"));
    let resp = c.call(8, &offset_commit("g2", TOPIC)).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, E::GroupAuthorizationFailed.code());
    let resp = c.call(9, &join_group("g2")).await;
    assert_eq!(resp.error_code, E::GroupAuthorizationFailed.code());

    c.deny(Operation::Write, Resource::TransactionalId("tx"));
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s("tx"))))
        .with_transaction_timeout_ms(10_000);
    let resp = c.call(4, &req).await;
    assert_eq!(resp.error_code, E::TransactionalIdAuthorizationFailed.code());

    c.deny(Operation::IdempotentWrite, Resource::Cluster);
    let resp = c
        .call(4, &InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(10_000))
        .await;
    assert_eq!(resp.error_code, 0, "WRITE on some topic suffices for an idempotent producer");
    c.deny(Operation::Write, Resource::AnyTopic);
    let resp = c
        .call(4, &InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(10_000))
        .await;
    assert_eq!(resp.error_code, E::ClusterAuthorizationFailed.code());

    c.deny(Operation::Describe, Resource::Cluster);
    let resp = c.call(4, &DescribeLogDirsRequest::default()).await;
    assert_eq!(resp.error_code, E::ClusterAuthorizationFailed.code());
    assert!(resp.results.is_empty());
    agent.shutdown();
    agent.wait().await;
}

fn transactional_produce(name: &str, transactional_id: &str, producer_id: i64, epoch: i16) -> ProduceRequest {
    produce_as(name, Some((transactional_id, producer_id, epoch)))
}

async fn init_transactional(c: &mut Client, id: &str) -> (ProducerId, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000);
    let resp = c.call(4, &req).await;
    assert_eq!(resp.error_code, 0);
    (resp.producer_id, resp.producer_epoch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_of_transactions_groups_and_admin() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
    let (_dir, agent) = agent().await;
    let mut admin = Client::connect(&agent, "authz-admin-2").await;
    for name in [TOPIC, "other"] {
        assert_eq!(admin.call(7, &create_topics(name)).await.topics[0].error_code, 0);
    }
    let mut c = Client::connect(&agent, "authz-denied-2").await;

    // A transactional produce under a refused id is refused whole, before any topic is checked.
    let (pid, epoch) = init_transactional(&mut admin, "tx").await;
    c.deny(Operation::Write, Resource::TransactionalId("tx"));
    let resp = c.call(9, &transactional_produce(TOPIC, "tx", pid.0, epoch)).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, E::TransactionalIdAuthorizationFailed.code());
    assert_eq!(c.checks(), vec![(Operation::Write, ResourceKind::TransactionalId, "tx".to_string())]);
    let req = EndTxnRequest::default().with_transactional_id(TransactionalId(s("tx"))).with_producer_id(pid);
    assert_eq!(c.call(3, &req).await.error_code, E::TransactionalIdAuthorizationFailed.code());

    // A refused topic fails the whole AddPartitionsToTxn: it gets TOPIC_AUTHORIZATION_FAILED, the rest
    // OPERATION_NOT_ATTEMPTED.
    let (pid, epoch) = init_transactional(&mut c, "tx2").await;
    c.deny(Operation::Write, Resource::Topic("other"));
    let topics =
        [TOPIC, "other"].map(|n| AddPartitionsToTxnTopic::default().with_name(topic_name(n)).with_partitions(vec![0]));
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s("tx2")))
        .with_v3_and_below_producer_id(pid)
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(topics.to_vec());
    let resp = c.call(3, &req).await;
    let codes: Vec<i16> =
        resp.results_by_topic_v3_and_below.iter().map(|t| t.results_by_partition[0].partition_error_code).collect();
    assert_eq!(codes, vec![E::OperationNotAttempted.code(), E::TopicAuthorizationFailed.code()]);

    // ListGroups without DESCRIBE on the cluster shows only the groups the client may DESCRIBE.
    for g in ["visible", "secret"] {
        admin.call(8, &offset_commit(g, TOPIC)).await;
        admin.call(8, &offset_commit(g, "other")).await;
    }
    c.deny(Operation::Describe, Resource::Cluster);
    c.deny(Operation::Describe, Resource::Group("secret"));
    let resp = c.call(5, &ListGroupsRequest::default()).await;
    let listed: Vec<&str> = resp.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(listed, vec!["visible"]);
    let resp = c.call(5, &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("secret"))])).await;
    assert_eq!(resp.groups[0].error_code, E::GroupAuthorizationFailed.code());

    // A consumer-protocol member may not subscribe to a topic it may not DESCRIBE, nor see a group showing one.
    let beat = |group_id: &str| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group_id)))
            .with_rebalance_timeout_ms(10_000)
            .with_subscribed_topic_names(Some(vec![topic_name("other")]))
            .with_topic_partitions(Some(vec![]))
    };
    assert_eq!(admin.call(0, &beat("kip848")).await.error_code, 0);
    c.deny(Operation::Describe, Resource::Topic("other"));
    assert_eq!(c.call(0, &beat("kip848")).await.error_code, E::TopicAuthorizationFailed.code());
    let resp = c.call(0, &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("kip848"))])).await;
    assert_eq!(resp.groups[0].error_code, E::TopicAuthorizationFailed.code());
    assert!(resp.groups[0].members.is_empty());

    // OffsetFetch leaves topics the client may not DESCRIBE out of "all", and refuses them when named.
    let all = OffsetFetchRequestGroup::default().with_group_id(GroupId(s("visible"))).with_topics(None);
    let resp = c.call(8, &OffsetFetchRequest::default().with_groups(vec![all])).await;
    let shown: Vec<&str> = resp.groups[0].topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(shown, vec![TOPIC]);
    let named = OffsetFetchRequestGroup::default().with_group_id(GroupId(s("visible"))).with_topics(Some(vec![
        OffsetFetchRequestTopics::default().with_name(topic_name("other")).with_partition_indexes(vec![0]),
    ]));
    let resp = c.call(8, &OffsetFetchRequest::default().with_groups(vec![named])).await;
    let p = &resp.groups[0].topics[0].partitions[0];
    assert_eq!((p.error_code, p.committed_offset), (E::TopicAuthorizationFailed.code(), -1));
    let secret = OffsetFetchRequestGroup::default().with_group_id(GroupId(s("secret"))).with_topics(None);
    let resp = c.call(8, &OffsetFetchRequest::default().with_groups(vec![secret])).await;
    assert_eq!(resp.groups[0].error_code, E::GroupAuthorizationFailed.code());
    assert!(resp.groups[0].topics.is_empty());

    // DeleteTopics by id does not name a topic the client may not DESCRIBE, and deletes nothing.
    let id = admin.call(7, &create_topics("byid")).await.topics[0].topic_id;
    c.deny(Operation::Delete, Resource::Cluster);
    c.deny(Operation::Describe, Resource::Topic("byid"));
    let req = DeleteTopicsRequest::default().with_topics(vec![DeleteTopicState::default().with_topic_id(id)]);
    let resp = c.call(6, &req).await;
    assert_eq!(resp.responses[0].error_code, E::TopicAuthorizationFailed.code());
    assert_eq!(resp.responses[0].name, None);
    assert_eq!(admin.call(12, &metadata("byid", false)).await.topics[0].error_code, 0, "still there");

    // A topic the client may see but not delete: missing is reported missing, present is refused.
    c.deny(Operation::Delete, Resource::Topic("ghost"));
    c.deny(Operation::Delete, Resource::Topic("byid"));
    let by_name = |n: &str| DeleteTopicState::default().with_name(Some(topic_name(n)));
    let req = DeleteTopicsRequest::default().with_topics(vec![by_name("ghost"), by_name("byid")]);
    let codes: Vec<i16> = c.call(6, &req).await.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![E::UnknownTopicOrPartition.code(), E::TopicAuthorizationFailed.code()]);

    // Configs: a broker's need the cluster, a topic's the topic.
    c.deny(Operation::DescribeConfigs, Resource::Cluster);
    c.deny(Operation::DescribeConfigs, Resource::Topic(TOPIC));
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default().with_resource_type(2).with_resource_name(s(TOPIC)),
        DescribeConfigsResource::default().with_resource_type(4).with_resource_name(s("0")),
    ]);
    let resp = c.call(4, &req).await;
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![E::TopicAuthorizationFailed.code(), E::ClusterAuthorizationFailed.code()]);
    assert!(resp.results.iter().all(|r| r.configs.is_empty()));
    agent.shutdown();
    agent.wait().await;
}
