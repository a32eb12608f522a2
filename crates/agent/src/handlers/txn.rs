//! The transactional producer's requests: AddPartitionsToTxn (v0-3 one transaction, v4+ batched),
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn. The state machine is in `weft_txn::rules`; the steps
//! (markers, completion) in `weft_txn`. Each request needs WRITE on its transactional id, then WRITE on the
//! topics it adds or READ on the group (and its topics) whose offsets it commits, as in Kafka.

use super::offsets::MAX_OFFSET_METADATA_BYTES;
use crate::Agent;
use crate::error::{KafkaCode, fenced_compat};
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::{AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction};
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use weft_groups::GroupError;
use weft_meta::{CommittedOffset, PendingOffset, TxnPartition};
use weft_txn::{TxnError, rules};

fn partition_results(
    topics: &[AddPartitionsToTxnTopic],
    code_of: impl Fn(&str, i32) -> i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|t| {
            let results = t
                .partitions
                .iter()
                .map(|&p| {
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(code_of(t.name.as_str(), p))
                })
                .collect();
            AddPartitionsToTxnTopicResult::default().with_name(t.name.clone()).with_results_by_partition(results)
        })
        .collect()
}

/// Adds one transaction's partitions. Unknown partitions fail the whole request (as in Kafka): they get
/// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED.
async fn add_one(
    agent: &Agent,
    ctx: &RequestContext,
    t: &AddPartitionsToTxnTransaction,
    version: i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    // Versions 0-3 come from producers, which need WRITE on the id and topics; v4+ from brokers (checked once).
    let from_client = version < 4;
    if from_client && let Err(code) = check(ctx, Operation::Write, Resource::TransactionalId(&t.transactional_id)) {
        return partition_results(&t.topics, |_, _| code);
    }
    let mut unknown = Vec::new();
    let mut wanted = Vec::new();
    for topic in &t.topics {
        // A topic the producer may not WRITE fails the request as an unknown one does, with its own code.
        if from_client && let Err(code) = check(ctx, Operation::Write, Resource::Topic(&topic.name)) {
            unknown.extend(topic.partitions.iter().map(|&p| (topic.name.to_string(), p, code)));
            continue;
        }
        let entry = agent.topics.get(agent.meta.as_ref(), &topic.name).await.ok().flatten();
        for &p in &topic.partitions {
            match &entry {
                Some(e) if p >= 0 && p < e.topic.partitions => {
                    wanted.push(TxnPartition { topic: topic.name.to_string(), topic_id: e.topic.id, partition: p })
                }
                _ => unknown.push((topic.name.to_string(), p, ResponseError::UnknownTopicOrPartition.code())),
            }
        }
    }
    if !unknown.is_empty() {
        return partition_results(&t.topics, |topic, p| match unknown.iter().find(|(n, q, _)| n == topic && *q == p) {
            Some((_, _, code)) => *code,
            None => ResponseError::OperationNotAttempted.code(),
        });
    }
    let id = t.transactional_id.as_str();
    let (pid, epoch) = (t.producer_id.0, t.producer_epoch);
    let added = if t.verify_only {
        // KIP-890 verification from a partition leader: is every partition already in the ongoing transaction?
        match agent.meta.transaction(id).await {
            Ok(Some(m)) if m.producer_id != pid => Err(TxnError::InvalidProducerIdMapping),
            Ok(Some(m)) if m.producer_epoch != epoch => Err(TxnError::ProducerFenced),
            Ok(Some(m))
                if m.state == weft_meta::TxnState::Ongoing && wanted.iter().all(|p| m.partitions.contains(p)) =>
            {
                Ok(())
            }
            Ok(Some(_)) => Err(TxnError::InvalidTxnState),
            Ok(None) => Err(TxnError::InvalidProducerIdMapping),
            Err(_) => Err(TxnError::CoordinatorNotAvailable),
        }
    } else {
        let now = agent.clock.now_ms();
        agent.txns.change(id, |c| rules::add_partitions(c, pid, epoch, &wanted, now)).await.map(|_| ())
    };
    if let Err(e) = added {
        tracing::debug!(transactional_id = %id, producer_id = pid, epoch, error = %e, "add partitions to transaction refused");
    }
    let code = fenced_compat(added.code(), version, 2);
    partition_results(&t.topics, |_, _| code)
}

pub async fn add_partitions(
    agent: &Agent,
    ctx: &RequestContext,
    req: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    if version <= 3 {
        let t = AddPartitionsToTxnTransaction::default()
            .with_transactional_id(req.v3_and_below_transactional_id)
            .with_producer_id(req.v3_and_below_producer_id)
            .with_producer_epoch(req.v3_and_below_producer_epoch)
            .with_topics(req.v3_and_below_topics);
        return AddPartitionsToTxnResponse::default()
            .with_results_by_topic_v3_and_below(add_one(agent, ctx, &t, version).await);
    }
    // v4+ is sent by brokers (KIP-890), which Kafka lets in with CLUSTER_ACTION.
    if let Err(code) = check(ctx, Operation::ClusterAction, Resource::Cluster) {
        return AddPartitionsToTxnResponse::default().with_error_code(code);
    }
    let mut results = Vec::with_capacity(req.transactions.len());
    for t in &req.transactions {
        let topic_results = add_one(agent, ctx, t, version).await;
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_topic_results(topic_results),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

pub async fn add_offsets(
    agent: &Agent,
    ctx: &RequestContext,
    req: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    if let Err(code) = check(ctx, Operation::Write, Resource::TransactionalId(&req.transactional_id))
        .and_then(|()| check(ctx, Operation::Read, Resource::Group(&req.group_id)))
    {
        return AddOffsetsToTxnResponse::default().with_error_code(code);
    }
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    let group = req.group_id.to_string();
    let now = agent.clock.now_ms();
    let code = if group.is_empty() {
        ResponseError::InvalidGroupId.code()
    } else {
        agent
            .txns
            .change(&req.transactional_id, |c| rules::add_group(c, pid, epoch, &group, now))
            .await
            .map(|_| ())
            .code()
    };
    AddOffsetsToTxnResponse::default().with_error_code(fenced_compat(code, version, 2))
}

pub async fn offset_commit(
    agent: &Agent,
    ctx: &RequestContext,
    req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let refused = check(ctx, Operation::Write, Resource::TransactionalId(&req.transactional_id))
        .and_then(|()| check(ctx, Operation::Read, Resource::Group(&req.group_id)))
        .err();
    let group = req.group_id.to_string();
    let now = agent.clock.now_ms();
    // The member check of KIP-447 (v3+): a zombie from an older generation must not commit.
    // Unlike OffsetCommit, Kafka does not refuse these during a rebalance's sync phase.
    let mut common = if refused.is_some() {
        None
    } else if version >= 3 && !req.member_id.is_empty() {
        agent
            .groups
            .check_commit(&group, req.generation_id, &req.member_id, req.group_instance_id.as_deref())
            .err()
            .filter(|&e| e != GroupError::RebalanceInProgress)
            .map(|e| e.code())
    } else {
        None
    };
    let mut staged = Vec::new();
    let mut codes: Vec<Vec<i16>> = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        // A refused transactional id or group answers every partition; a refused topic, its partitions.
        if let Some(code) = refused.or_else(|| check(ctx, Operation::Read, Resource::Topic(&t.name)).err()) {
            codes.push(vec![code; t.partitions.len()]);
            continue;
        }
        let entry = agent.topics.get(agent.meta.as_ref(), &t.name).await.ok().flatten();
        let mut row = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let code = match &entry {
                Some(e) if p.partition_index >= 0 && p.partition_index < e.topic.partitions => {
                    if p.committed_metadata.as_ref().is_some_and(|m| m.len() > MAX_OFFSET_METADATA_BYTES) {
                        ResponseError::OffsetMetadataTooLarge.code()
                    } else {
                        staged.push(PendingOffset {
                            group: group.clone(),
                            offset: CommittedOffset {
                                topic: t.name.to_string(),
                                partition: p.partition_index,
                                offset: p.committed_offset,
                                leader_epoch: if version >= 2 { p.committed_leader_epoch } else { -1 },
                                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                                commit_ms: now,
                            },
                        });
                        0
                    }
                }
                _ => ResponseError::UnknownTopicOrPartition.code(),
            };
            row.push(code);
        }
        codes.push(row);
    }
    if common.is_none() && !staged.is_empty() {
        let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
        if let Err(e) =
            agent.txns.change(&req.transactional_id, |c| rules::stage_offsets(c, pid, epoch, staged, now)).await
        {
            tracing::debug!(transactional_id = %req.transactional_id.as_str(), %group, error = %e, "transactional offset commit refused");
            common = Some(e.code());
        }
    }
    let topics = req
        .topics
        .iter()
        .zip(codes)
        .map(|(t, row)| {
            let partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, code)| {
                    let code = if code == 0 { fenced_compat(common.unwrap_or(0), version, 3) } else { code };
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

pub async fn end(agent: &Agent, ctx: &RequestContext, req: EndTxnRequest, version: i16) -> EndTxnResponse {
    if let Err(code) = check(ctx, Operation::Write, Resource::TransactionalId(&req.transactional_id)) {
        return EndTxnResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    let code = match agent.txns.end(&req.transactional_id, pid, epoch, req.committed).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::debug!(transactional_id = %req.transactional_id.as_str(), producer_id = pid, epoch, commit = req.committed, error = %e, "end transaction refused");
            e.code()
        }
    };
    EndTxnResponse::default()
        .with_error_code(fenced_compat(code, version, 2))
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}
