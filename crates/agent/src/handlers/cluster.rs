//! DescribeCluster: the live agents that serve Kafka clients, with their zones as racks. As in Kafka, nothing
//! is authorized; the cluster's authorized operations are reported when asked for.

use super::str_bytes;
use crate::Agent;
use crate::request::RequestContext;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

pub use super::authorized_operations::OMITTED as AUTHORIZED_OPERATIONS_OMITTED;

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let view = agent.cluster.view_on(&ctx.listener);
    let mut brokers: Vec<DescribeClusterBroker> = view
        .brokers
        .iter()
        .map(|m| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(m.node_id))
                .with_host(str_bytes(m.host.clone()))
                .with_port(m.port)
                .with_rack((!m.zone.is_empty()).then(|| str_bytes(m.zone.clone())))
        })
        .collect();
    if let (true, Some(me)) = (brokers.is_empty(), agent.advertised_on(&ctx.listener)) {
        brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(agent.cluster.node_id()))
                .with_host(str_bytes(me.host.clone()))
                .with_port(me.port),
        );
    }
    // As in Metadata: any agent serves admin requests; the lowest id is named.
    let controller = brokers.iter().map(|b| b.broker_id.0).min().unwrap_or(agent.cluster.node_id());
    DescribeClusterResponse::default()
        .with_cluster_id(str_bytes(agent.cluster_id.clone()))
        .with_controller_id(BrokerId(controller))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(super::authorized_operations::of_cluster_if_asked(
            ctx,
            req.include_cluster_authorized_operations,
        ))
        .with_endpoint_type(if version >= 1 { req.endpoint_type } else { 1 })
}
