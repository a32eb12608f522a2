//! The produce path: batches from every connection and partition are buffered into one segment; a flush
//! makes the segment durable in the object store, then one metastore transaction assigns every batch its
//! offsets, and only then are producers answered.
//!
//! Uploads may overlap (up to `max_inflight_flushes`), but commits happen strictly in flush order, so two
//! requests on one connection keep their order in every partition. Buffered bytes are bounded by a
//! semaphore: when it is exhausted, connections stop reading requests (backpressure) instead of growing memory.

use crate::committer::{CommitDeps, Flushed, committer};
use crate::health::Health;
use crate::tail::IndexTail;
use crate::watch::PartitionWatch;
use bytes::Bytes;
use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;
use weft_clock::{Clock, IdSource};
use weft_format::SegmentBuilder;
use weft_meta::{BatchAppend, BatchKind, Log, ProducerBatch, SegmentCommit};
use weft_protocol::BatchHeader;
use weft_storage::{ObjectStorage, keys};

/// One validated batch to append.
pub struct Append {
    pub topic_id: Uuid,
    pub partition: i32,
    pub header: BatchHeader,
    pub data: Bytes,
    pub kind: BatchKind,
}

/// What kind of failure stopped a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushFailureKind {
    /// The object store or the metastore failed (or the flush was abandoned): nothing was written.
    Storage,
    /// The buffer is closed: the agent is shutting down and takes no more batches.
    ShuttingDown,
}

/// Why a flush failed; every producer waiting on it receives this. The message is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FlushFailure {
    pub kind: FlushFailureKind,
    pub message: String,
}

impl FlushFailure {
    pub fn storage(message: impl Into<String>) -> Self {
        FlushFailure { kind: FlushFailureKind::Storage, message: message.into() }
    }
}

pub type FlushResult = Result<Vec<weft_meta::AppendOutcome>, FlushFailure>;

pub(crate) struct Waiter {
    pub(crate) tx: oneshot::Sender<FlushResult>,
    pub(crate) range: Range<usize>,
}

struct Pending {
    builder: SegmentBuilder,
    appends: Vec<BatchAppend>,
    waiters: Vec<Waiter>,
    first_at: Option<Instant>,
    permits: Vec<OwnedSemaphorePermit>,
    /// Id of the next record set buffered.
    next_set: u32,
}

impl Pending {
    /// A new segment with room for `capacity` bytes (see [`segment_capacity`]).
    fn new(capacity: usize) -> Self {
        Pending {
            builder: SegmentBuilder::with_capacity(capacity),
            appends: Vec::new(),
            waiters: Vec::new(),
            first_at: None,
            permits: Vec::new(),
            next_set: 0,
        }
    }
}

/// Room reserved for the next segment, from the size of the last one: a segment grown by doubling copied
/// itself at every step and touched about twice its size in fresh pages (a profile of produce at full speed
/// spent a third of the agent's CPU in page faults under these copies). Busy flushes fill to `flush_bytes`,
/// so they get it plus room for the batches that arrive while the flusher takes it; quiet ones stay small,
/// so a trickle of small segments does not hold large allocations in the read cache.
fn segment_capacity(last_len: usize, flush_bytes: usize) -> usize {
    const MIN: usize = 64 * 1024;
    let wanted = last_len.saturating_add(last_len / 4);
    if last_len >= flush_bytes {
        return flush_bytes.saturating_add(flush_bytes / 8).max(MIN);
    }
    wanted.clamp(MIN, flush_bytes.max(MIN))
}

/// Limits of the produce buffer.
#[derive(Debug, Clone, Copy)]
pub struct ProduceLimits {
    pub flush_bytes: usize,
    pub flush_interval: Duration,
    pub max_buffered_bytes: usize,
    pub max_inflight_flushes: usize,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
    budget: Arc<Semaphore>,
    budget_total: u32,
    limits: ProduceLimits,
    closed: watch::Sender<bool>,
}

/// Handle to the produce buffer, shared by all connections.
#[derive(Clone)]
pub struct ProduceBuffer {
    shared: Arc<Shared>,
}

/// What the flush pipeline needs from the agent.
pub struct FlushDeps {
    pub storage: ObjectStorage,
    pub meta: Arc<dyn Log>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub partitions: Arc<PartitionWatch>,
    /// Where the committer leaves the rows it committed, for fetches at the end of a partition.
    pub tail: Arc<IndexTail>,
    pub health: Arc<Health>,
    /// A segment whose commit cannot start within this age (from when it was cut) is not committed: the
    /// collector treats uploads older than its orphan grace as orphans, so this must stay well below it.
    pub commit_deadline: Duration,
}

impl ProduceBuffer {
    pub fn new(limits: ProduceLimits) -> Self {
        let budget_total = u32::try_from(limits.max_buffered_bytes).unwrap_or(u32::MAX).max(1);
        ProduceBuffer {
            shared: Arc::new(Shared {
                pending: Mutex::new(Pending::new(segment_capacity(0, limits.flush_bytes))),
                wake: Notify::new(),
                budget: Arc::new(Semaphore::new(budget_total as usize)),
                budget_total,
                limits,
                closed: watch::channel(false).0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.shared.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Buffers record sets for the next flush; each inner list is one partition's record set of one request,
    /// which the commit appends all or none. Waits while the buffer is full (backpressure). The receiver yields
    /// one outcome per batch, in order, once the segment is durable and committed; the batches of a set share
    /// its refusal, so a set's first outcome answers for the set.
    pub async fn submit(&self, sets: Vec<Vec<Append>>) -> Result<oneshot::Receiver<FlushResult>, FlushFailure> {
        let (tx, rx) = oneshot::channel();
        if sets.iter().all(Vec::is_empty) {
            let _ = tx.send(Ok(Vec::new()));
            return Ok(rx);
        }
        if *self.shared.closed.borrow() {
            return Err(shutting_down());
        }
        let bytes: usize = sets.iter().flatten().map(|b| b.data.len()).sum();
        let want = u32::try_from(bytes).unwrap_or(u32::MAX).clamp(1, self.shared.budget_total);
        let permit = self.shared.budget.clone().acquire_many_owned(want).await.map_err(|_| shutting_down())?;
        let mut p = self.lock();
        let start = p.appends.len();
        for set in sets {
            // Neighbouring sets get different ids, which is all the commit needs to tell them apart.
            let record_set = p.next_set;
            p.next_set = p.next_set.wrapping_add(1);
            for b in set {
                let range = p.builder.push(*b.topic_id.as_bytes(), b.partition, &b.data);
                p.appends.push(BatchAppend {
                    topic_id: b.topic_id,
                    partition: b.partition,
                    byte_start: range.start,
                    byte_len: (range.end - range.start) as u32,
                    offset_span: b.header.offset_span(),
                    record_count: b.header.record_count,
                    max_timestamp: b.header.max_timestamp,
                    producer: producer_batch(&b.header),
                    kind: b.kind,
                    record_set,
                });
            }
        }
        let end = p.appends.len();
        p.waiters.push(Waiter { tx, range: start..end });
        p.permits.push(permit);
        let first = p.first_at.is_none();
        if first {
            p.first_at = Some(Instant::now());
        }
        let full = p.builder.len() >= self.shared.limits.flush_bytes;
        drop(p);
        if first || full {
            self.shared.wake.notify_one();
        }
        Ok(rx)
    }

    /// Stops accepting batches; the flusher writes what is buffered and exits.
    pub fn close(&self) {
        self.shared.closed.send_replace(true);
        self.shared.wake.notify_one();
    }

    /// Starts the flusher and committer tasks. The returned handle finishes after [`ProduceBuffer::close`]
    /// once everything buffered has been flushed and answered.
    pub fn spawn(&self, deps: FlushDeps) -> JoinHandle<()> {
        let (commit_tx, commit_rx) = mpsc::channel(self.shared.limits.max_inflight_flushes.max(1));
        let committer = tokio::spawn(committer(commit_rx, CommitDeps::from(&deps)));
        let this = self.clone();
        tokio::spawn(async move {
            this.flusher(commit_tx, deps).await;
            let _ = committer.await;
        })
    }

    async fn flusher(&self, commit_tx: mpsc::Sender<(JoinHandle<Result<(), FlushFailure>>, Flushed)>, deps: FlushDeps) {
        let mut closed = self.shared.closed.subscribe();
        loop {
            let (first_at, full) = {
                let p = self.lock();
                (p.first_at, p.builder.len() >= self.shared.limits.flush_bytes)
            };
            let is_closed = *closed.borrow_and_update();
            match first_at {
                None if is_closed => return,
                None => {
                    tokio::select! {
                        _ = self.shared.wake.notified() => {}
                        _ = closed.changed() => {}
                    }
                    continue;
                }
                Some(at) if !full && !is_closed => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at + self.shared.limits.flush_interval) => {}
                        _ = self.shared.wake.notified() => continue,
                        _ = closed.changed() => {}
                    }
                }
                Some(_) => {}
            }
            let taken = {
                let mut p = self.lock();
                let capacity = segment_capacity(p.builder.len(), self.shared.limits.flush_bytes);
                std::mem::replace(&mut *p, Pending::new(capacity))
            };
            if taken.appends.is_empty() {
                continue;
            }
            let created_ms = deps.clock.now_ms();
            let key = keys::segment_key(created_ms, deps.ids.nonce());
            let object = taken.builder.finish();
            let size = object.len() as u64;
            let storage = deps.storage.clone();
            let upload_key = key.clone();
            let upload = tokio::spawn(async move {
                storage.put_durable(&upload_key, object).await.map_err(|e| {
                    tracing::warn!(key = %upload_key, error = %e, "segment upload failed");
                    FlushFailure::storage(e.to_string())
                })
            });
            let flushed = Flushed {
                commit: SegmentCommit { object_key: key, object_size: size, created_ms, batches: taken.appends },
                waiters: taken.waiters,
                cut_at: Instant::now(),
                _permits: taken.permits,
            };
            if commit_tx.send((upload, flushed)).await.is_err() {
                return;
            }
        }
    }
}

/// The idempotence fields of a batch written by an idempotent producer (producer id >= 0).
fn producer_batch(h: &BatchHeader) -> Option<ProducerBatch> {
    (h.producer_id >= 0).then(|| {
        // Sequences wrap at i32::MAX back to 0.
        let last = (i64::from(h.base_sequence) + i64::from(h.last_offset_delta)) % (i64::from(i32::MAX) + 1);
        ProducerBatch {
            producer_id: h.producer_id,
            epoch: h.producer_epoch,
            first_sequence: h.base_sequence,
            last_sequence: last as i32,
        }
    })
}

fn shutting_down() -> FlushFailure {
    FlushFailure { kind: FlushFailureKind::ShuttingDown, message: "the agent is shutting down".into() }
}

#[cfg(test)]
mod capacity_tests {
    use super::segment_capacity;

    #[test]
    fn busy_segments_get_the_flush_size_and_quiet_ones_stay_small() {
        let flush = 8 << 20;
        assert_eq!(segment_capacity(flush, flush), flush + flush / 8);
        assert_eq!(segment_capacity(flush + 5, flush), flush + flush / 8);
        assert_eq!(segment_capacity(0, flush), 64 * 1024);
        assert_eq!(segment_capacity(1000, flush), 64 * 1024);
        assert_eq!(segment_capacity(1 << 20, flush), (1 << 20) + (1 << 18));
        assert_eq!(segment_capacity(flush - 1, flush), flush);
        assert_eq!(segment_capacity(10, 1), 64 * 1024);
    }
}
