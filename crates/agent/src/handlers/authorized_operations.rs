//! Kafka's authorized-operations fields (KIP-430: Metadata, DescribeCluster, DescribeGroups,
//! ConsumerGroupDescribe): a 32-bit set with bit N for each ACL operation of code N that the principal may
//! do on the resource, among the operations Kafka supports for its type (`AclEntry.supportedOperations`);
//! INT32_MIN when the client did not ask. Without an authorizer every supported operation is set, as Kafka.
//! Only computed when asked for, so requests that do not ask pay nothing.

use crate::request::{Operation, RequestContext, Resource, ResourceKind, permits};

/// Kafka's "authorized operations not requested" marker.
pub const OMITTED: i32 = i32::MIN;

use Operation as O;
const TOPIC: &[Operation] =
    &[O::Read, O::Write, O::Create, O::Describe, O::Delete, O::Alter, O::DescribeConfigs, O::AlterConfigs];
const GROUP: &[Operation] = &[O::Read, O::Describe, O::Delete, O::DescribeConfigs, O::AlterConfigs];
const CLUSTER: &[Operation] =
    &[O::Create, O::ClusterAction, O::DescribeConfigs, O::AlterConfigs, O::IdempotentWrite, O::Alter, O::Describe];
const TRANSACTIONAL_ID: &[Operation] = &[O::Describe, O::Write];

/// The operations the principal may do on `resource`, as Kafka encodes them. Probes, not audited denials.
pub fn of(ctx: &RequestContext, resource: Resource<'_>) -> i32 {
    let supported = match resource.kind() {
        ResourceKind::Topic => TOPIC,
        ResourceKind::Group => GROUP,
        ResourceKind::Cluster => CLUSTER,
        ResourceKind::TransactionalId => TRANSACTIONAL_ID,
    };
    supported.iter().filter(|op| permits(ctx, **op, resource)).fold(0, |bits, op| bits | 1 << op.acl().code())
}

/// [`of`] when the request asked for it, else [`OMITTED`].
pub fn if_asked(ctx: &RequestContext, asked: bool, resource: Resource<'_>) -> i32 {
    if asked { of(ctx, resource) } else { OMITTED }
}

/// The cluster's operations when asked for, as Metadata and DescribeCluster answer them in Kafka: none (0)
/// unless the principal may DESCRIBE the cluster.
pub fn of_cluster_if_asked(ctx: &RequestContext, asked: bool) -> i32 {
    match asked {
        false => OMITTED,
        true if !permits(ctx, Operation::Describe, Resource::Cluster) => 0,
        true => of(ctx, Resource::Cluster),
    }
}
