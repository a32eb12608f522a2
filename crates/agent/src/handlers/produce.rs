//! Produce: validate every partition's batches, hand the good ones to the produce buffer in arrival order,
//! and answer once the flush that holds them is durable and committed.

use super::record_checks::{Refusal, batch_records, check_records};
use crate::Agent;
use crate::client_traffic::ProduceSample;
use crate::error::KafkaCode;
use crate::request::{Completion, Operation, RequestContext, Resource, check, may_create_topic, respond};
use futures::FutureExt;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_response::BatchIndexAndErrorMessage;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use std::sync::Arc;
use weft_log::Append;
use weft_meta::{AppendOutcome, BatchKind};
use weft_protocol::batch::split_batches;
use weft_registry::ids::LookupBudget;
use weft_topics::TopicEntry;

/// Per-partition answer before the flush: either an early error, or the number of batches submitted.
enum Slot {
    Refused(i16, Option<String>),
    /// Records refused one by one (KIP-467); nothing of the partition was submitted.
    RecordErrors(Box<Refusal>),
    Submitted {
        first: usize,
        count: usize,
        bytes: u64,
        records: u64,
        log_append_ms: i64,
    },
}

/// A batch that passed the record checks, with its decompressed records for the schema checks.
struct Checked {
    append: Append,
    records: bytes::Bytes,
}

fn validate(
    topic: &TopicEntry,
    partition: i32,
    records: Option<&bytes::Bytes>,
    now_ms: i64,
    version: i16,
) -> Result<Vec<Checked>, Refusal> {
    if partition < 0 || partition >= topic.topic.partitions {
        let message = format!("partition {partition} does not exist");
        return Err((ResponseError::UnknownTopicOrPartition.code(), message).into());
    }
    let records = match records {
        Some(r) if !r.is_empty() => r,
        _ => {
            return Err((ResponseError::CorruptMessage.code(), "produce request carries no records".to_string()).into());
        }
    };
    let batches = split_batches(records).map_err(|e| (e.code(), e.to_string()))?;
    // Kafka's ProduceRequest.validateRecords: from Produce v3 on (all Weft serves), one batch per partition.
    if batches.len() > 1 {
        return Err((
            ResponseError::InvalidRecord.code(),
            format!("produce requests may carry exactly one record batch per partition, not {}", batches.len()),
        )
            .into());
    }
    // zstd (codec 4) came with Produce v7 (KIP-110): refused below it before anything is decompressed, as
    // Kafka's ProduceRequest.validateRecords does, so a client that predates zstd never writes what its peers
    // may not read.
    if version < 7 && batches.iter().any(|(h, _)| h.compression() == 4) {
        let message =
            format!("produce requests with version {version} may not use zstd compression (version 7 or later)");
        return Err((ResponseError::UnsupportedCompressionType.code(), message).into());
    }
    let max = topic.max_message_bytes.max(0) as usize;
    let log_append = topic.log_append_time;
    let mut out = Vec::with_capacity(batches.len());
    for (header, data) in batches {
        if data.len() > max {
            return Err((
                ResponseError::MessageTooLarge.code(),
                format!("batch of {} bytes exceeds max.message.bytes {max}", data.len()),
            )
                .into());
        }
        if header.is_transactional() && header.producer_id < 0 {
            return Err(
                (ResponseError::InvalidRecord.code(), "transactional batch has no producer id".to_string()).into()
            );
        }
        if header.producer_id >= 0 && header.base_sequence < 0 {
            return Err((
                ResponseError::InvalidRecord.code(),
                format!("idempotent batch has sequence {}", header.base_sequence),
            )
                .into());
        }
        if header.is_control() {
            let message = "producers may not write control batches".to_string();
            return Err((ResponseError::InvalidRecord.code(), message).into());
        }
        // Every record is walked; per-record refusals (KIP-467) and the true max timestamp come from here.
        let records = batch_records(&header, &data)?;
        let (header, data) = check_records(topic, partition, (header, data), &records, now_ms)?;
        let (header, data) = if log_append {
            // As Kafka's broker does: the batch carries the append time, and says so in its attributes.
            let mut stamped = bytes::BytesMut::from(&data[..]);
            weft_protocol::rewrite::stamp_log_append_time(&mut stamped, now_ms)
                .map_err(|e| Refusal::from((ResponseError::CorruptMessage.code(), e.to_string())))?;
            let data = stamped.freeze();
            let header = weft_protocol::BatchHeader::parse(&data)
                .map_err(|e| Refusal::from((ResponseError::CorruptMessage.code(), e.to_string())))?;
            (header, data)
        } else {
            (header, data)
        };
        let kind = if header.is_transactional() { BatchKind::Transactional } else { BatchKind::Plain };
        out.push(Checked { append: Append { topic_id: topic.topic.id, partition, header, data, kind }, records });
    }
    Ok(out)
}

/// What `batches` add to the client's produce table (sizes already known from validation; nothing decoded again).
fn observe(batches: &[Checked]) -> ProduceSample {
    let mut sample = ProduceSample::default();
    for b in batches {
        let h = &b.append.header;
        sample.add_batch(b.append.data.len(), h.compression(), h.record_count, b.records.len());
    }
    sample
}

/// Broker-side schema validation of a topic that enables it (after the record checks).
async fn check_schemas(
    agent: &Agent,
    budget: &mut LookupBudget,
    topic: &TopicEntry,
    batches: Vec<Checked>,
) -> Result<Vec<Append>, Refusal> {
    if let Some(rules) = &topic.schema_validation {
        for b in &batches {
            let (header, name) = (&b.append.header, &topic.topic.name);
            super::schema_checks::check_schemas(&agent.schemas, budget, name, rules, header, &b.records).await?;
        }
    }
    Ok(batches.into_iter().map(|b| b.append).collect())
}

pub async fn handle(
    agent: Arc<Agent>,
    ctx: &RequestContext,
    req: ProduceRequest,
    version: i16,
    correlation_id: i32,
    throttle_ms: i32,
) -> Completion {
    let txn_denied = transactional_id_denied(ctx, &req);
    let acks = req.acks;
    let now_ms = agent.clock.now_ms();
    let mut appends = Vec::new();
    let mut submitted_batches = 0;
    let mut schema_lookups = LookupBudget::default();
    let mut traffic = ProduceSample::default();
    let mut layout: Vec<(TopicName, Vec<(i32, Slot)>)> = Vec::with_capacity(req.topic_data.len());
    for t in req.topic_data {
        // Kafka: a transactional id the producer may not write refuses everything; then WRITE per topic.
        if let Some(code) = txn_denied.or_else(|| check(ctx, Operation::Write, Resource::Topic(&t.name)).err()) {
            let slots = t.partition_data.iter().map(|p| (p.index, Slot::Refused(code, None))).collect();
            layout.push((t.name, slots));
            continue;
        }
        let topic = match agent.topics.get(agent.meta.as_ref(), &t.name).await {
            Ok(Some(topic)) => Ok(topic),
            Ok(None)
                if agent.config.auto_create_topics
                    && super::topics::validate_topic_name(&t.name).is_ok()
                    && may_create_topic(ctx, &t.name).is_ok() =>
            {
                agent.auto_create_topic(&t.name).await
            }
            Ok(None) => Err(ResponseError::UnknownTopicOrPartition.code()),
            Err(e) => {
                tracing::warn!(topic = %t.name.as_str(), error = %e, "produce: topic lookup failed");
                Err(e.code())
            }
        };
        let mut slots = Vec::with_capacity(t.partition_data.len());
        for p in t.partition_data {
            let checked = if !matches!(acks, -1..=1) {
                Err((ResponseError::InvalidRequiredAcks.code(), format!("acks must be -1, 0 or 1, was {acks}")).into())
            } else {
                match &topic {
                    Ok(topic) => match validate(topic, p.index, p.records.as_ref(), now_ms, version) {
                        Ok(batches) => {
                            let sample = observe(&batches);
                            let checked = check_schemas(&agent, &mut schema_lookups, topic, batches).await;
                            if checked.is_ok() {
                                traffic.merge(&sample);
                            }
                            checked
                        }
                        Err(refusal) => Err(refusal),
                    },
                    Err(code) => Err((*code, format!("topic {} is unknown", t.name.as_str())).into()),
                }
            };
            let log_append_ms = match &topic {
                Ok(topic) if topic.log_append_time => now_ms,
                _ => -1,
            };
            let slot = match checked {
                Ok(batches) => {
                    let first = submitted_batches;
                    let count = batches.len();
                    submitted_batches += count;
                    let bytes = batches.iter().map(|b| b.data.len() as u64).sum();
                    let records = batches.iter().map(|b| b.header.record_count.max(0) as u64).sum();
                    // The partition's batches are one record set: appended all or none.
                    appends.push(batches);
                    Slot::Submitted { first, count, bytes, records, log_append_ms }
                }
                Err(refusal) => {
                    let (code, message) = (refusal.code, &refusal.message);
                    tracing::warn!(topic = %t.name.as_str(), partition = p.index, code, %message, "produce refused");
                    if refusal.record_errors.is_empty() {
                        Slot::Refused(refusal.code, Some(refusal.message))
                    } else {
                        Slot::RecordErrors(Box::new(refusal))
                    }
                }
            };
            slots.push((p.index, slot));
        }
        layout.push((t.name, slots));
    }
    agent.client_traffic.record(&ctx.client_id, acks, now_ms, &traffic);
    let submitted = agent.produce.submit(appends).await;
    if acks == 0 {
        // No response is sent for acks=0, so later requests on this connection need not wait for the flush.
        if let Err(e) = &submitted {
            tracing::warn!(code = e.code(), reason = %e.message, "acks=0 produce could not be buffered");
        }
        return futures::future::ready(Ok(None)).boxed();
    }
    async move {
        let outcomes = match submitted {
            Ok(rx) => rx.await.unwrap_or_else(|_| Err(weft_log::FlushFailure::storage("flush abandoned"))),
            Err(e) => Err(e),
        };
        let responses = layout
            .into_iter()
            .map(|(name, slots)| {
                let partitions = slots
                    .into_iter()
                    .map(|(index, slot)| {
                        let appended = match slot {
                            Slot::Submitted { bytes, records, .. } => Some((bytes, records)),
                            Slot::Refused(..) | Slot::RecordErrors(..) => None,
                        };
                        let r = partition_response(index, slot, &outcomes, version);
                        match appended {
                            Some((bytes, records)) if r.error_code == 0 => {
                                let labels = [("topic", name.to_string())];
                                metrics::counter!("weft_bytes_in_total", &labels).increment(bytes);
                                metrics::counter!("weft_records_in_total", &labels).increment(records);
                            }
                            _ => crate::metrics::error("Produce", r.error_code),
                        }
                        r
                    })
                    .collect();
                TopicProduceResponse::default().with_name(name).with_partition_responses(partitions)
            })
            .collect();
        respond(
            ApiKey::Produce,
            version,
            correlation_id,
            &ProduceResponse::default().with_responses(responses).with_throttle_time_ms(throttle_ms),
        )
    }
    .boxed()
}

/// TRANSACTIONAL_ID_AUTHORIZATION_FAILED when the request carries transactional batches without a
/// transactional id, or under one the producer may not WRITE (Kafka refuses the whole request then, with
/// or without an authorizer: a transactional write must name its transaction).
fn transactional_id_denied(ctx: &RequestContext, req: &ProduceRequest) -> Option<i16> {
    let transactional = req.topic_data.iter().flat_map(|t| &t.partition_data).any(|p| {
        p.records.as_ref().is_some_and(|r| weft_protocol::BatchHeader::parse(r).is_ok_and(|h| h.is_transactional()))
    });
    if !transactional {
        return None;
    }
    match req.transactional_id.as_ref() {
        None => Some(kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed.code()),
        Some(id) => check(ctx, Operation::Write, Resource::TransactionalId(id)).err(),
    }
}

/// The answer for one partition. Its batches were one record set, appended all or none, so the first batch's
/// outcome is the set's: its refusal, the duplicate's offset, or the first base offset.
fn partition_response(
    index: i32,
    slot: Slot,
    outcomes: &weft_log::FlushResult,
    version: i16,
) -> PartitionProduceResponse {
    let r = PartitionProduceResponse::default()
        .with_index(index)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1);
    let (code, message) = match slot {
        Slot::Refused(code, message) => (code, message),
        Slot::RecordErrors(refusal) => return with_record_errors(r, *refusal, version),
        Slot::Submitted { first, count, log_append_ms, .. } => match outcomes {
            Err(failure) => (failure.code(), Some(failure.message.clone())),
            Ok(all) => match all.get(first..first + count).and_then(|o| o.first()) {
                Some(
                    AppendOutcome::Appended { base_offset, log_start }
                    | AppendOutcome::Duplicate { base_offset, log_start },
                ) => {
                    return r
                        .with_base_offset(*base_offset)
                        .with_log_append_time_ms(log_append_ms)
                        .with_log_start_offset(if version >= 5 { *log_start } else { -1 });
                }
                Some(o @ AppendOutcome::OutOfOrderSequence) => refused(
                    o,
                    "a batch's sequence does not follow the producer's last sequence in the partition",
                    count,
                ),
                Some(o @ AppendOutcome::InvalidProducerEpoch) => {
                    refused(o, "a batch carries an older producer epoch than the partition's", count)
                }
                Some(o @ AppendOutcome::UnknownProducerId) => refused(
                    o,
                    "the producer has no state in the partition and a batch does not start at sequence 0",
                    count,
                ),
                Some(o @ AppendOutcome::InvalidTxnState) => {
                    refused(o, "the partition was not added to the producer's ongoing transaction", count)
                }
                // Clients send no control batches; only the coordinator's markers can be fenced.
                Some(o @ AppendOutcome::MarkerFenced) => {
                    refused(o, "the transaction is not being ended by this marker's coordinator", count)
                }
                Some(AppendOutcome::UnknownPartition) | None => refused(
                    &AppendOutcome::UnknownPartition,
                    "the partition was deleted before the records were stored",
                    count,
                ),
            },
        },
    };
    r.with_error_code(code).with_error_message(message.filter(|_| version >= 8).map(super::str_bytes))
}

/// A refusal naming the records at fault (KIP-467); the record errors and message exist from v8 on.
fn with_record_errors(r: PartitionProduceResponse, refusal: Refusal, version: i16) -> PartitionProduceResponse {
    let r = r.with_error_code(refusal.code);
    if version < 8 {
        return r;
    }
    let errors = refusal
        .record_errors
        .into_iter()
        .map(|(index, message)| {
            BatchIndexAndErrorMessage::default()
                .with_batch_index(index)
                .with_batch_index_error_message(message.map(super::str_bytes))
        })
        .collect();
    r.with_error_message(Some(super::str_bytes(refusal.message))).with_record_errors(errors)
}

/// The error code and message of a record set of `count` batches that the metastore refused.
fn refused(outcome: &AppendOutcome, reason: &str, count: usize) -> (i16, Option<String>) {
    let stored = if count > 1 { format!("; none of its {count} batches was stored") } else { String::new() };
    (outcome.code(), Some(format!("{reason}{stored}")))
}
