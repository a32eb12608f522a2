//! One share consumer's data path: a share session per partition leader (ShareFetch v1, epochs as
//! KIP-932 wants them), the previous fetch's acknowledgements piggy-backed on the next fetch to the same
//! leader, every acknowledgement result and delivery written to the [`Ledger`], and the sessions closed
//! with ShareAcknowledge epoch -1 at the end (carrying what is still unacknowledged).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use kafka_protocol::messages::share_acknowledge_request::{self as ack_req, AcknowledgePartition, AcknowledgeTopic};
use kafka_protocol::messages::share_fetch_request::{AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::share_fetch_response::PartitionData;
use kafka_protocol::messages::{GroupId, ShareAcknowledgeRequest, ShareFetchRequest};
use tokio::sync::watch;
use uuid::Uuid;

use super::acks::{self, ACCEPT, Ack, GAP, RELEASE};
use super::ledger::Ledger;
use super::member::error_text;
use super::wire::{Conn, str_bytes};
use crate::latency::{Clock, LatencyHistogram};

/// SHARE_SESSION_NOT_FOUND and INVALID_SHARE_SESSION_EPOCH: start a new session (epoch 0).
const SESSION_LOST: [i16; 2] = [122, 123];
/// Bound on one acquired range, far above any `max_records`.
const MAX_RANGE: i64 = 1_000_000;
/// Partition errors in a row before the consumer gives up.
const MAX_PARTITION_ERRORS: u32 = 100;

/// How this consumer fetches.
pub(crate) struct FetchSettings {
    pub group: String,
    pub member: String,
    pub topic_id: Uuid,
    pub max_records: i32,
    pub max_wait_ms: i32,
    pub max_bytes: i32,
    pub release_percent: u8,
}

/// A share session with one partition leader.
pub(crate) struct Session {
    pub node: i32,
    pub conn: Conn,
    epoch: i32,
    partitions: BTreeSet<i32>,
    /// Acknowledgements of the last fetch, sent with the next one.
    acks: Vec<Ack>,
}

impl Session {
    pub(crate) fn new(node: i32, conn: Conn) -> Session {
        Session { node, conn, epoch: 0, partitions: BTreeSet::new(), acks: Vec::new() }
    }
}

/// What one consumer did.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerStats {
    pub member: String,
    pub deliveries: u64,
    pub accepted: u64,
    pub released: u64,
    pub ack_errors: u64,
    pub fetches: u64,
    pub bytes: u64,
    pub latency: LatencyHistogram,
}

pub(crate) struct Fetcher {
    pub settings: FetchSettings,
    pub sessions: Vec<Session>,
    /// partition -> leader node.
    pub leaders: HashMap<i32, i32>,
    pub assigned: watch::Receiver<Option<BTreeSet<i32>>>,
    pub ledger: Arc<Ledger>,
    pub clock: Clock,
    pub stop: Arc<AtomicBool>,
}

impl Fetcher {
    /// Fetches until every expected record is accepted or `stop` is set, then closes the sessions.
    pub(crate) async fn run(mut self) -> Result<ConsumerStats> {
        let mut stats = ConsumerStats {
            member: self.settings.member.clone(),
            deliveries: 0,
            accepted: 0,
            released: 0,
            ack_errors: 0,
            fetches: 0,
            bytes: 0,
            latency: LatencyHistogram::new(),
        };
        let mut turn = 0usize;
        let mut errors = 0u32;
        while !self.ledger.finished() && !self.stop.load(Ordering::Relaxed) {
            let wanted = self.assigned.borrow().clone().unwrap_or_default();
            let Some(i) = self.next_session(&wanted, &mut turn) else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let want: BTreeSet<i32> =
                wanted.iter().copied().filter(|p| self.leaders.get(p) == Some(&self.sessions[i].node)).collect();
            errors = if self.fetch(i, &want, &mut stats).await? { 0 } else { errors + 1 };
            if errors > MAX_PARTITION_ERRORS {
                bail!("{}: {errors} share fetches in a row failed", self.settings.member);
            }
        }
        for i in 0..self.sessions.len() {
            self.close(i, &mut stats).await?;
        }
        Ok(stats)
    }

    /// The next session (round robin) with partitions to fetch or acknowledgements to send.
    fn next_session(&self, wanted: &BTreeSet<i32>, turn: &mut usize) -> Option<usize> {
        let (n, start) = (self.sessions.len(), *turn);
        let next = (0..n).map(|k| (start + k) % n).find(|&i| {
            let s = &self.sessions[i];
            let leads = wanted.iter().any(|p| self.leaders.get(p) == Some(&s.node));
            leads || !s.acks.is_empty() || !s.partitions.is_empty()
        })?;
        *turn = next + 1;
        Some(next)
    }

    /// One ShareFetch on session `i`; whether it succeeded.
    async fn fetch(&mut self, i: usize, want: &BTreeSet<i32>, stats: &mut ConsumerStats) -> Result<bool> {
        let s = &mut self.sessions[i];
        let acks = std::mem::take(&mut s.acks);
        let acked: BTreeSet<i32> = acks.iter().map(|a| a.partition).collect();
        let listed: BTreeSet<i32> = if s.epoch == 0 { want.clone() } else { want - &s.partitions };
        let listed: BTreeSet<i32> = listed.union(&acked).copied().collect();
        let forgotten: Vec<i32> =
            s.partitions.iter().copied().filter(|p| !want.contains(p) && !acked.contains(p)).collect();
        let st = &self.settings;
        let partitions = listed.iter().map(|&p| {
            let batches = acks.iter().filter(|a| a.partition == p).map(|a| {
                AcknowledgementBatch::default()
                    .with_first_offset(a.first)
                    .with_last_offset(a.last)
                    .with_acknowledge_types(vec![a.kind])
            });
            FetchPartition::default().with_partition_index(p).with_acknowledgement_batches(batches.collect())
        });
        let mut req = ShareFetchRequest::default()
            .with_group_id(Some(GroupId(str_bytes(&st.group))))
            .with_member_id(Some(str_bytes(&st.member)))
            .with_share_session_epoch(s.epoch)
            .with_max_wait_ms(st.max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(st.max_bytes)
            .with_max_records(st.max_records)
            .with_batch_size(st.max_records)
            .with_topics(vec![FetchTopic::default().with_topic_id(st.topic_id).with_partitions(partitions.collect())]);
        if !forgotten.is_empty() {
            req = req.with_forgotten_topics_data(vec![
                ForgottenTopic::default().with_topic_id(st.topic_id).with_partitions(forgotten.clone()),
            ]);
        }
        let sent = self.clock.now_ns();
        let resp = s.conn.call(1, &req).await?;
        let now = self.clock.now_ns();
        stats.fetches += 1;
        stats.latency.record_interval_ns(sent, now);
        if SESSION_LOST.contains(&resp.error_code) {
            (s.epoch, s.partitions) = (0, BTreeSet::new());
            stats.ack_errors += acks.iter().map(Ack::len).sum::<u64>();
            return Ok(false);
        }
        if resp.error_code != 0 {
            bail!("ShareFetch of {}: {}", st.member, error_text(resp.error_code, resp.error_message.as_ref()));
        }
        s.epoch = next_epoch(s.epoch);
        s.partitions.extend(listed);
        s.partitions.retain(|p| !forgotten.contains(p));
        let parts: Vec<&PartitionData> =
            resp.responses.iter().filter(|t| t.topic_id == st.topic_id).flat_map(|t| &t.partitions).collect();
        let ack_codes: HashMap<i32, i16> =
            parts.iter().map(|p| (p.partition_index, p.acknowledge_error_code)).collect();
        settle(&self.ledger, &acks, |p| ack_codes.get(&p).copied(), sent, now, stats);
        let mut ok = true;
        let mut next = Vec::new();
        for p in parts {
            ok &= p.error_code == 0;
            self.take_records(p, now, &mut next, stats)?;
        }
        self.sessions[i].acks = next;
        Ok(ok)
    }

    /// Records the deliveries of one partition's answer and queues their acknowledgements in `acks`.
    fn take_records(&self, p: &PartitionData, now: u64, acks: &mut Vec<Ack>, stats: &mut ConsumerStats) -> Result<()> {
        let records = p.records.as_deref().unwrap_or_default();
        stats.bytes += records.len() as u64;
        let spans = acks::batch_spans(records);
        for a in &p.acquired_records {
            if a.last_offset < a.first_offset || a.last_offset - a.first_offset >= MAX_RANGE {
                bail!(
                    "partition {} acquired an invalid range {}..={}",
                    p.partition_index,
                    a.first_offset,
                    a.last_offset
                );
            }
            for offset in a.first_offset..=a.last_offset {
                let kind = if !acks::covered(&spans, offset) {
                    GAP
                } else {
                    self.ledger.delivered(p.partition_index, offset, a.delivery_count, now);
                    stats.deliveries += 1;
                    let first = a.delivery_count <= 1;
                    if first && acks::releases(p.partition_index, offset, self.settings.release_percent) {
                        RELEASE
                    } else {
                        ACCEPT
                    }
                };
                acks::push(acks, p.partition_index, offset, kind);
            }
        }
        Ok(())
    }

    /// Closes session `i` (if open) with ShareAcknowledge epoch -1 carrying its last acknowledgements.
    async fn close(&mut self, i: usize, stats: &mut ConsumerStats) -> Result<()> {
        let s = &mut self.sessions[i];
        if s.epoch == 0 {
            return Ok(());
        }
        let acks = std::mem::take(&mut s.acks);
        let acked: BTreeSet<i32> = acks.iter().map(|a| a.partition).collect();
        let st = &self.settings;
        let partitions = acked.iter().map(|&p| {
            let batches = acks.iter().filter(|a| a.partition == p).map(|a| {
                ack_req::AcknowledgementBatch::default()
                    .with_first_offset(a.first)
                    .with_last_offset(a.last)
                    .with_acknowledge_types(vec![a.kind])
            });
            AcknowledgePartition::default().with_partition_index(p).with_acknowledgement_batches(batches.collect())
        });
        let topics = if acked.is_empty() {
            vec![]
        } else {
            vec![AcknowledgeTopic::default().with_topic_id(st.topic_id).with_partitions(partitions.collect())]
        };
        let req = ShareAcknowledgeRequest::default()
            .with_group_id(Some(GroupId(str_bytes(&st.group))))
            .with_member_id(Some(str_bytes(&st.member)))
            .with_share_session_epoch(-1)
            .with_topics(topics);
        let sent = self.clock.now_ns();
        let resp = s.conn.call(1, &req).await?;
        s.epoch = 0;
        if resp.error_code != 0 {
            bail!(
                "closing the share session of {}: {}",
                st.member,
                error_text(resp.error_code, resp.error_message.as_ref())
            );
        }
        let codes: HashMap<i32, i16> = resp
            .responses
            .iter()
            .filter(|t| t.topic_id == st.topic_id)
            .flat_map(|t| &t.partitions)
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        settle(&self.ledger, &acks, |p| codes.get(&p).copied(), sent, self.clock.now_ns(), stats);
        Ok(())
    }
}

/// Writes the broker's answer to `acks` (sent at `sent`) to the ledger: confirmed ones as accepted or
/// released, refused or unanswered ones as acknowledgement errors (those records come back later).
fn settle(
    ledger: &Ledger,
    acks: &[Ack],
    code: impl Fn(i32) -> Option<i16>,
    sent: u64,
    now: u64,
    stats: &mut ConsumerStats,
) {
    for a in acks {
        if code(a.partition) != Some(0) {
            stats.ack_errors += a.len();
            continue;
        }
        match a.kind {
            ACCEPT => {
                ledger.accepted(a.partition, a.first, a.last, now);
                stats.accepted += a.len();
            }
            RELEASE => {
                ledger.released(a.partition, a.first, a.last, sent);
                stats.released += a.len();
            }
            _ => {}
        }
    }
}

/// The session epoch after `epoch` (Kafka wraps from i32::MAX to 1).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}
