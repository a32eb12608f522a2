//! High-watermark watches: long-polling fetches wait on these and are woken the moment a commit advances a
//! partition, with no polling loop.
//!
//! Each watch is seeded from the metastore on first use and advanced by this agent's commits and, when
//! several agents share the metastore, by its change feed ([`PartitionWatch::follow`]): commits made
//! elsewhere move the high watermarks here too, and wake fetches. The feed adds partitions not yet watched
//! (one small entry per partition of the cluster at most): a change that arrives while a first
//! subscription reads the metastore must not be lost, and `subscribe` keeps the larger of the two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;
use weft_meta::{Change, Log, PartitionOffsets};

/// Pause before reading all bounds again after a failed resync.
const RESYNC_RETRY: Duration = Duration::from_secs(1);
/// Longest wait for one re-read of every partition's bounds (a dead connection must not freeze the watches).
const RESYNC_TIMEOUT: Duration = Duration::from_secs(30);

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

    /// Reads the partition's bounds from the metastore again and moves its watch forward: for a decision that
    /// a stale view would get wrong (an offset past this agent's end may have been written through another
    /// agent whose change has not arrived yet).
    pub async fn refresh(
        &self,
        meta: &dyn Log,
        topic_id: Uuid,
        partition: i32,
    ) -> weft_meta::Result<Option<PartitionOffsets>> {
        let Some(read) = meta.partition_offsets(topic_id, partition).await? else { return Ok(None) };
        self.advance(topic_id, partition, read);
        Ok(self.lock().get(&(topic_id, partition)).map(|tx| *tx.borrow()).or(Some(read)))
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

    /// Applies the metastore's change feed until it ends: each change moves its partition's watch; a
    /// `Resync` reads every partition's bounds again (retried until it succeeds or the feed ends).
    pub async fn follow(self: Arc<Self>, meta: Arc<dyn Log>, mut feed: mpsc::Receiver<Change>) {
        while let Some(change) = feed.recv().await {
            match change {
                Change::Offsets { topic_id, partition, offsets } => self.advance(topic_id, partition, offsets),
                Change::Resync => loop {
                    let read = tokio::time::timeout(RESYNC_TIMEOUT, meta.all_partition_offsets()).await;
                    match read.unwrap_or_else(|_| Err(weft_meta::MetaError::Corrupt("the read timed out".into()))) {
                        Ok(all) => {
                            for (topic_id, partition, offsets) in all {
                                self.advance(topic_id, partition, offsets);
                            }
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read partition bounds after a change-feed gap; retrying");
                            if feed.is_closed() {
                                return;
                            }
                            tokio::time::sleep(RESYNC_RETRY).await;
                        }
                    }
                },
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

#[cfg(test)]
mod tests {
    use super::*;
    use weft_meta::prelude::*;
    use weft_meta::{BatchAppend, NewTopic, SegmentCommit, SqlMetastore};

    fn batch(topic_id: Uuid, span: i64) -> BatchAppend {
        BatchAppend {
            topic_id,
            partition: 0,
            byte_start: 0,
            byte_len: 1,
            offset_span: span,
            record_count: span as i32,
            max_timestamp: 0,
            producer: None,
            kind: Default::default(),
            record_set: 0,
        }
    }

    #[tokio::test]
    async fn the_change_feed_moves_partitions_and_resyncs_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqlMetastore::open(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap());
        let new = NewTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            partitions: 2,
            configs: Default::default(),
            created_ms: 0,
        };
        let topic = store.create_topic(new).await.unwrap().id;
        let watches = Arc::new(PartitionWatch::default());
        let mut rx = watches.subscribe(&*store, topic, 0).await.unwrap().unwrap();
        let (tx, feed) = mpsc::channel(8);
        let follower = tokio::spawn(watches.clone().follow(store.clone(), feed));

        let moved = PartitionOffsets { log_start: 0, next_offset: 7, last_stable: 7 };
        tx.send(Change::Offsets { topic_id: topic, partition: 0, offsets: moved }).await.unwrap();
        tx.send(Change::Offsets { topic_id: topic, partition: 1, offsets: moved }).await.unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), moved, "another agent's commit wakes the watch");

        // A commit the feed missed is found by a resync (its 9 offsets are beyond the 7 seen so far).
        let commit =
            SegmentCommit { object_key: "k".into(), object_size: 1, created_ms: 0, batches: vec![batch(topic, 9)] };
        store.commit_segment(commit).await.unwrap();
        tx.send(Change::Resync).await.unwrap();
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().next_offset, 9);
        drop(tx);
        follower.await.unwrap();
        assert_eq!(watches.offsets(&*store, topic, 1).await.unwrap(), Some(moved), "kept for later subscribers");
    }
}
