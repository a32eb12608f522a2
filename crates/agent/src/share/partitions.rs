//! The share-partition leader's state on this agent: one [`weft_share::SharePartition`] per (group, topic,
//! partition) in use, loaded from the metastore's `ShareStates` on first use (or created at the group's
//! `share.auto.offset.reset`), taken over with a fenced write (leader epoch + 1), and written back whole
//! before any answer that depends on it: acknowledgements and acquisitions (their delivery counts) are
//! stored before the client hears of them, so a crash loses neither. A write refused by the fence means
//! another agent took the partition over: the copy here is dropped and the client told to look again.
//!
//! One async lock per partition serialises its fetches, acknowledgements and timer; the map of partitions
//! is bounded (partitions with nothing acquired are dropped to make room; their state is all stored).
//!
//! AlterShareGroupOffsets and DeleteShareGroupOffsets change the stored state under the copies loaded here:
//! the agent answering them drops its copies at once ([`SharePartitions::forget`]); every other agent
//! compares its copy's epochs with the stored ones before using it once [`REVALIDATE_MS`] have passed since
//! the last comparison, and loads again when the state was reset or deleted (another agent's takeover,
//! a new leader epoch, drops the copy as a refused write does).

use super::isolation;
use crate::Agent;
use crate::error::KafkaCode;
use bytes::Bytes;
use kafka_protocol::ResponseError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use weft_groups::config::{GroupSettings, IsolationLevel, ShareAutoOffsetReset};
use weft_meta::{MetaError, PartitionOffsets, ShareEpochs, SharePartitionKey};
use weft_share::{AckBatch, AckError, AcquiredRange, Counters, RestoreError, ShareConfig, SharePartition};

/// How long a loaded copy is used before its epochs are compared with the stored ones again: the longest an
/// offset reset or deletion through another agent goes unnoticed here.
pub const REVALIDATE_MS: i64 = 2_000;

/// Why a share partition could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Read(#[from] weft_log::ReadError),
    #[error(transparent)]
    Corrupt(#[from] RestoreError),
    #[error("share state of {group}/{topic_id}/{partition} was taken over by another agent")]
    Fenced { group: String, topic_id: uuid::Uuid, partition: i32 },
    #[error("this agent already holds its maximum of {max} share partitions with records in flight")]
    TooMany { max: usize },
    #[error("partition {topic_id}/{partition} does not exist")]
    UnknownPartition { topic_id: uuid::Uuid, partition: i32 },
}

impl KafkaCode for ShareError {
    fn code(&self) -> i16 {
        match self {
            ShareError::Meta(e) => e.code(),
            ShareError::Read(e) => e.code(),
            ShareError::Corrupt(_) | ShareError::TooMany { .. } => ResponseError::KafkaStorageError.code(),
            // The client refreshes its metadata and fetches from the leader again.
            ShareError::Fenced { .. } => ResponseError::NotLeaderOrFollower.code(),
            ShareError::UnknownPartition { .. } => ResponseError::UnknownTopicOrPartition.code(),
        }
    }
}

/// A loaded share partition with the epochs its next write expects.
pub struct Held {
    pub part: SharePartition,
    epochs: ShareEpochs,
    /// Counters already reported to metrics.
    reported: Counters,
    /// When the epochs were last known to be the stored ones (loaded, written or compared).
    checked_ms: i64,
}

type Slot = Arc<tokio::sync::Mutex<Option<Held>>>;

/// What one acquisition hands a member: whole stored batches covering `ranges`.
pub struct Acquired {
    pub records: Bytes,
    pub ranges: Vec<AcquiredRange>,
}

/// Reads in one acquisition that may find only aborted records before it answers with nothing.
const MAX_ABORTED_READS: usize = 8;

/// The share partitions this agent leads.
pub struct SharePartitions {
    slots: Mutex<HashMap<SharePartitionKey, Slot>>,
    max_loaded: usize,
    /// Bumped whenever records become available again (release, lock expiry) or acknowledgements make room
    /// under the in-flight limit, waking waiting fetches.
    available: watch::Sender<u64>,
}

/// The share partition's limits from the group's settings.
pub fn config_of(settings: &GroupSettings) -> ShareConfig {
    ShareConfig { lock_duration_ms: i64::from(settings.share_record_lock_duration_ms), ..ShareConfig::default() }
}

impl SharePartitions {
    pub fn new(max_loaded: usize) -> Self {
        SharePartitions { slots: Mutex::new(HashMap::new()), max_loaded, available: watch::channel(0).0 }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SharePartitionKey, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes when records become available again.
    pub fn watch_available(&self) -> watch::Receiver<u64> {
        self.available.subscribe()
    }

    fn made_available(&self) {
        self.available.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The slot of `key`, making room when the map is full.
    fn slot(&self, key: &SharePartitionKey) -> Result<Slot, ShareError> {
        let mut slots = self.lock();
        if let Some(s) = slots.get(key) {
            return Ok(s.clone());
        }
        if slots.len() >= self.max_loaded {
            let idle: Vec<SharePartitionKey> = slots
                .iter()
                .filter(|(_, s)| {
                    s.try_lock().is_ok_and(|h| h.as_ref().is_none_or(|h| h.part.in_flight().acquired == 0))
                })
                .map(|(k, _)| k.clone())
                .take(16)
                .collect();
            for k in idle {
                slots.remove(&k);
            }
            if slots.len() >= self.max_loaded {
                return Err(ShareError::TooMany { max: self.max_loaded });
            }
        }
        let slot = Slot::default();
        slots.insert(key.clone(), slot.clone());
        Ok(slot)
    }

    /// The locked slot of `key`. A slot evicted (or unloaded) while this waited for its lock is no longer the
    /// map's, so the lookup starts over: two copies of one partition are never served side by side.
    async fn locked(&self, key: &SharePartitionKey) -> Result<tokio::sync::OwnedMutexGuard<Option<Held>>, ShareError> {
        loop {
            let slot = self.slot(key)?;
            let guard = slot.clone().lock_owned().await;
            if self.lock().get(key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                return Ok(guard);
            }
        }
    }

    /// Applies acknowledgements of `member` and stores the result before returning. The inner error is the
    /// refusal of the acknowledgements themselves (nothing applied).
    pub async fn acknowledge(
        &self,
        agent: &Agent,
        key: &SharePartitionKey,
        settings: &GroupSettings,
        member: &str,
        batches: &[AckBatch],
    ) -> Result<Result<(), AckError>, ShareError> {
        let mut guard = self.locked(key).await?;
        let held = load(agent, &mut guard, key, settings).await?;
        let (before, could_acquire) = (held.part.in_flight(), held.part.can_acquire());
        if let Err(e) = held.part.acknowledge(member, batches, agent.clock.now_ms()) {
            return Ok(Err(e));
        }
        // Released records, or room made under the in-flight limit: waiting fetches may acquire now.
        let reopened =
            held.part.in_flight().available > before.available || (!could_acquire && held.part.can_acquire());
        store(agent, &mut guard, key).await?;
        if reopened {
            self.made_available();
        }
        Ok(Ok(()))
    }

    /// Acquires for `member` up to `max_records` records (reading at most `max_bytes`) from the log, whose
    /// bounds are `offsets`, and stores the new delivery counts before returning them. Under read_committed,
    /// a read that held only aborted records is archived and the next one tried (a few times per call).
    pub async fn acquire(
        &self,
        agent: &Agent,
        key: &SharePartitionKey,
        settings: &GroupSettings,
        member: &str,
        limits: (usize, u64),
        offsets: PartitionOffsets,
    ) -> Result<Acquired, ShareError> {
        let mut guard = self.locked(key).await?;
        for _ in 0..MAX_ABORTED_READS {
            let held = load(agent, &mut guard, key, settings).await?;
            let (acquired, aborted_only) = acquire_once(agent, held, key, settings, member, limits, offsets).await?;
            if !acquired.ranges.is_empty() || aborted_only {
                store(agent, &mut guard, key).await?;
            }
            if !aborted_only {
                return Ok(acquired);
            }
        }
        Ok(Acquired { records: Bytes::new(), ranges: Vec::new() })
    }

    /// Releases what `member` holds of `key`, if the partition is loaded here, and stores it.
    pub async fn release(&self, agent: &Agent, key: &SharePartitionKey, member: &str) -> Result<u64, ShareError> {
        let Some(slot) = self.lock().get(key).cloned() else { return Ok(0) };
        let mut guard = slot.lock().await;
        let Some(held) = guard.as_mut() else { return Ok(0) };
        let n = held.part.release_member(member);
        if n > 0 {
            store(agent, &mut guard, key).await?;
            self.made_available();
        }
        Ok(n)
    }

    /// Expires acquisition locks past their deadline in every loaded partition and stores those changed.
    /// A partition busy with a request is skipped (a fetch or acknowledgement holds its lock across store
    /// reads and writes, and expires due locks itself); so is one with no deadline due.
    pub async fn expire_locks(&self, agent: &Agent) {
        let slots: Vec<(SharePartitionKey, Slot)> = self.lock().iter().map(|(k, s)| (k.clone(), s.clone())).collect();
        let now = agent.clock.now_ms();
        for (key, slot) in slots {
            let Ok(mut guard) = slot.try_lock() else { continue };
            let Some(held) = guard.as_mut() else { continue };
            if held.part.next_lock_deadline().is_none_or(|d| d > now) || held.part.expire_locks(now) == 0 {
                continue;
            }
            if let Err(e) = store(agent, &mut guard, &key).await {
                tracing::warn!(group = %key.group, topic_id = %key.topic_id, partition = key.partition, error = %e, "share partition: storing expired locks failed");
            }
            self.made_available();
        }
    }

    /// Drops the loaded partitions `owned` says this agent no longer serves (their owner changed), so a
    /// stale copy is never used again; one busy with a request is dropped on a later tick.
    pub fn drop_unowned(&self, owned: impl Fn(&SharePartitionKey) -> bool) -> usize {
        let mut slots = self.lock();
        let before = slots.len();
        slots.retain(|key, slot| owned(key) || slot.try_lock().is_err());
        before - slots.len()
    }

    /// Drops the loaded partitions of a deleted topic (its stored state went with it; a late write of a
    /// request still holding one is fenced). Returns how many were dropped.
    pub fn forget_topic(&self, topic_id: uuid::Uuid) -> usize {
        let mut slots = self.lock();
        let before = slots.len();
        slots.retain(|k, _| k.topic_id != topic_id);
        before - slots.len()
    }

    /// The topics of the loaded partitions.
    pub fn topics(&self) -> std::collections::BTreeSet<uuid::Uuid> {
        self.lock().keys().map(|k| k.topic_id).collect()
    }

    /// Drops the copies of `keys` loaded here (their stored state was reset or deleted); the next use loads
    /// them again.
    pub async fn forget(&self, keys: &[SharePartitionKey]) {
        for key in keys {
            let Some(slot) = self.lock().get(key).cloned() else { continue };
            *slot.lock().await = None;
        }
    }

    /// How many share partitions are loaded.
    pub fn loaded(&self) -> usize {
        self.lock().len()
    }
}

/// The loaded partition, loading (or creating) it first; a partition stored by another agent is taken over.
async fn load<'g>(
    agent: &Agent,
    guard: &'g mut Option<Held>,
    key: &SharePartitionKey,
    settings: &GroupSettings,
) -> Result<&'g mut Held, ShareError> {
    let config = config_of(settings);
    revalidate(agent, guard, key).await?;
    if guard.is_none() {
        let offsets = agent
            .partitions
            .offsets(agent.meta.as_ref(), key.topic_id, key.partition)
            .await?
            .ok_or(ShareError::UnknownPartition { topic_id: key.topic_id, partition: key.partition })?;
        let (part, expected, epochs) = match agent.meta.share_state(key).await? {
            // A deleted state (its group was deleted): start over, above the tombstone's epochs.
            Some(record) if record.is_deleted() => {
                let start = start_offset(agent, key, settings.share_auto_offset_reset, offsets).await?;
                let old = ShareEpochs { state_epoch: record.state_epoch, leader_epoch: record.leader_epoch };
                let new = ShareEpochs { leader_epoch: old.leader_epoch.wrapping_add(1), ..old };
                (SharePartition::new(config, start), Some(old), new)
            }
            Some(record) => {
                let part = SharePartition::from_record(config, &record, offsets.log_start)?;
                let old = ShareEpochs { state_epoch: record.state_epoch, leader_epoch: record.leader_epoch };
                let new = ShareEpochs { leader_epoch: old.leader_epoch.wrapping_add(1), ..old };
                (part, Some(old), new)
            }
            None => {
                let start = start_offset(agent, key, settings.share_auto_offset_reset, offsets).await?;
                (SharePartition::new(config, start), None, ShareEpochs { state_epoch: 0, leader_epoch: 0 })
            }
        };
        if !agent.meta.write_share_state(&part.to_record(key.clone(), epochs), expected).await? {
            return Err(fenced(key));
        }
        if expected.is_none() && agent.meta.topic_by_id(key.topic_id).await?.is_none() {
            // The topic was deleted (with its share states) between reading its offsets and this first write.
            agent.meta.delete_share_states(&key.group, Some(&[(key.topic_id, key.partition)])).await?;
            return Err(ShareError::UnknownPartition { topic_id: key.topic_id, partition: key.partition });
        }
        let reported = part.counters();
        *guard = Some(Held { part, epochs, reported, checked_ms: agent.clock.now_ms() });
    }
    let held = guard.as_mut().ok_or_else(|| fenced(key))?;
    held.part.set_config(config);
    Ok(held)
}

/// Compares a copy not compared for [`REVALIDATE_MS`] with the stored epochs: a reset (new state epoch) or
/// deleted state drops the copy so that it is loaded again; another agent's takeover (new leader epoch) drops
/// it and fences, as a refused write would.
async fn revalidate(agent: &Agent, guard: &mut Option<Held>, key: &SharePartitionKey) -> Result<(), ShareError> {
    let now = agent.clock.now_ms();
    let Some(held) = guard.as_mut() else { return Ok(()) };
    if now.saturating_sub(held.checked_ms) < REVALIDATE_MS {
        return Ok(());
    }
    match agent.meta.share_state(key).await? {
        Some(r) if r.state_epoch == held.epochs.state_epoch && r.leader_epoch == held.epochs.leader_epoch => {
            held.checked_ms = now;
        }
        Some(r) if r.state_epoch == held.epochs.state_epoch => {
            *guard = None;
            return Err(fenced(key));
        }
        _ => *guard = None,
    }
    Ok(())
}

/// Stores the partition under its epochs; a fenced write drops the copy here.
async fn store(agent: &Agent, guard: &mut Option<Held>, key: &SharePartitionKey) -> Result<(), ShareError> {
    let Some(held) = guard.as_mut() else { return Err(fenced(key)) };
    report(held);
    let record = held.part.to_record(key.clone(), held.epochs);
    match agent.meta.write_share_state(&record, Some(held.epochs)).await {
        Ok(true) => {
            held.checked_ms = agent.clock.now_ms();
            Ok(())
        }
        Ok(false) => {
            *guard = None;
            Err(fenced(key))
        }
        Err(e) => {
            // The outcome is unknown: reload before serving the partition again.
            *guard = None;
            Err(e.into())
        }
    }
}

fn fenced(key: &SharePartitionKey) -> ShareError {
    ShareError::Fenced { group: key.group.clone(), topic_id: key.topic_id, partition: key.partition }
}

/// One read and acquisition (not stored yet); `true` when every record acquired was of an aborted
/// transaction (archived: the caller stores and reads on).
async fn acquire_once(
    agent: &Agent,
    held: &mut Held,
    key: &SharePartitionKey,
    settings: &GroupSettings,
    member: &str,
    (max_records, max_bytes): (usize, u64),
    offsets: PartitionOffsets,
) -> Result<(Acquired, bool), ShareError> {
    let nothing = || Ok((Acquired { records: Bytes::new(), ranges: Vec::new() }, false));
    held.part.log_start_moved(offsets.log_start);
    let from = held.part.next_fetch_offset();
    // read_committed acquires up to the last stable offset only (Kafka's share fetch isolation).
    let committed = settings.share_isolation_level == IsolationLevel::ReadCommitted;
    let end = if committed { offsets.last_stable } else { offsets.next_offset };
    if from >= end || !held.part.can_acquire() || max_records == 0 {
        return nothing();
    }
    let records = agent.reader.read_records(key.topic_id, key.partition, from, end, max_bytes, true).await?;
    let Some(last) = last_offset_in(&records).map(|l| l.min(end - 1)) else { return nothing() };
    let aborted = if committed {
        let txns = agent.meta.aborted_transactions(key.topic_id, key.partition, from, last + 1).await?;
        isolation::aborted_batches(&records, &txns)
    } else {
        Vec::new()
    };
    let mut ranges = held.part.acquire(member, from, last, max_records, agent.clock.now_ms());
    let mut aborted_only = false;
    if !aborted.is_empty() && !ranges.is_empty() {
        for &(first, last) in &aborted {
            held.part.archive_undeliverable(member, first, last);
        }
        ranges = isolation::without(&ranges, &aborted);
        aborted_only = ranges.is_empty();
    }
    let records = covering(&records, &ranges);
    Ok((Acquired { records, ranges }, aborted_only))
}

/// Where a partition without stored state starts (`share.auto.offset.reset`).
pub(crate) async fn start_offset(
    agent: &Agent,
    key: &SharePartitionKey,
    reset: ShareAutoOffsetReset,
    offsets: PartitionOffsets,
) -> Result<i64, ShareError> {
    Ok(match reset {
        ShareAutoOffsetReset::Earliest => offsets.log_start,
        ShareAutoOffsetReset::Latest => offsets.next_offset,
        ShareAutoOffsetReset::ByDuration(d) => {
            let at = agent.clock.now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let (found, _) =
                crate::handlers::list_offsets::lookup(agent, key.topic_id, key.partition, at.max(0), false).await?;
            if found < 0 { offsets.next_offset } else { found }
        }
    })
}

/// The last offset of the last batch in `records`.
fn last_offset_in(records: &Bytes) -> Option<i64> {
    let mut at = 0;
    let mut last = None;
    while let Ok(h) = weft_protocol::BatchHeader::parse(&records[at..]) {
        last = Some(h.base_offset.saturating_add(i64::from(h.last_offset_delta)));
        at += h.size;
    }
    last
}

/// The batches of `records` that hold any offset of `ranges` (ordered), contiguous as stored.
fn covering(records: &Bytes, ranges: &[AcquiredRange]) -> Bytes {
    let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else { return Bytes::new() };
    let (mut start, mut end, mut at) = (None, 0, 0);
    while let Ok(h) = weft_protocol::BatchHeader::parse(&records[at..]) {
        let batch_last = h.base_offset.saturating_add(i64::from(h.last_offset_delta));
        if batch_last >= first.first_offset && h.base_offset <= last.last_offset {
            start.get_or_insert(at);
            end = at + h.size;
        }
        at += h.size;
    }
    start.map_or_else(Bytes::new, |s| records.slice(s..end))
}

/// Adds what happened since the last report to the share metrics.
fn report(held: &mut Held) {
    let now = held.part.counters();
    let was = held.reported;
    for (event, n) in [
        ("acquired", now.acquired.saturating_sub(was.acquired)),
        ("redelivered", now.redelivered.saturating_sub(was.redelivered)),
        ("acknowledged", now.acknowledged.saturating_sub(was.acknowledged)),
        ("released", now.released.saturating_sub(was.released)),
        ("rejected", now.rejected.saturating_sub(was.rejected)),
        ("archived", now.archived.saturating_sub(was.archived)),
        ("lock_timeout", now.lock_timeouts.saturating_sub(was.lock_timeouts)),
    ] {
        if n > 0 {
            metrics::counter!("weft_share_records_total", "event" => event).increment(n);
        }
    }
    held.reported = now;
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    /// Stored batches of `sizes` records each, back to back from offset 0.
    fn batches(sizes: &[i64]) -> Bytes {
        let mut out = bytes::BytesMut::new();
        let mut offset = 0;
        for &n in sizes {
            let records: Vec<Record> = (offset..offset + n)
                .map(|o| Record {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: 0,
                    producer_id: -1,
                    producer_epoch: -1,
                    timestamp_type: TimestampType::Creation,
                    offset: o,
                    sequence: -1,
                    timestamp: 0,
                    key: None,
                    value: Some(Bytes::from_static(b"v")),
                    headers: Default::default(),
                })
                .collect();
            let options = RecordEncodeOptions { version: 2, compression: Compression::None };
            RecordBatchEncoder::encode(&mut out, &records, &options).unwrap();
            offset += n;
        }
        out.freeze()
    }

    fn range(first_offset: i64, last_offset: i64) -> AcquiredRange {
        AcquiredRange { first_offset, last_offset, delivery_count: 1 }
    }

    #[test]
    fn only_the_batches_holding_acquired_offsets_are_returned() {
        let all = batches(&[1, 1, 1]);
        assert_eq!(last_offset_in(&all), Some(2));
        let one = batches(&[1]);
        // Offsets 1..=1 lie in the second batch only.
        let middle = covering(&all, &[range(1, 1)]);
        assert_eq!(middle.len(), one.len());
        assert_eq!(covering(&all, &[range(0, 2)]).len(), all.len());
        assert!(covering(&all, &[]).is_empty());
        assert_eq!(last_offset_in(&Bytes::new()), None);
    }
}
