//! Writing group state to the metastore and loading it back, so that a coordinator restart or move does not
//! make members rejoin.
//!
//! A change is staged under the coordinator's lock (a numbered write of the whole group document) and
//! written by a spawned task, so a write completes even if the request that caused it goes away. Writes and
//! loads of one group take the same turn (one of [`TURNS`] async locks chosen by the group id): a load
//! happens once while concurrent requests for the group wait, and a write older than one already stored is
//! skipped, so the store never goes back to an older state. A group that was evicted or deleted (a new
//! incarnation, or none) is not written. The request that promised durability (SyncGroup completing a
//! generation, a static member's replacement, a KIP-848 heartbeat) answers only after its write, and a
//! failed write answers COORDINATOR_NOT_AVAILABLE, as Kafka answers a failed append to its offsets topic.

use crate::consumer::ConsumerGroup;
use crate::group::Group;
use crate::stored::{StoredGroup, decode, encode};
use crate::{Coordinator, GroupError, restore};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;
use weft_meta::GroupStateRecord;

/// How many async locks share the groups (a group always maps to the same one).
pub const TURNS: usize = 64;
/// A metastore read or write of group state gives up after this long.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed write, the timer retries the group's current state no sooner than this.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The lease fence of a group's writes: `Some` while this agent holds the coordinator lease of the group's
/// shard, `None` when it does not (the write is then refused: another agent coordinates the group).
pub type FenceSource = Arc<dyn Fn(&str) -> Option<weft_meta::LeaseFence> + Send + Sync>;

/// A group's write bookkeeping.
#[derive(Debug, Default)]
pub struct Persisted {
    /// Tells this in-memory life of the group from an earlier or later one (after eviction or deletion).
    pub incarnation: u64,
    /// The document of the latest staged write; `None` after a failure, so the next change writes again.
    last_doc: Option<String>,
    staged: u64,
    written: u64,
    retry_at: Option<Instant>,
}

impl Persisted {
    /// Bookkeeping of a group just restored from `stored`: nothing to write.
    pub fn restored(incarnation: u64, stored: &StoredGroup) -> Persisted {
        Persisted { incarnation, last_doc: Some(encode(stored)), ..Persisted::default() }
    }

    pub fn fresh(incarnation: u64) -> Persisted {
        Persisted { incarnation, ..Persisted::default() }
    }

    /// Whether every staged write is stored (a group may leave memory only then).
    pub fn settled(&self) -> bool {
        self.written == self.staged && self.retry_at.is_none()
    }

    /// Whether a failed write waits before the timer tries again.
    pub fn backing_off(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| now < at)
    }

    /// Whether nothing of the group was ever stored or loaded.
    fn never_stored(&self) -> bool {
        self.staged == 0 && self.last_doc.is_none()
    }

    /// Stages a write of `stored` unless the same document is already stored, or the group is empty and
    /// was never stored (a group that never had members, or whose first join is pending, leaves no trace).
    fn stage(&mut self, kind: Kind, group_id: &str, stored: &StoredGroup, empty: bool) -> Option<Write> {
        if empty && self.never_stored() {
            return None;
        }
        let record = restore::record(group_id, stored);
        if self.last_doc.as_deref() == Some(record.document.as_str()) && self.written == self.staged {
            return None;
        }
        self.staged += 1;
        self.last_doc = Some(record.document.clone());
        Some(Write { kind, incarnation: self.incarnation, seq: self.staged, record })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Classic,
    Consumer,
}

/// One staged write: the whole document of a group at one point.
pub struct Write {
    kind: Kind,
    incarnation: u64,
    seq: u64,
    record: GroupStateRecord,
}

impl Group {
    /// Stages a write if the group's storable state changed.
    pub fn stage(&mut self) -> Option<Write> {
        let stored = self.stored()?;
        let id = self.id.clone();
        let empty = self.members.is_empty();
        self.persisted.stage(Kind::Classic, &id, &stored, empty)
    }
}

impl ConsumerGroup {
    pub fn stage(&mut self, group_id: &str) -> Option<Write> {
        let stored = self.stored();
        let empty = self.members.is_empty();
        self.persisted.stage(Kind::Consumer, group_id, &stored, empty)
    }
}

fn turn_of(group_id: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    group_id.hash(&mut h);
    (h.finish() % TURNS as u64) as usize
}

impl Coordinator {
    fn persisted_mut<R>(&self, kind: Kind, group_id: &str, f: impl FnOnce(&mut Persisted) -> R) -> Option<R> {
        match kind {
            Kind::Classic => self.lock().get_mut(group_id).map(|g| f(&mut g.persisted)),
            Kind::Consumer => self.consumer_lock().get_mut(group_id).map(|g| f(&mut g.persisted)),
        }
    }

    /// Writes in a spawned task; the receiver tells how it went (dropped only if the runtime shuts down).
    pub(crate) fn persist(self: &Arc<Self>, w: Write) -> oneshot::Receiver<Result<(), GroupError>> {
        let (tx, rx) = oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move {
            let _ = tx.send(this.write(w).await);
        });
        rx
    }

    /// Writes without waiting for the outcome (failures are logged and retried by the timer).
    pub(crate) fn persist_later(self: &Arc<Self>, writes: Vec<Write>) {
        for w in writes {
            drop(self.persist(w));
        }
    }

    async fn write(&self, w: Write) -> Result<(), GroupError> {
        let group_id = w.record.group.clone();
        let _turn = self.turns[turn_of(&group_id)].lock().await;
        let current =
            self.persisted_mut(w.kind, &group_id, |p| (p.incarnation == w.incarnation).then_some(p.written >= w.seq));
        match current.flatten() {
            None => return Err(GroupError::NotCoordinator),
            Some(true) => return Ok(()),
            Some(false) => {}
        }
        let fence = match self.fence.get() {
            None => None,
            Some(source) => match source(&group_id) {
                Some(fence) => Some(fence),
                None => return Err(GroupError::NotCoordinator),
            },
        };
        let store = self.store.store_group_state(&w.record, fence.as_ref());
        let outcome = match tokio::time::timeout(STORE_TIMEOUT, store).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => {
                // Another agent took the group's shard: its state is the new owner's to write.
                tracing::info!(group = %group_id, "group state not stored: this agent lost the group's coordinator lease");
                return Err(GroupError::NotCoordinator);
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {STORE_TIMEOUT:?}")),
        };
        if let Err(e) = &outcome {
            tracing::warn!(group = %group_id, error = %e, "storing group state failed");
        }
        let now = Instant::now();
        self.persisted_mut(w.kind, &group_id, |p| {
            if p.incarnation != w.incarnation {
                return;
            }
            if outcome.is_ok() {
                p.written = p.written.max(w.seq);
                if p.written == p.staged {
                    p.retry_at = None;
                }
            } else if w.seq == p.staged {
                p.last_doc = None;
                p.retry_at = Some(now + RETRY_AFTER);
            }
        });
        outcome.map_err(|_| GroupError::CoordinatorNotAvailable)
    }

    /// Fences every later write of group state with the coordinator lease `source` names (several agents).
    pub fn set_fence(&self, source: FenceSource) {
        if self.fence.set(source).is_err() {
            tracing::warn!("the group coordinator's write fence was already set; keeping the first");
        }
    }

    fn holds(&self, group_id: &str) -> bool {
        self.lock().contains_key(group_id) || self.consumer_lock().contains_key(group_id)
    }

    /// Makes sure a group this coordinator does not hold in memory is loaded from the metastore, if stored
    /// there. Concurrent calls for one group wait for one load. Call before any request naming the group.
    pub async fn load(&self, group_id: &str) -> Result<(), GroupError> {
        if group_id.is_empty() || self.holds(group_id) {
            return Ok(());
        }
        let _turn = self.turns[turn_of(group_id)].lock().await;
        if self.holds(group_id) {
            return Ok(());
        }
        let record = match tokio::time::timeout(STORE_TIMEOUT, self.store.load_group_state(group_id)).await {
            Ok(Ok(record)) => record,
            Ok(Err(e)) => {
                tracing::warn!(group = %group_id, error = %e, "loading group state failed");
                return Err(GroupError::CoordinatorNotAvailable);
            }
            Err(_) => {
                tracing::warn!(group = %group_id, "loading group state timed out");
                return Err(GroupError::CoordinatorNotAvailable);
            }
        };
        let Some(record) = record else { return Ok(()) };
        let stored = decode(&record.document).map_err(|e| {
            tracing::error!(group = %group_id, error = %e, "stored group state cannot be read");
            GroupError::CoordinatorNotAvailable
        })?;
        let now = Instant::now();
        let persisted = Persisted::restored(self.next_incarnation(), &stored);
        match stored {
            StoredGroup::Classic(c) => {
                let g = Group::restore(group_id, c, now, persisted);
                tracing::info!(group = %group_id, generation = g.generation, state = g.state.name(), members = g.members.len(), "loaded group state");
                self.lock().entry(group_id.to_string()).or_insert(g);
            }
            StoredGroup::Consumer(c) => {
                let g = ConsumerGroup::restore(c, now, persisted).map_err(|e| {
                    tracing::error!(group = %group_id, error = %e, "stored group state cannot be read");
                    GroupError::CoordinatorNotAvailable
                })?;
                tracing::info!(group = %group_id, epoch = g.epoch, members = g.members.len(), "loaded consumer group state");
                self.consumer_lock().entry(group_id.to_string()).or_insert(g);
            }
        }
        Ok(())
    }

    /// DeleteGroups, the coordinator side: an empty group (classic or KIP-848) is forgotten and its stored
    /// state removed; one with members is refused with NON_EMPTY_GROUP. Returns whether the group was known
    /// (in memory or stored). Runs in the group's turn, so no write of the group lands after the removal.
    pub async fn delete_group(&self, group_id: &str) -> Result<bool, GroupError> {
        self.load(group_id).await?;
        let _turn = self.turns[turn_of(group_id)].lock().await;
        let in_memory = self.forget_empty(group_id)?;
        match tokio::time::timeout(STORE_TIMEOUT, self.store.delete_group_state(group_id)).await {
            Ok(Ok(stored)) => Ok(in_memory || stored),
            Ok(Err(e)) => {
                tracing::warn!(group = %group_id, error = %e, "deleting group state failed");
                Err(GroupError::CoordinatorNotAvailable)
            }
            Err(_) => Err(GroupError::CoordinatorNotAvailable),
        }
    }

    /// Drops the in-memory state of every group whose id matches `owned_elsewhere` (this agent no longer
    /// coordinates them), answering their waiting requests with NOT_COORDINATOR. Writes nothing: the store
    /// keeps the last state written, which the next coordinator loads; staged writes not yet stored are
    /// skipped.
    pub fn evict(&self, owned_elsewhere: impl Fn(&str) -> bool) -> usize {
        let mut evicted = 0;
        {
            let mut groups = self.lock();
            let ids: Vec<String> = groups.keys().filter(|id| owned_elsewhere(id)).cloned().collect();
            for id in ids {
                if let Some(mut g) = groups.remove(&id) {
                    g.answer_all(GroupError::NotCoordinator);
                    evicted += 1;
                }
            }
        }
        let mut consumer_groups = self.consumer_lock();
        let before = consumer_groups.len();
        consumer_groups.retain(|id, _| !owned_elsewhere(id));
        evicted += before - consumer_groups.len();
        if evicted > 0 {
            tracing::info!(groups = evicted, "evicted groups coordinated elsewhere");
        }
        evicted
    }
}
