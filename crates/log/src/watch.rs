//! High-watermark watches: long-polling fetches wait on these and are woken the moment a commit advances a
//! partition, with no polling loop.
//!
//! Each watch is seeded from the metastore on first use and advanced by this agent's commits. (When several
//! agents share a metastore, commits made elsewhere will be delivered here by a metastore notification; the
//! watch is the single place that would feed.)

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::watch;
use uuid::Uuid;
use weft_meta::{Log, PartitionOffsets};

type Key = (Uuid, i32);

#[derive(Default)]
pub struct PartitionWatch {
    watches: Mutex<HashMap<Key, watch::Sender<PartitionOffsets>>>,
}

impl PartitionWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, watch::Sender<PartitionOffsets>>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver for the partition's offsets, or `None` if the partition does not exist.
    pub async fn subscribe(
        &self,
        meta: &dyn Log,
        topic_id: Uuid,
        partition: i32,
    ) -> weft_meta::Result<Option<watch::Receiver<PartitionOffsets>>> {
        if let Some(tx) = self.lock().get(&(topic_id, partition)) {
            return Ok(Some(tx.subscribe()));
        }
        let Some(offsets) = meta.partition_offsets(topic_id, partition).await? else {
            return Ok(None);
        };
        let mut map = self.lock();
        let tx = map.entry((topic_id, partition)).or_insert_with(|| watch::channel(offsets).0);
        // A commit may have landed between the read and taking the lock; keep the larger end.
        tx.send_if_modified(|cur| merge(cur, offsets));
        Ok(Some(tx.subscribe()))
    }

    /// Current offsets of a partition.
    pub async fn offsets(
        &self,
        meta: &dyn Log,
        topic_id: Uuid,
        partition: i32,
    ) -> weft_meta::Result<Option<PartitionOffsets>> {
        Ok(self.subscribe(meta, topic_id, partition).await?.map(|rx| *rx.borrow()))
    }

    /// Records the bounds a commit left the partition with.
    pub fn advance(&self, topic_id: Uuid, partition: i32, offsets: PartitionOffsets) {
        let mut map = self.lock();
        match map.get(&(topic_id, partition)) {
            Some(tx) => {
                tx.send_if_modified(|cur| merge(cur, offsets));
            }
            None => {
                map.insert((topic_id, partition), watch::channel(offsets).0);
            }
        }
    }

    /// Forgets every partition of a deleted topic.
    pub fn forget_topic(&self, topic_id: Uuid) {
        self.lock().retain(|(t, _), _| *t != topic_id);
    }
}

/// Moves `cur` forward to `new` (bounds only grow: a late, older reading never moves them back). Returns
/// whether anything changed.
fn merge(cur: &mut PartitionOffsets, new: PartitionOffsets) -> bool {
    let next = PartitionOffsets {
        log_start: cur.log_start.max(new.log_start),
        next_offset: cur.next_offset.max(new.next_offset),
        last_stable: cur.last_stable.max(new.last_stable),
    };
    let changed = next != *cur;
    *cur = next;
    changed
}
