//! The review's gaps against Kafka's `KafkaApis`: follower fetches, config resources of every type,
//! InitProducerId's ids, authorized-operations fields and regex subscriptions.

use super::*;
use crate::handlers::authorized_operations::OMITTED;
use kafka_protocol::messages::alter_configs_request as ac;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::ReplicaState;
use kafka_protocol::messages::incremental_alter_configs_request as iac;

/// Bits of Kafka's operation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
/// CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
fn bits(codes: &[u32]) -> i32 {
    codes.iter().fold(0, |b, c| b | 1 << c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_fetch_needs_cluster_action() {
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-follower").await;
    c.call(7, &create_topics(TOPIC)).await;
    c.checks();

    let follower = fetch(TOPIC).with_replica_id(BrokerId(1));
    let resp = c.call(12, &follower).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, 0);
    assert_eq!(c.checks(), vec![cluster(Operation::ClusterAction)], "no READ per topic for a replica");

    c.deny(Operation::ClusterAction, Resource::Cluster);
    let mut two = fetch(TOPIC).with_replica_id(BrokerId(1));
    two.topics.extend(fetch("missing").topics);
    let resp = c.call(12, &two).await;
    for t in &resp.responses {
        assert_eq!(t.partitions[0].error_code, E::TopicAuthorizationFailed.code(), "{:?}", t.topic);
    }
    // From v15 the replica is named in ReplicaState.
    let v15 = fetch(TOPIC).with_replica_state(ReplicaState::default().with_replica_id(BrokerId(2)));
    let mut v15 = v15;
    v15.topics[0].topic_id = resp.responses[0].topic_id;
    let resp = c.call(15, &v15).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, E::TopicAuthorizationFailed.code());
    c.checks();

    let resp = c.call(12, &fetch(TOPIC)).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, 0, "a consumer needs READ only");
    assert_eq!(c.checks(), vec![topic(Operation::Read, TOPIC)]);
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_config_resource_type_is_authorized_as_kafka() {
    use Operation::*;
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-configs").await;
    let resource =
        |t: i8, name: &str| DescribeConfigsResource::default().with_resource_type(t).with_resource_name(s(name));
    let req = DescribeConfigsRequest::default().with_resources(vec![
        resource(8, "0"),
        resource(16, "metrics"),
        resource(32, "g1"),
        resource(99, "x"),
    ]);
    let resp = c.call(4, &req).await;
    assert_eq!(
        c.checks(),
        vec![cluster(DescribeConfigs), cluster(DescribeConfigs), group(DescribeConfigs, "g1")],
        "BROKER_LOGGER and CLIENT_METRICS on the cluster, GROUP on the group, an unknown type nowhere"
    );
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    let unsupported = E::InvalidRequest.code();
    assert_eq!(codes, vec![unsupported, unsupported, 0, unsupported], "a group's configs are served, the rest not");

    c.deny(DescribeConfigs, Resource::Cluster);
    c.deny(DescribeConfigs, Resource::Group("g1"));
    let resp = c.call(4, &req).await;
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    let cluster_denied = E::ClusterAuthorizationFailed.code();
    assert_eq!(
        codes,
        vec![cluster_denied, cluster_denied, E::GroupAuthorizationFailed.code(), E::InvalidRequest.code()]
    );

    c.deny(AlterConfigs, Resource::Cluster);
    c.deny(AlterConfigs, Resource::Group("g1"));
    let config = ac::AlterableConfig::default().with_name(s("x")).with_value(Some(s("1")));
    let alter = |t: i8, name: &str| {
        ac::AlterConfigsResource::default()
            .with_resource_type(t)
            .with_resource_name(s(name))
            .with_configs(vec![config.clone()])
    };
    let req = AlterConfigsRequest::default().with_resources(vec![alter(8, "0"), alter(32, "g1"), alter(16, "m")]);
    let codes: Vec<i16> = c.call(2, &req).await.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![cluster_denied, E::GroupAuthorizationFailed.code(), cluster_denied]);
    let config = iac::AlterableConfig::default().with_name(s("x")).with_value(Some(s("1")));
    let r = iac::AlterConfigsResource::default().with_resource_type(32).with_resource_name(s("g1"));
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![r.with_configs(vec![config])]);
    let resp = c.call(1, &req).await;
    assert_eq!(resp.responses[0].error_code, E::GroupAuthorizationFailed.code());
    c.checks();
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_producer_id_checks_as_kafka() {
    use Operation::*;
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-init-pid").await;
    let idempotent = InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(10_000);
    assert_eq!(c.call(4, &idempotent).await.error_code, 0);
    assert_eq!(c.checks(), vec![cluster(IdempotentWrite)]);

    // An empty transactional id is a transactional one: WRITE on it, then INVALID_REQUEST.
    let empty = idempotent.clone().with_transactional_id(Some(TransactionalId(s(""))));
    assert_eq!(c.call(4, &empty).await.error_code, E::InvalidRequest.code());
    assert_eq!(c.checks(), vec![txn(Write, "")]);
    c.deny(Write, Resource::TransactionalId(""));
    assert_eq!(c.call(4, &empty).await.error_code, E::TransactionalIdAuthorizationFailed.code());

    // A producer id without its epoch is INVALID_REQUEST.
    let half = idempotent.clone().with_producer_id(ProducerId(7)).with_producer_epoch(-1);
    assert_eq!(c.call(4, &half).await.error_code, E::InvalidRequest.code());

    // Neither IDEMPOTENT_WRITE nor WRITE on any topic: refused on the cluster, once audited.
    c.deny(IdempotentWrite, Resource::Cluster);
    c.deny(Write, Resource::AnyTopic);
    c.checks();
    assert_eq!(c.call(4, &idempotent).await.error_code, E::ClusterAuthorizationFailed.code());
    assert_eq!(
        c.checks(),
        vec![cluster(IdempotentWrite), (Write, ResourceKind::Topic, "*".into()), cluster(IdempotentWrite)]
    );

    // An idempotent Produce needs WRITE on the topic only (no IDEMPOTENT_WRITE since Kafka 3.0).
    c.call(7, &create_topics(TOPIC)).await;
    c.checks();
    let mut req = produce(TOPIC);
    req.topic_data[0].partition_data[0].records = Some(one_record_batch(Some((9, 0)), false));
    c.call(9, &req).await;
    assert_eq!(c.checks(), vec![topic(Write, TOPIC)]);
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_operations_are_reported_when_asked() {
    use Operation::*;
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-ops").await;
    c.call(7, &create_topics(TOPIC)).await;
    let topic_ops = bits(&[3, 4, 5, 6, 7, 8, 10, 11]);
    let cluster_ops = bits(&[5, 7, 8, 9, 10, 11, 12]);
    let group_ops = bits(&[3, 6, 8, 10, 11]);

    let resp = c.call(10, &metadata(TOPIC, false)).await;
    assert_eq!((resp.cluster_authorized_operations, resp.topics[0].topic_authorized_operations), (OMITTED, OMITTED));
    let asked = metadata(TOPIC, false)
        .with_include_cluster_authorized_operations(true)
        .with_include_topic_authorized_operations(true);
    let resp = c.call(10, &asked).await;
    assert_eq!(
        (resp.cluster_authorized_operations, resp.topics[0].topic_authorized_operations),
        (cluster_ops, topic_ops)
    );
    c.deny(Write, Resource::Topic(TOPIC));
    c.deny(ClusterAction, Resource::Cluster);
    let resp = c.call(12, &asked.clone().with_include_cluster_authorized_operations(false)).await;
    assert_eq!(resp.topics[0].topic_authorized_operations, topic_ops & !bits(&[4]));
    let resp = c.call(10, &asked).await;
    assert_eq!(resp.cluster_authorized_operations, cluster_ops & !bits(&[9]));

    let resp = c.call(1, &DescribeClusterRequest::default()).await;
    assert_eq!(resp.cluster_authorized_operations, OMITTED);
    let resp = c.call(1, &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true)).await;
    assert_eq!(resp.cluster_authorized_operations, cluster_ops & !bits(&[9]));

    c.call(8, &offset_commit("g-ops", TOPIC)).await;
    let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g-ops"))]);
    assert_eq!(c.call(5, &req).await.groups[0].authorized_operations, OMITTED);
    let resp = c.call(5, &req.clone().with_include_authorized_operations(true)).await;
    assert_eq!((resp.groups[0].error_code, resp.groups[0].authorized_operations), (0, group_ops));
    c.deny(Delete, Resource::Group("g-ops"));
    let resp = c.call(5, &req.with_include_authorized_operations(true)).await;
    assert_eq!(resp.groups[0].authorized_operations, group_ops & !bits(&[6]));

    let hb = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("cg-ops")))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(10_000)
        .with_subscribed_topic_names(Some(vec![topic_name(TOPIC)]))
        .with_topic_partitions(Some(vec![]));
    assert_eq!(c.call(0, &hb).await.error_code, 0);
    let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("cg-ops"))]);
    assert_eq!(c.call(0, &req).await.groups[0].authorized_operations, OMITTED);
    let resp = c.call(0, &req.with_include_authorized_operations(true)).await;
    assert_eq!((resp.groups[0].error_code, resp.groups[0].authorized_operations), (0, group_ops));

    // As Kafka: without DESCRIBE on the cluster its operations are none (0), and a topic refused keeps the
    // "not given" marker.
    c.deny(Describe, Resource::Cluster);
    let resp = c.call(1, &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true)).await;
    assert_eq!(resp.cluster_authorized_operations, 0);
    assert_eq!(c.call(10, &asked).await.cluster_authorized_operations, 0);
    c.deny(Describe, Resource::Topic(TOPIC));
    let resp = c.call(10, &asked).await;
    assert_eq!((resp.topics[0].error_code, resp.topics[0].topic_authorized_operations), (29, OMITTED));
    c.checks();
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_subscription_assigns_only_topics_the_member_may_describe() {
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-regex").await;
    c.call(7, &create_topics("orders-eu")).await;
    c.call(7, &create_topics("orders-us")).await;
    let meta = c.call(12, &metadata("orders-eu", false)).await;
    let eu = meta.topics[0].topic_id;
    c.deny(Operation::Describe, Resource::Topic("orders-us"));
    c.checks();
    let hb = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("cg-regex")))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(10_000)
        .with_subscribed_topic_regex(Some(s("orders-.*")))
        .with_topic_partitions(Some(vec![]));
    let resp = c.call(1, &hb).await;
    assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
    let assigned: Vec<_> = resp.assignment.expect("assignment").topic_partitions.iter().map(|t| t.topic_id).collect();
    assert_eq!(assigned, vec![eu], "orders-us matches but may not be described");
    let mut checks = c.checks();
    checks.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        checks,
        vec![
            group(Operation::Read, "cg-regex"),
            topic(Operation::Describe, "orders-eu"),
            topic(Operation::Describe, "orders-us")
        ]
    );

    let bad = hb.clone().with_group_id(GroupId(s("cg-bad"))).with_subscribed_topic_regex(Some(s("orders-(")));
    assert_eq!(c.call(1, &bad).await.error_code, E::InvalidRegularExpression.code());
    let long = hb.with_group_id(GroupId(s("cg-long"))).with_subscribed_topic_regex(Some(s(&"a".repeat(2000))));
    assert_eq!(c.call(1, &long).await.error_code, E::InvalidRegularExpression.code());
    c.checks();
    agent.shutdown();
    agent.wait().await;
}
