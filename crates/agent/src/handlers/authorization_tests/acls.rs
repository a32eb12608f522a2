//! The ACL APIs check what Kafka's `AclApis` checks: ALTER on the cluster to create or delete, DESCRIBE on the
//! cluster to list, answering CLUSTER_AUTHORIZATION_FAILED per creation or filter (or for the listing).

use super::*;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;

fn creation() -> AclCreation {
    AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s("t"))
        .with_resource_pattern_type(3)
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(3)
        .with_permission_type(3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_apis_need_alter_or_describe_on_the_cluster() {
    let (_dir, agent) = agent().await;
    let mut c = Client::connect(&agent, "authz-acls").await;
    let create = CreateAclsRequest::default().with_creations(vec![creation(), creation()]);
    let delete = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()]);

    // Allowed, on an agent without an authorizer: Kafka's SECURITY_DISABLED.
    let resp = c.call(3, &create).await;
    assert_eq!(resp.results[0].error_code, E::SecurityDisabled.code());
    assert_eq!(c.checks(), vec![cluster(Operation::Alter)]);
    assert_eq!(c.call(3, &DescribeAclsRequest::default()).await.error_code, E::SecurityDisabled.code());
    assert_eq!(c.checks(), vec![cluster(Operation::Describe)]);
    assert_eq!(c.call(3, &delete).await.filter_results[0].error_code, E::SecurityDisabled.code());
    assert_eq!(c.checks(), vec![cluster(Operation::Alter)]);

    c.deny(Operation::Alter, Resource::Cluster);
    c.deny(Operation::Describe, Resource::Cluster);
    let codes: Vec<i16> = c.call(3, &create).await.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, [E::ClusterAuthorizationFailed.code(); 2], "each creation");
    let resp = c.call(3, &DescribeAclsRequest::default()).await;
    assert_eq!((resp.error_code, resp.resources.len()), (E::ClusterAuthorizationFailed.code(), 0));
    assert_eq!(c.call(3, &delete).await.filter_results[0].error_code, E::ClusterAuthorizationFailed.code());
}
