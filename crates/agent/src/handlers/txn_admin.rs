//! Transaction admin APIs (KIP-664): DescribeTransactions, ListTransactions and DescribeProducers, as
//! `kafka-transactions.sh` and AdminClient use them to find and inspect (hanging) transactions. Transactions
//! need DESCRIBE on their id (unlisted or refused without it) and show only topics the client may DESCRIBE;
//! producers of a partition need READ on its topic.

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, authorize, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedTransaction;
use kafka_protocol::messages::*;
use std::collections::BTreeMap;
use weft_meta::TxnState;

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeTransactionsRequest,
    _version: i16,
) -> DescribeTransactionsResponse {
    let mut states = Vec::with_capacity(req.transactional_ids.len());
    for id in req.transactional_ids {
        let mut s = TransactionState::default()
            .with_transactional_id(id.clone())
            .with_transaction_state(str_bytes(""))
            .with_transaction_start_time_ms(-1)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        if let Err(code) = check(ctx, Operation::Describe, Resource::TransactionalId(&id)) {
            states.push(s.with_error_code(code));
            continue;
        }
        match agent.meta.transaction(&id).await {
            Ok(Some(m)) => {
                let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                let visible = |topic: &str| authorize(ctx, Operation::Describe, Resource::Topic(topic)).is_ok();
                for p in m.partitions.iter().filter(|p| visible(&p.topic)) {
                    topics.entry(p.topic.clone()).or_default().push(p.partition);
                }
                s = s
                    .with_transaction_state(str_bytes(m.state.as_str()))
                    .with_transaction_timeout_ms(m.timeout_ms)
                    .with_transaction_start_time_ms(m.start_ms)
                    .with_producer_id(ProducerId(m.producer_id))
                    .with_producer_epoch(m.producer_epoch)
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(t, ps)| TopicData::default().with_topic(TopicName(str_bytes(t))).with_partitions(ps))
                            .collect(),
                    );
            }
            Ok(None) => s.error_code = ResponseError::TransactionalIdNotFound.code(),
            Err(e) => {
                tracing::warn!(transactional_id = %id.as_str(), error = %e, "describe transactions failed");
                s.error_code = weft_txn::TxnError::CoordinatorNotAvailable.code();
            }
        }
        states.push(s);
    }
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

pub async fn list(
    agent: &Agent,
    ctx: &RequestContext,
    req: ListTransactionsRequest,
    version: i16,
) -> ListTransactionsResponse {
    let mut unknown = Vec::new();
    let mut wanted = Vec::new();
    for f in &req.state_filters {
        match TxnState::parse(f) {
            Some(s) => wanted.push(s),
            None => unknown.push(f.clone()),
        }
    }
    let out = ListTransactionsResponse::default().with_unknown_state_filters(unknown);
    let all = match agent.meta.list_transactions((!req.state_filters.is_empty()).then_some(&wanted[..])).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e, "list transactions failed");
            return out.with_error_code(weft_txn::TxnError::CoordinatorNotAvailable.code());
        }
    };
    let now = agent.clock.now_ms();
    let listed = all
        .into_iter()
        .filter(|t| req.producer_id_filters.is_empty() || req.producer_id_filters.iter().any(|p| p.0 == t.producer_id))
        // v1 (KIP-994): only transactions running longer than duration_filter ms.
        .filter(|t| {
            version < 1 || req.duration_filter < 0 || (t.start_ms >= 0 && now - t.start_ms > req.duration_filter)
        })
        .filter(|t| authorize(ctx, Operation::Describe, Resource::TransactionalId(&t.transactional_id)).is_ok())
        .map(|t| {
            ListedTransaction::default()
                .with_transactional_id(TransactionalId(str_bytes(t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(str_bytes(t.state.as_str()))
        })
        .collect();
    out.with_transaction_states(listed)
}

pub async fn describe_producers(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeProducersRequest,
    _version: i16,
) -> DescribeProducersResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        if let Err(code) = check(ctx, Operation::Read, Resource::Topic(&t.name)) {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&p| PartitionResponse::default().with_partition_index(p).with_error_code(code))
                .collect();
            topics.push(TopicResponse::default().with_name(t.name).with_partitions(partitions));
            continue;
        }
        let entry = agent.topics.get(agent.meta.as_ref(), &t.name).await.ok().flatten();
        let mut partitions = Vec::with_capacity(t.partition_indexes.len());
        for p in t.partition_indexes {
            let mut r = PartitionResponse::default().with_partition_index(p);
            match &entry {
                Some(e) if p >= 0 && p < e.topic.partitions => match agent.meta.producers(e.topic.id, p).await {
                    Ok(list) => {
                        r.active_producers = list
                            .into_iter()
                            .map(|s| {
                                ProducerState::default()
                                    .with_producer_id(ProducerId(s.producer_id))
                                    .with_producer_epoch(i32::from(s.epoch))
                                    .with_last_sequence(s.last_sequence)
                                    .with_last_timestamp(s.last_update_ms)
                                    .with_coordinator_epoch(-1)
                                    .with_current_txn_start_offset(s.txn_start_offset)
                            })
                            .collect();
                    }
                    Err(e) => {
                        tracing::warn!(topic = %t.name.as_str(), partition = p, error = %e, "describe producers failed");
                        r.error_code = e.code();
                    }
                },
                _ => r.error_code = ResponseError::UnknownTopicOrPartition.code(),
            }
            partitions.push(r);
        }
        topics.push(TopicResponse::default().with_name(t.name).with_partitions(partitions));
    }
    DescribeProducersResponse::default().with_topics(topics)
}
