//! Routing of the coordinator listings and descriptions: as each Kafka broker lists only the groups and
//! transactions of the coordinator partitions it leads (admin clients ask every broker and merge), each
//! agent lists only the keys it coordinates, so a group or transaction is listed once across the cluster.
//! DescribeTransactions refuses ids coordinated elsewhere with NOT_COORDINATOR, per id.

use super::refusal;
use crate::Agent;
use crate::handlers::{groups, txn_admin};
use crate::request::{Operation, RequestContext, Resource};
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

pub async fn list_groups(agent: &Agent, ctx: &RequestContext, req: ListGroupsRequest, v: i16) -> ListGroupsResponse {
    let mut resp = groups::list(agent, ctx, req, v).await;
    resp.groups.retain(|g| agent.cluster.refusal(&g.group_id).is_none());
    resp
}

pub async fn list_transactions(
    agent: &Agent,
    ctx: &RequestContext,
    req: ListTransactionsRequest,
    v: i16,
) -> ListTransactionsResponse {
    let mut resp = txn_admin::list(agent, ctx, req, v).await;
    resp.transaction_states.retain(|t| agent.cluster.refusal(&t.transactional_id).is_none());
    resp
}

pub async fn describe_transactions(
    agent: &Agent,
    ctx: &RequestContext,
    mut req: DescribeTransactionsRequest,
    v: i16,
) -> DescribeTransactionsResponse {
    let (served, refused) = super::batched::split(std::mem::take(&mut req.transactional_ids), |id| {
        refusal(agent, ctx, id, Operation::Describe, Resource::TransactionalId(id))
    });
    let mut resp = if served.is_empty() {
        DescribeTransactionsResponse::default()
    } else {
        txn_admin::describe(agent, ctx, req.with_transactional_ids(served), v).await
    };
    for (id, code) in refused {
        resp.transaction_states.push(
            TransactionState::default()
                .with_error_code(code)
                .with_transactional_id(id)
                .with_transaction_state(StrBytes::from_static_str(""))
                .with_transaction_start_time_ms(-1)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        );
    }
    resp
}
