//! Fetch: reads committed batches through the index and the segment cache, and long-polls on
//! high-watermark watches (woken by commits, never by a sleep loop) until min_bytes or max_wait is reached.
//!
//! Record sets are answered as chunks ([`FetchReply`]): each batch's patched first bytes and a slice of the
//! cached stored bytes, encoded without copies by `weft_protocol::encode_fetch_response`.
//!
//! Fetch sessions (KIP-227): Weft answers every fetch in full and never creates a session (session id 0),
//! which the protocol allows; a request naming a session Weft did not create gets FETCH_SESSION_ID_NOT_FOUND.
//!
//! Authorization as Kafka's: a consumer needs READ on each topic; a replica (replica id >= 0) needs
//! CLUSTER_ACTION on the cluster, checked once, without which every partition is TOPIC_AUTHORIZATION_FAILED.

use crate::Agent;
use crate::error::KafkaCode;
use crate::membership::Cluster;
use crate::request::{Operation, RequestContext, Resource, check};
use futures::FutureExt;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use weft_log::LEADER_EPOCH;
use weft_meta::PartitionOffsets;
use weft_protocol::{Chunks, FetchReply};
use weft_topics::TopicEntry;

/// A requested partition, resolved once per fetch.
struct Target {
    topic_index: usize,
    partition: i32,
    fetch_offset: i64,
    max_bytes: i32,
    resolved: Result<(Arc<TopicEntry>, watch::Receiver<PartitionOffsets>), i16>,
}

pub async fn handle(agent: &Arc<Agent>, ctx: &RequestContext, req: FetchRequest, version: i16) -> FetchReply {
    if req.session_id != 0 || req.session_epoch > 0 {
        tracing::debug!(session_id = req.session_id, epoch = req.session_epoch, "fetch names an unknown session");
        return FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code()).into();
    }
    let access = access(ctx, &req, version);
    let mut targets = resolve(agent, ctx, &req.topics, version, access).await;
    // The leader hints agree with what Metadata tells this client.
    let view = agent.cluster.view_on(&ctx.listener);
    let brokers = Cluster::brokers_for(&view, weft_cluster::zone::client_zone(&ctx.client_id));
    let pass = Pass { version, max_bytes: req.max_bytes, read_committed: req.isolation_level == 1, brokers: &brokers };
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(agent.config.max_fetch_wait);
    let deadline = Instant::now() + wait;
    loop {
        let (partitions, bytes, failed) = read_pass(agent, &mut targets, &pass).await;
        let now = Instant::now();
        if bytes >= i64::from(req.min_bytes.max(1))
            || failed
            || now >= deadline
            || targets.iter().all(|t| t.resolved.is_err())
        {
            return build(&req.topics, version, partitions);
        }
        // Wait for any partition's end to move, or for the deadline.
        let closed = {
            let changes: Vec<_> = targets
                .iter_mut()
                .filter_map(|t| t.resolved.as_mut().ok())
                .map(|(_, rx)| async move { rx.changed().await.is_ok() }.boxed())
                .collect();
            let woke = tokio::time::timeout_at(deadline, futures::future::select_all(changes)).await;
            matches!(woke, Ok((false, _, _)))
        };
        if closed {
            // A watch closed (its topic was deleted): answer with what the next pass finds.
            let (partitions, _, _) = read_pass(agent, &mut targets, &pass).await;
            return build(&req.topics, version, partitions);
        }
    }
}

/// How a fetch's partitions are authorized, as Kafka's `handleFetchRequest` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A consumer: READ on each topic.
    Consumer,
    /// A follower (replica id >= 0) with CLUSTER_ACTION on the cluster: no check per topic.
    Follower,
    /// A follower without CLUSTER_ACTION: every partition is TOPIC_AUTHORIZATION_FAILED.
    RefusedFollower,
}

/// A fetch from a replica (the replica id of the request below v15, of its ReplicaState from v15) needs
/// CLUSTER_ACTION on the cluster, checked once for the whole request.
fn access(ctx: &RequestContext, req: &FetchRequest, version: i16) -> Access {
    let replica_id = if version >= 15 { req.replica_state.replica_id.0 } else { req.replica_id.0 };
    if replica_id < 0 {
        return Access::Consumer;
    }
    match check(ctx, Operation::ClusterAction, Resource::Cluster) {
        Ok(()) => Access::Follower,
        Err(_) => Access::RefusedFollower,
    }
}

async fn resolve(
    agent: &Agent,
    ctx: &RequestContext,
    topics: &[FetchTopic],
    version: i16,
    access: Access,
) -> Vec<Target> {
    let mut out = Vec::new();
    for (topic_index, t) in topics.iter().enumerate() {
        let topic = if access == Access::RefusedFollower {
            Err(ResponseError::TopicAuthorizationFailed.code())
        } else if version >= 13 {
            match agent.topics.get_by_id(agent.meta.as_ref(), t.topic_id).await {
                Ok(Some(e)) => Ok(e),
                Ok(None) => Err(ResponseError::UnknownTopicId.code()),
                Err(e) => Err(e.code()),
            }
        } else {
            match agent.topics.get(agent.meta.as_ref(), &t.topic).await {
                Ok(Some(e)) => Ok(e),
                Ok(None) => Err(ResponseError::UnknownTopicOrPartition.code()),
                Err(e) => Err(e.code()),
            }
        };
        // READ on the topic, as Kafka checks it: after an id is resolved to its name, before a name is looked up.
        let name =
            if version >= 13 { topic.as_ref().ok().map(|e| e.topic.name.as_str()) } else { Some(t.topic.as_str()) };
        let denied = name
            .filter(|_| access == Access::Consumer)
            .and_then(|n| check(ctx, Operation::Read, Resource::Topic(n)).err());
        let topic = match denied {
            Some(code) => Err(code),
            None => topic,
        };
        for p in &t.partitions {
            let resolved = match &topic {
                // KIP-110, as Kafka does: a topic whose compression.type is zstd is not served below Fetch v10.
                Ok(entry) if version < 10 && zstd_topic(entry) => Err(ResponseError::UnsupportedCompressionType.code()),
                Ok(entry) if p.partition >= 0 && p.partition < entry.topic.partitions => {
                    match agent.partitions.subscribe(agent.meta.as_ref(), entry.topic.id, p.partition).await {
                        Ok(Some(rx)) => Ok((entry.clone(), rx)),
                        Ok(None) => Err(ResponseError::UnknownTopicOrPartition.code()),
                        Err(e) => Err(e.code()),
                    }
                }
                Ok(_) => Err(ResponseError::UnknownTopicOrPartition.code()),
                Err(code) => Err(*code),
            };
            out.push(Target {
                topic_index,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                resolved,
            });
        }
    }
    out
}

fn zstd_topic(entry: &weft_topics::TopicEntry) -> bool {
    weft_topics::config::effective(&entry.topic.configs, &entry.cluster, "compression.type")
        .is_some_and(|(v, _)| v == "zstd")
}

/// What every pass of one fetch shares.
#[derive(Clone, Copy)]
struct Pass<'a> {
    version: i16,
    max_bytes: i32,
    read_committed: bool,
    /// The brokers this client is given, among which each partition's leader is hinted.
    brokers: &'a [weft_cluster::Member],
}

/// One partition's answer: its topic's index in the request, its fields, its records.
type Answer = (usize, PartitionData, Chunks);

/// One pass over every partition. Returns the partition answers, the record bytes gathered, and whether a
/// partition failed with an error that the client must see now.
async fn read_pass(agent: &Agent, targets: &mut [Target], pass: &Pass<'_>) -> (Vec<Answer>, i64, bool) {
    let Pass { version, max_bytes, read_committed, brokers } = *pass;
    let mut out = Vec::with_capacity(targets.len());
    let mut total: i64 = 0;
    let mut failed = false;
    let budget = i64::from(max_bytes.max(0));
    // Partitions with data past what this pass serves: their next reads are loaded ahead.
    let mut ahead = Vec::new();
    for t in targets.iter_mut() {
        let mut data = PartitionData::default()
            .with_partition_index(t.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_preferred_read_replica(BrokerId(-1))
            .with_aborted_transactions(read_committed.then(Vec::new))
            .with_records(Some(bytes::Bytes::new()));
        let mut records = Chunks::new();
        match &mut t.resolved {
            Err(code) => {
                data.error_code = *code;
                failed = true;
            }
            Ok((entry, rx)) => {
                let mut offsets = *rx.borrow_and_update();
                if t.fetch_offset > offsets.next_offset {
                    // Past this agent's view of the end: records written through another agent may not have
                    // reached it yet, so decide on the metastore's bounds, not on a stale view.
                    if let Ok(Some(read)) =
                        agent.partitions.refresh(agent.meta.as_ref(), entry.topic.id, t.partition).await
                    {
                        offsets = read;
                    }
                }
                data.high_watermark = offsets.next_offset;
                data.last_stable_offset = offsets.last_stable;
                if version >= 5 {
                    data.log_start_offset = offsets.log_start;
                }
                if version >= 12 {
                    let leader = agent.cluster.leader(brokers, entry.topic.id, t.partition);
                    data.current_leader.leader_id = BrokerId(leader);
                    data.current_leader.leader_epoch = LEADER_EPOCH;
                }
                // read_committed consumers read up to the last stable offset only.
                let end = if read_committed { offsets.last_stable } else { offsets.next_offset };
                if t.fetch_offset < offsets.log_start || t.fetch_offset > offsets.next_offset {
                    data.error_code = ResponseError::OffsetOutOfRange.code();
                    failed = true;
                } else if t.fetch_offset < end && !(total == 0 || total < budget) {
                    // Left for the next fetch by the response's byte bound.
                    ahead.push(next_read(entry.topic.id, t.partition, t.max_bytes, t.fetch_offset));
                } else if t.fetch_offset < end {
                    let limit = i64::from(t.max_bytes.max(0)).min((budget - total).max(0)) as u64;
                    let topic_id = entry.topic.id;
                    let read =
                        agent.reader.read_chunks(topic_id, t.partition, t.fetch_offset, end, limit, total == 0).await;
                    let read = match read {
                        // Consumers filter only transactional batches by the aborted list: a read without
                        // one gets an empty list without a metastore query (one per partition per fetch).
                        Ok(records) if read_committed && !records.transactional && !records.bytes.is_empty() => {
                            Ok((records, Some(Vec::new())))
                        }
                        Ok(records) if read_committed && !records.bytes.is_empty() => agent
                            .meta
                            .aborted_transactions(topic_id, t.partition, t.fetch_offset, end)
                            .await
                            .map(|aborted| (records, Some(aborted)))
                            .map_err(weft_log::ReadError::from),
                        Ok(records) => Ok((records, None)),
                        Err(e) => Err(e),
                    };
                    match read {
                        Ok((read, aborted)) => {
                            if let Some(next) = read.next_offset.filter(|n| *n < end) {
                                ahead.push(next_read(topic_id, t.partition, t.max_bytes, next));
                            }
                            total += read.bytes.len() as i64;
                            count_out(&entry.topic.name, &read);
                            records = read.bytes;
                            if let Some(aborted) = aborted {
                                data.aborted_transactions = Some(
                                    aborted
                                        .into_iter()
                                        .map(|a| {
                                            AbortedTransaction::default()
                                                .with_producer_id(ProducerId(a.producer_id))
                                                .with_first_offset(a.first_offset)
                                        })
                                        .collect(),
                                );
                            }
                        }
                        Err(e) => {
                            tracing::warn!(topic = %entry.topic.name, partition = t.partition, offset = t.fetch_offset, error = %e, "fetch read failed");
                            data.error_code = e.code();
                            failed = true;
                        }
                    }
                }
            }
        }
        crate::metrics::error("Fetch", data.error_code);
        out.push((t.topic_index, data, records));
    }
    agent.reader.read_ahead(ahead);
    (out, total, failed)
}

/// A partition's next read, from `from_offset`, as much as it asks per fetch.
fn next_read(topic_id: uuid::Uuid, partition: i32, max_bytes: i32, from_offset: i64) -> weft_log::Ahead {
    weft_log::Ahead { topic_id, partition, from_offset, max_bytes: max_bytes.max(0) as u64 }
}

fn build(topics: &[FetchTopic], version: i16, partitions: Vec<Answer>) -> FetchReply {
    let mut responses: Vec<FetchableTopicResponse> = topics
        .iter()
        .map(|t| {
            let r = FetchableTopicResponse::default();
            if version >= 13 { r.with_topic_id(t.topic_id) } else { r.with_topic(t.topic.clone()) }
        })
        .collect();
    let mut records: Vec<Vec<Chunks>> = vec![Vec::new(); responses.len()];
    for (i, p, chunks) in partitions {
        if let (Some(r), Some(sets)) = (responses.get_mut(i), records.get_mut(i)) {
            r.partitions.push(p);
            sets.push(chunks);
        }
    }
    FetchReply { body: FetchResponse::default().with_session_id(0).with_responses(responses), records }
}

/// Bytes and (non-control) records served, for the per-topic counters.
fn count_out(topic: &str, read: &weft_log::ReadRecords) {
    let labels = [("topic", topic.to_string())];
    metrics::counter!("weft_bytes_out_total", &labels).increment(read.bytes.len() as u64);
    metrics::counter!("weft_records_out_total", &labels).increment(read.records);
}
