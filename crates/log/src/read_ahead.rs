//! Read-ahead for consumers behind the end of a partition.
//!
//! A consumer catching up alternates with the agent: librdkafka keeps one Fetch in flight per broker, so
//! while it decompresses a response the agent is idle, and while the agent reads the next objects the client
//! waits. After a fetch that left more data in a partition, the agent loads the objects that partition's
//! next fetch will read into the segment cache in the background, so that fetch finds them there.
//!
//! Bounded: at most [`MAX_PASSES`] passes run at once (a fetch that finds them busy reads nothing ahead, it
//! never queues), a pass loads at most [`MAX_PASS_BYTES`] of objects it did not find cached, and the
//! objects go through the segment cache's own budget. A failed load is only logged: the fetch that needs
//! the bytes reads them itself and reports the error.

use crate::LogReader;
use std::collections::HashSet;
use uuid::Uuid;

/// Read-ahead passes running at once.
pub(crate) const MAX_PASSES: usize = 1;
/// Most bytes of objects one pass loads into the cache.
pub const MAX_PASS_BYTES: u64 = 64 << 20;

/// Where a partition's next fetch will read: from `from_offset`, about `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    pub topic_id: Uuid,
    pub partition: i32,
    pub from_offset: i64,
    pub max_bytes: u64,
}

impl LogReader {
    /// Loads the objects of `next` reads into the cache in the background, unless a pass is running already.
    pub fn read_ahead(&self, next: Vec<Ahead>) {
        if next.is_empty() {
            return;
        }
        let Ok(permit) = self.ahead.clone().try_acquire_owned() else {
            return;
        };
        let reader = self.clone();
        tokio::spawn(async move {
            let loaded = reader.load_ahead(&next).await;
            metrics::counter!("weft_fetch_read_ahead_bytes_total").increment(loaded);
            drop(permit);
        });
    }

    /// Loads the uncached objects holding `next`'s batches, in order, until the pass's byte bound; returns
    /// the bytes loaded.
    async fn load_ahead(&self, next: &[Ahead]) -> u64 {
        let mut loaded = 0u64;
        let mut seen = HashSet::new();
        for a in next {
            let rows = match self.index(a.topic_id, a.partition, a.from_offset, a.max_bytes).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::debug!(topic = %a.topic_id, partition = a.partition, error = %e, "read-ahead index read failed");
                    return loaded;
                }
            };
            for row in rows {
                if loaded >= MAX_PASS_BYTES {
                    return loaded;
                }
                if self.storage().cache().contains(&row.object_key) || !seen.insert(row.object_key.clone()) {
                    continue;
                }
                match self.storage().get(&row.object_key).await {
                    Ok(data) => loaded += data.len() as u64,
                    Err(e) => {
                        tracing::debug!(key = %row.object_key, error = %e, "read-ahead load failed");
                        return loaded;
                    }
                }
            }
        }
        loaded
    }
}

#[cfg(test)]
mod tests;
