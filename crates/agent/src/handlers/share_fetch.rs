//! ShareFetch v1 (KIP-932), sent to the leader of the partitions: the share session's epoch rules, the
//! acknowledgements it carries (applied and stored first; every acknowledged partition is answered), then
//! acquisition of records from every partition of the session, waiting up to MaxWaitMs (and the agent's
//! fetch wait limit) on the partitions' high-watermark watches and on records being released. Records come
//! back as whole stored batches with the acquired ranges; `Records` is never null (librdkafka drops the
//! whole response on a null).

use super::share_partitions::{self as sp, Refused, Resolver, Tp, WireAck};
use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::RequestContext;
use crate::share::sessions::Partitions;
use futures::FutureExt;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareFetchableTopicResponse,
};
use kafka_protocol::messages::{BrokerId, ShareFetchRequest, ShareFetchResponse};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use weft_groups::config::GroupSettings;
use weft_log::LEADER_EPOCH;
use weft_meta::SharePartitionKey;

/// max.poll.records' default, for a request that names no limit.
const DEFAULT_MAX_RECORDS: usize = 500;
/// fetch.max.bytes' default, for a request that names no limit.
const DEFAULT_MAX_BYTES: u64 = 52_428_800;

fn top(code: i16, message: String) -> ShareFetchResponse {
    ShareFetchResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
}

pub async fn handle(
    agent: &Arc<Agent>,
    ctx: &RequestContext,
    mut req: ShareFetchRequest,
    _v: i16,
) -> ShareFetchResponse {
    let admitted = sp::admit(agent, ctx, req.group_id.as_deref().map(|g| &**g), req.member_id.as_deref()).await;
    let (group, member, settings) = match admitted {
        Ok(admitted) => admitted,
        Err((code, message)) => return top(code, message),
    };
    let (listed, forgotten) = requested(&mut req);
    let has_acks = listed.values().any(|a| !a.is_empty());
    let key = (group.clone(), member.clone());
    let now = agent.clock.now_ms();
    // The partitions of a session closed by this request (epoch -1): released once its acknowledgements are in.
    let mut closing = None;
    let fetch_from = match req.share_session_epoch {
        0 if has_acks => {
            return top(ResponseError::InvalidRequest.code(), "acknowledgements in a share fetch of epoch 0".into());
        }
        0 => match agent.share.sessions.open(key, listed.keys().copied().collect(), now) {
            Ok(old) => {
                let dropped: Partitions = old.into_iter().filter(|tp| !listed.contains_key(tp)).collect();
                crate::share::release(agent, &group, &member, &dropped).await;
                listed.keys().copied().collect()
            }
            Err(e) => return top(e.code(), e.to_string()),
        },
        -1 => {
            if listed.values().any(|a| a.is_empty()) {
                return top(ResponseError::InvalidRequest.code(), "a final share fetch cannot fetch".into());
            }
            match agent.share.sessions.close(&key) {
                Ok(parts) => closing = Some(parts),
                Err(e) => return top(e.code(), e.to_string()),
            }
            Partitions::new()
        }
        epoch => {
            let add: Partitions = listed.keys().copied().collect();
            match agent.share.sessions.advance(&key, epoch, &add, &forgotten, now) {
                Ok(all) => all,
                Err(e) => return top(e.code(), e.to_string()),
            }
        }
    };
    let mut resolver = Resolver::new(agent, ctx);
    let acks: BTreeMap<Tp, Vec<WireAck>> = listed.into_iter().filter(|(_, a)| !a.is_empty()).collect();
    let acked = sp::acknowledge(agent, &mut resolver, &group, &member, &settings, &acks).await;
    if let Some(parts) = closing {
        crate::share::release(agent, &group, &member, &parts).await;
    }
    let limits = Limits {
        turn: usize::try_from(req.share_session_epoch).unwrap_or(0),
        max_records: usize::try_from(req.max_records).ok().filter(|n| *n > 0).unwrap_or(DEFAULT_MAX_RECORDS),
        max_bytes: u64::try_from(req.max_bytes).ok().filter(|n| *n > 0).unwrap_or(DEFAULT_MAX_BYTES),
        wait: Duration::from_millis(req.max_wait_ms.max(0) as u64).min(agent.config.max_fetch_wait),
    };
    let fetched = fetch(agent, &mut resolver, &group, &member, &settings, &fetch_from, limits).await;
    build(&resolver, acked, fetched, settings.share_record_lock_duration_ms)
}

/// The partitions listed (merged by topic id and partition, with their acknowledgements, moved out of the
/// request rather than copied) and forgotten.
fn requested(req: &mut ShareFetchRequest) -> (BTreeMap<Tp, Vec<WireAck>>, Partitions) {
    let mut listed: BTreeMap<Tp, Vec<WireAck>> = BTreeMap::new();
    for t in std::mem::take(&mut req.topics) {
        for p in t.partitions {
            let acks = listed.entry((t.topic_id, p.partition_index)).or_default();
            acks.extend(
                p.acknowledgement_batches.into_iter().map(|b| (b.first_offset, b.last_offset, b.acknowledge_types)),
            );
        }
    }
    let forgotten = req.forgotten_topics_data.iter().flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, *p)));
    (listed, forgotten.collect())
}

#[derive(Clone, Copy)]
struct Limits {
    /// Which partition of the session comes first (the session epoch, moving with every request).
    turn: usize,
    max_records: usize,
    max_bytes: u64,
    wait: Duration,
}

/// One partition's fetch outcome: records acquired (whole batches and the acquired ranges), or a refusal.
enum Fetched {
    Records(bytes::Bytes, Vec<weft_share::AcquiredRange>),
    Refused(Refused, Option<String>),
}

/// Acquires from `partitions` until something is acquired or the wait ends.
async fn fetch(
    agent: &Agent,
    resolver: &mut Resolver<'_>,
    group: &str,
    member: &str,
    settings: &GroupSettings,
    partitions: &Partitions,
    limits: Limits,
) -> BTreeMap<Tp, Fetched> {
    let mut out = BTreeMap::new();
    let mut watches = Vec::new();
    for &tp in partitions {
        match resolver.resolve(tp).await {
            Ok(_) => match agent.partitions.subscribe(agent.meta.as_ref(), tp.0, tp.1).await {
                Ok(Some(rx)) => watches.push((tp, rx)),
                Ok(None) => {
                    out.insert(tp, Fetched::Refused(Refused { code: unknown_partition(), leader: -1 }, None));
                }
                Err(e) => {
                    out.insert(tp, Fetched::Refused(Refused { code: e.code(), leader: -1 }, Some(e.to_string())));
                }
            },
            Err(refused) => {
                out.insert(tp, Fetched::Refused(refused, None));
            }
        }
    }
    // Each request starts at another partition, so a busy one does not take every request's record budget.
    if !watches.is_empty() {
        let turn = limits.turn % watches.len();
        watches.rotate_left(turn);
    }
    let deadline = Instant::now() + limits.wait;
    let session = (group.to_string(), member.to_string());
    let mut released = agent.share.partitions.watch_available();
    loop {
        released.borrow_and_update();
        let (mut records, mut bytes) = (limits.max_records, limits.max_bytes);
        let mut got = false;
        for (tp, rx) in watches.iter_mut() {
            if records == 0 || bytes == 0 {
                break;
            }
            let offsets = *rx.borrow_and_update();
            // The session may have closed (or forgotten the partition) while this request waited.
            if !agent.share.sessions.holds(&session, *tp) {
                continue;
            }
            let key = SharePartitionKey { group: group.to_string(), topic_id: tp.0, partition: tp.1 };
            match agent.share.partitions.acquire(agent, &key, settings, member, (records, bytes), offsets).await {
                Ok(a) if !a.ranges.is_empty() && !agent.share.sessions.holds(&session, *tp) => {
                    // It closed during the acquisition, after its release ran: release what was just taken.
                    if let Err(e) = agent.share.partitions.release(agent, &key, member).await {
                        tracing::warn!(group, topic_id = %tp.0, partition = tp.1, error = %e, "share fetch: releasing records of a closed session failed");
                    }
                }
                Ok(a) if !a.ranges.is_empty() => {
                    let n: i64 = a.ranges.iter().map(|r| r.last_offset - r.first_offset + 1).sum();
                    records = records.saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
                    bytes = bytes.saturating_sub(a.records.len() as u64);
                    got = true;
                    out.insert(*tp, Fetched::Records(a.records, a.ranges));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(group, topic_id = %tp.0, partition = tp.1, error = %e, "share fetch failed");
                    out.insert(*tp, Fetched::Refused(Refused { code: e.code(), leader: -1 }, Some(e.to_string())));
                }
            }
        }
        if got || watches.is_empty() || Instant::now() >= deadline {
            return out;
        }
        // Wait for new records in any partition, records released by anyone, or the deadline.
        let mut changes: Vec<_> =
            watches.iter_mut().map(|(_, rx)| async move { rx.changed().await.is_ok() }.boxed()).collect();
        changes.push(async { released.changed().await.is_ok() }.boxed());
        match tokio::time::timeout_at(deadline, futures::future::select_all(changes)).await {
            Err(_) => return out,
            Ok((true, _, _)) => {}
            // A watch closed (its topic was deleted): answer with what there is.
            Ok((false, _, _)) => return out,
        }
    }
}

fn unknown_partition() -> i16 {
    ResponseError::UnknownTopicOrPartition.code()
}

/// The response: every partition that acquired records, failed, or carried acknowledgements.
fn build(
    resolver: &Resolver<'_>,
    acked: BTreeMap<Tp, (sp::AckOutcome, Option<Refused>)>,
    fetched: BTreeMap<Tp, Fetched>,
    lock_ms: i32,
) -> ShareFetchResponse {
    let tps: BTreeSet<Tp> = acked.keys().chain(fetched.keys()).copied().collect();
    let mut refused = Vec::new();
    let mut topics: BTreeMap<uuid::Uuid, Vec<PartitionData>> = BTreeMap::new();
    for tp in tps {
        let mut data = PartitionData::default()
            .with_partition_index(tp.1)
            .with_current_leader(LeaderIdAndEpoch::default().with_leader_id(-1).with_leader_epoch(-1))
            .with_records(Some(bytes::Bytes::new()));
        let mut leader = -1;
        if let Some(((code, message), r)) = acked.get(&tp) {
            data.acknowledge_error_code = *code;
            data.acknowledge_error_message = message.clone().map(str_bytes);
            if let Some(r) = r {
                leader = leader.max(r.leader);
                refused.push(*r);
            }
        }
        match fetched.get(&tp) {
            Some(Fetched::Records(bytes, ranges)) => {
                data.records = Some(bytes.clone());
                data.acquired_records = ranges
                    .iter()
                    .map(|a| {
                        AcquiredRecords::default()
                            .with_first_offset(a.first_offset)
                            .with_last_offset(a.last_offset)
                            .with_delivery_count(a.delivery_count)
                    })
                    .collect();
            }
            Some(Fetched::Refused(r, message)) => {
                data.error_code = r.code;
                data.error_message = message.clone().map(str_bytes);
                leader = leader.max(r.leader);
                refused.push(*r);
            }
            None => {}
        }
        if leader >= 0 {
            data.current_leader = LeaderIdAndEpoch::default().with_leader_id(leader).with_leader_epoch(LEADER_EPOCH);
        }
        crate::metrics::error("ShareFetch", data.error_code);
        topics.entry(tp.0).or_default().push(data);
    }
    let endpoints = sp::leaders(resolver.brokers(), refused.into_iter())
        .into_iter()
        .map(|m| {
            NodeEndpoint::default()
                .with_node_id(BrokerId(m.node_id))
                .with_host(str_bytes(m.host.clone()))
                .with_port(m.port)
        })
        .collect();
    ShareFetchResponse::default()
        .with_acquisition_lock_timeout_ms(lock_ms)
        .with_responses(
            topics
                .into_iter()
                .map(|(id, ps)| ShareFetchableTopicResponse::default().with_topic_id(id).with_partitions(ps))
                .collect(),
        )
        .with_node_endpoints(endpoints)
}
