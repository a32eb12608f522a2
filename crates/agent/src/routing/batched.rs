//! Routing of requests that name several keys: the keys coordinated here go to the handler, the others are
//! answered with their refusal, each in its own result.

use super::{group_refusal, refusal};
use crate::Agent;
use crate::handlers::cluster::AUTHORIZED_OPERATIONS_OMITTED;
use crate::handlers::{consumer_group, groups, offsets, txn};
use crate::request::{Operation, RequestContext, Resource};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// Splits `items` into those served here and those refused (with their code).
pub(super) fn split<T>(items: Vec<T>, refused: impl Fn(&T) -> Option<i16>) -> (Vec<T>, Vec<(T, i16)>) {
    let mut served = Vec::with_capacity(items.len());
    let mut others = Vec::new();
    for item in items {
        match refused(&item) {
            Some(code) => others.push((item, code)),
            None => served.push(item),
        }
    }
    (served, others)
}

pub async fn describe_groups(
    agent: &Agent,
    ctx: &RequestContext,
    mut req: DescribeGroupsRequest,
    v: i16,
) -> DescribeGroupsResponse {
    use kafka_protocol::messages::describe_groups_response::DescribedGroup;
    let (served, refused) =
        split(std::mem::take(&mut req.groups), |g| group_refusal(agent, ctx, g, Operation::Describe));
    let mut resp = if served.is_empty() {
        DescribeGroupsResponse::default()
    } else {
        groups::describe(agent, ctx, req.with_groups(served), v).await
    };
    for (id, code) in refused {
        let g = DescribedGroup::default().with_error_code(code).with_group_id(id);
        resp.groups.push(if v >= 3 { g.with_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED) } else { g });
    }
    resp
}

pub async fn delete_groups(
    agent: &Agent,
    ctx: &RequestContext,
    mut req: DeleteGroupsRequest,
    v: i16,
) -> DeleteGroupsResponse {
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
    let (served, refused) =
        split(std::mem::take(&mut req.groups_names), |g| group_refusal(agent, ctx, g, Operation::Delete));
    let mut resp = if served.is_empty() {
        DeleteGroupsResponse::default()
    } else {
        groups::delete(agent, ctx, req.with_groups_names(served), v).await
    };
    for (id, code) in refused {
        resp.results.push(DeletableGroupResult::default().with_group_id(id).with_error_code(code));
    }
    resp
}

pub async fn consumer_group_describe(
    agent: &Agent,
    ctx: &RequestContext,
    mut req: ConsumerGroupDescribeRequest,
    v: i16,
) -> ConsumerGroupDescribeResponse {
    use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
    let (served, refused) =
        split(std::mem::take(&mut req.group_ids), |g| group_refusal(agent, ctx, g, Operation::Describe));
    let mut resp = if served.is_empty() {
        ConsumerGroupDescribeResponse::default()
    } else {
        consumer_group::describe(agent, ctx, req.with_group_ids(served), v).await
    };
    for (id, code) in refused {
        resp.groups.push(
            DescribedGroup::default()
                .with_group_id(id)
                .with_error_code(code)
                .with_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED),
        );
    }
    resp
}

pub async fn offset_fetch(
    agent: &Agent,
    ctx: &RequestContext,
    mut req: OffsetFetchRequest,
    v: i16,
) -> OffsetFetchResponse {
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };
    if v < 8 {
        let Some(code) = group_refusal(agent, ctx, &req.group_id, Operation::Describe) else {
            return offsets::fetch(agent, ctx, req, v).await;
        };
        if v >= 2 {
            return OffsetFetchResponse::default().with_error_code(code);
        }
        // Before v2 there is no group error code: every requested partition carries it.
        let topics = req.topics.unwrap_or_default().into_iter().map(|t| {
            let partitions = t.partition_indexes.iter().map(|&p| {
                OffsetFetchResponsePartition::default()
                    .with_partition_index(p)
                    .with_committed_offset(-1)
                    .with_committed_leader_epoch(-1)
                    .with_metadata(Some(StrBytes::from_static_str("")))
                    .with_error_code(code)
            });
            OffsetFetchResponseTopic::default().with_name(t.name).with_partitions(partitions.collect())
        });
        return OffsetFetchResponse::default().with_topics(topics.collect());
    }
    let (served, refused) =
        split(std::mem::take(&mut req.groups), |g| group_refusal(agent, ctx, &g.group_id, Operation::Describe));
    let mut resp = if served.is_empty() {
        OffsetFetchResponse::default()
    } else {
        offsets::fetch(agent, ctx, req.with_groups(served), v).await
    };
    for (g, code) in refused {
        resp.groups.push(OffsetFetchResponseGroup::default().with_group_id(g.group_id).with_error_code(code));
    }
    resp
}

pub async fn add_partitions_to_txn(
    agent: &Agent,
    ctx: &RequestContext,
    mut req: AddPartitionsToTxnRequest,
    v: i16,
) -> AddPartitionsToTxnResponse {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
    };
    let results = |topics: &[AddPartitionsToTxnTopic], code: i16| -> Vec<AddPartitionsToTxnTopicResult> {
        let one = |t: &AddPartitionsToTxnTopic| {
            let partitions = t.partitions.iter().map(|&p| {
                AddPartitionsToTxnPartitionResult::default().with_partition_index(p).with_partition_error_code(code)
            });
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(partitions.collect())
        };
        topics.iter().map(one).collect()
    };
    if v <= 3 {
        let id = req.v3_and_below_transactional_id.clone();
        return match refusal(agent, ctx, &id, Operation::Write, Resource::TransactionalId(&id)) {
            Some(code) => AddPartitionsToTxnResponse::default()
                .with_results_by_topic_v3_and_below(results(&req.v3_and_below_topics, code)),
            None => txn::add_partitions(agent, ctx, req, v).await,
        };
    }
    // v4+ comes from brokers, authorized once on the cluster.
    let (served, refused) = split(std::mem::take(&mut req.transactions), |t| {
        refusal(agent, ctx, &t.transactional_id, Operation::ClusterAction, Resource::Cluster)
    });
    let mut resp = if served.is_empty() {
        AddPartitionsToTxnResponse::default()
    } else {
        txn::add_partitions(agent, ctx, req.with_transactions(served), v).await
    };
    for (t, code) in refused {
        resp.results_by_transaction.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_topic_results(results(&t.topics, code)),
        );
    }
    resp
}
