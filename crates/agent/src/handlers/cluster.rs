//! DescribeCluster. Kafka checks nothing here but DESCRIBE on the cluster when authorized operations are
//! asked for, which Weft does not report (AUTHORIZED_OPERATIONS_OMITTED): so no check is made.

use super::str_bytes;
use crate::Agent;
use crate::request::RequestContext;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

/// Kafka's "authorized operations not requested" marker.
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

pub async fn describe(
    agent: &Agent,
    _ctx: &RequestContext,
    req: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let broker = DescribeClusterBroker::default()
        .with_broker_id(BrokerId(agent.config.node_id))
        .with_host(str_bytes(agent.advertised_host.clone()))
        .with_port(agent.advertised_port);
    DescribeClusterResponse::default()
        .with_cluster_id(str_bytes(agent.cluster_id.clone()))
        .with_controller_id(BrokerId(agent.config.node_id))
        .with_brokers(vec![broker])
        .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
        .with_endpoint_type(if version >= 1 { req.endpoint_type } else { 1 })
}
