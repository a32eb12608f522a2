//! The index tail: the index rows this agent committed in the last moments, kept in memory so that a fetch
//! at the end of a partition (a consumer keeping up) finds its batches without a metastore query.
//!
//! Each partition holds one contiguous run of rows, `base_offset` to `end`, as this agent's committer added
//! them. A row whose base offset does not continue the run (another agent, or another path, wrote offsets
//! in between) starts a new run, so the tail never hides a batch: it answers only for offsets inside its run,
//! and a read elsewhere goes to the metastore.
//!
//! Rows stay servable for `max_age` only. Maintenance rewrites (merges, compaction) keep the old object
//! readable for the collector's grace period after switching a row, so a row younger than a fraction of
//! that grace still points at readable bytes, and they are the same bytes. A read that finds its object
//! gone anyway falls back to the metastore ([`crate::LogReader`]).
//!
//! Memory is bounded: at most [`MAX_ROWS_PER_PARTITION`] rows per partition and [`MAX_ROWS`] in all; past
//! that, the oldest rows are swept (reads of them fall back to the metastore; nothing is lost).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use uuid::Uuid;
use weft_clock::Clock;
use weft_meta::BatchRef;

/// Most rows kept for one partition (a consumer further behind reads the metastore).
pub const MAX_ROWS_PER_PARTITION: usize = 256;
/// Most rows kept in all (about 100 bytes each).
pub const MAX_ROWS: usize = 64 * 1024;

/// One committed batch, as the committer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailBatch {
    pub topic_id: Uuid,
    pub partition: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub byte_start: u64,
    pub byte_len: u32,
}

struct Row {
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
    byte_start: u64,
    byte_len: u32,
    object_key: Arc<str>,
    committed_ms: i64,
}

#[derive(Default)]
struct Run {
    rows: VecDeque<Row>,
}

impl Run {
    /// The offset after the run's last row.
    fn end(&self) -> Option<i64> {
        self.rows.back().map(|r| r.last_offset + 1)
    }
}

#[derive(Default)]
struct Inner {
    runs: HashMap<(Uuid, i32), Run>,
    rows: usize,
}

/// Recently committed index rows per partition; see the module documentation.
pub struct IndexTail {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
    max_age_ms: i64,
}

impl IndexTail {
    /// A tail serving rows for `max_age` after their commit; a zero age keeps nothing.
    pub fn new(clock: Arc<dyn Clock>, max_age: Duration) -> Self {
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        IndexTail { inner: Mutex::new(Inner::default()), clock, max_age_ms }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the tail keeps rows at all (a zero age keeps none).
    pub(crate) fn enabled(&self) -> bool {
        self.max_age_ms > 0
    }

    /// Adds the batches one committed segment stored, in offset order per partition.
    pub fn record(&self, object_key: &str, batches: impl IntoIterator<Item = TailBatch>) {
        if !self.enabled() {
            return;
        }
        let now = self.clock.now_ms();
        let key: Arc<str> = Arc::from(object_key);
        let mut inner = self.lock();
        for b in batches {
            debug_assert!(b.last_offset >= b.base_offset, "a batch holds at least one offset");
            let row = Row {
                base_offset: b.base_offset,
                last_offset: b.last_offset,
                max_timestamp: b.max_timestamp,
                byte_start: b.byte_start,
                byte_len: b.byte_len,
                object_key: key.clone(),
                committed_ms: now,
            };
            inner.push((b.topic_id, b.partition), row);
        }
        // Over the bound: drop expired rows, then ever younger ones, and at last everything.
        let mut age = self.max_age_ms;
        while inner.rows > MAX_ROWS {
            if age == 0 {
                *inner = Inner::default();
                break;
            }
            inner.sweep(now - age);
            age /= 2;
        }
    }

    /// Rows holding offsets at or after `from_offset`, as [`weft_meta::Log::read_index`] lists them, if the
    /// tail covers `from_offset`; `None` sends the read to the metastore. Rows stop at the end of the run,
    /// which may be short of the partition's high watermark when other agents wrote after it.
    pub fn read(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        max_bytes: u64,
        max_batches: u32,
    ) -> Option<Vec<BatchRef>> {
        if !self.enabled() {
            return None;
        }
        let oldest = self.clock.now_ms() - self.max_age_ms;
        let inner = self.lock();
        let rows = &inner.runs.get(&(topic_id, partition))?.rows;
        // The row holding `from_offset` (rows are contiguous and in offset order); it and every later row
        // must still be young enough (commit times only grow along a run).
        let start = rows.partition_point(|r| r.last_offset < from_offset);
        let first = rows.get(start)?;
        if first.base_offset > from_offset || first.committed_ms < oldest {
            return None;
        }
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for r in rows.range(start..).take(max_batches.max(1) as usize) {
            if !out.is_empty() && bytes + u64::from(r.byte_len) > max_bytes {
                break;
            }
            bytes += u64::from(r.byte_len);
            out.push(BatchRef {
                base_offset: r.base_offset,
                last_offset: r.last_offset,
                max_timestamp: r.max_timestamp,
                object_key: r.object_key.to_string(),
                byte_start: r.byte_start,
                byte_len: r.byte_len,
            });
        }
        Some(out)
    }

    /// Rows held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn push(&mut self, key: (Uuid, i32), row: Row) {
        let run = self.runs.entry(key).or_default();
        if run.end() != Some(row.base_offset) {
            // Not a continuation: offsets were written elsewhere in between (or the run is new).
            self.rows -= run.rows.len();
            run.rows.clear();
        }
        run.rows.push_back(row);
        self.rows += 1;
        if run.rows.len() > MAX_ROWS_PER_PARTITION {
            run.rows.pop_front();
            self.rows -= 1;
        }
    }

    /// Drops rows committed before `oldest_ms`, and partitions left without rows.
    fn sweep(&mut self, oldest_ms: i64) {
        let mut removed = 0;
        self.runs.retain(|_, run| {
            let old = run.rows.partition_point(|r| r.committed_ms < oldest_ms);
            run.rows.drain(..old);
            removed += old;
            !run.rows.is_empty()
        });
        self.rows -= removed;
    }
}

#[cfg(test)]
mod tests;
