//! Reading stored batches back: index lookup, object reads through the cache, the length and header checks
//! and the base-offset patch. Fetch and ListOffsets read through [`LogReader`]; maintenance (compaction,
//! merge) reads single batches with [`read_batch`], so every reader of stored bytes checks and patches them
//! the same way. Fetch takes each batch as two chunks, a patched copy of its first 16 bytes and a slice of
//! the cached stored bytes after them, so the records are never copied in user space.

use crate::tail::IndexTail;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use uuid::Uuid;
use weft_meta::{BatchRef, Log, MetaError};
use weft_protocol::Chunks;
use weft_protocol::batch::{BatchHeader, PATCHED_PREFIX_LEN, patch_batch, patch_prefix};
use weft_storage::{ObjectStorage, StorageError};

/// Most index rows read for one partition in one fetch.
const MAX_BATCHES_PER_READ: u32 = 2048;

/// Leader epoch Weft reports everywhere (there is no leader election to bump it).
pub const LEADER_EPOCH: i32 = 0;

/// Why stored batches could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored batch at offset {offset} is unreadable: {reason}")]
    BadStoredBatch { offset: i64, reason: String },
}

/// Reads one stored batch as it was received (base offset not yet patched), checking that the object held
/// all the bytes the index promises.
async fn read_stored(storage: &ObjectStorage, b: &BatchRef) -> Result<Bytes, ReadError> {
    let range = b.byte_start..b.byte_start + u64::from(b.byte_len);
    let data = storage.get_range(&b.object_key, range, true).await?;
    if data.len() != b.byte_len as usize {
        return Err(ReadError::BadStoredBatch {
            offset: b.base_offset,
            reason: format!("read {} bytes of {} from {}", data.len(), b.byte_len, b.object_key),
        });
    }
    Ok(data)
}

/// Reads one stored batch with its base offset (and Weft's leader epoch) patched in, as fetch serves it.
pub async fn read_batch(storage: &ObjectStorage, b: &BatchRef) -> Result<BytesMut, ReadError> {
    let mut out = BytesMut::from(&read_stored(storage, b).await?[..]);
    patch_batch(&mut out, b.base_offset, LEADER_EPOCH);
    Ok(out)
}

/// Most bytes [`read_run`] asks of the store in one range read (a run of one larger batch is read whole).
pub const MAX_RUN_BYTES: u64 = 1 << 20;

/// Splits `rows` into runs that one range read serves: batches stored back to back in one object, at most
/// [`MAX_RUN_BYTES`] together (a run always holds at least one batch). Maintenance reads a partition's
/// batches this way: a flush segment holds each partition's batches together, a merged object holds one
/// partition, so most runs are whole.
pub fn read_runs(rows: &[BatchRef]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        let extends = rows.get(i).is_some_and(|b| {
            let prev = &rows[i - 1];
            let run_bytes = b.byte_start.saturating_sub(rows[start].byte_start) + u64::from(b.byte_len);
            b.object_key == prev.object_key
                && b.byte_start == prev.byte_start + u64::from(prev.byte_len)
                && run_bytes <= MAX_RUN_BYTES
        });
        if !extends {
            runs.push(start..i);
            start = i;
        }
    }
    runs
}

/// Reads one run of [`read_runs`] with one range read and returns its batches as [`read_batch`] does (checked
/// and patched). For background jobs: a cached object is sliced, but a miss reads only the run's bytes and
/// leaves the cache alone, so compaction going through old data never evicts what consumers are reading.
pub async fn read_run(storage: &ObjectStorage, run: &[BatchRef]) -> Result<Vec<BytesMut>, ReadError> {
    let (Some(first), Some(last)) = (run.first(), run.last()) else { return Ok(Vec::new()) };
    let range = first.byte_start..last.byte_start.saturating_add(u64::from(last.byte_len));
    if range.end < range.start {
        let reason = format!("a run of {} must be in byte order", first.object_key);
        return Err(ReadError::BadStoredBatch { offset: first.base_offset, reason });
    }
    let data = storage.get_range(&first.object_key, range.clone(), false).await?;
    if data.len() as u64 != range.end - range.start {
        let reason = format!("read {} bytes of {} from {}", data.len(), range.end - range.start, first.object_key);
        return Err(ReadError::BadStoredBatch { offset: first.base_offset, reason });
    }
    let mut out = Vec::with_capacity(run.len());
    for b in run {
        let at = usize::try_from(b.byte_start.saturating_sub(first.byte_start)).unwrap_or(usize::MAX);
        let range = (b.byte_start >= first.byte_start && b.object_key == first.object_key)
            .then(|| at..at.saturating_add(b.byte_len as usize));
        let stored = range.and_then(|r| data.get(r)).ok_or_else(|| ReadError::BadStoredBatch {
            offset: b.base_offset,
            reason: format!("batch outside its run in {}", b.object_key),
        })?;
        let mut batch = BytesMut::from(stored);
        patch_batch(&mut batch, b.base_offset, LEADER_EPOCH);
        out.push(batch);
    }
    Ok(out)
}

/// Stored batches as fetch serves them.
#[derive(Debug, Default)]
pub struct ReadRecords {
    /// The batches, base offsets patched, as chunks.
    pub bytes: Chunks,
    /// Records in them, control records not counted.
    pub records: u64,
    /// The offset after the last batch served (the partition's next fetch offset), if any was.
    pub next_offset: Option<i64>,
    /// Whether any batch served is transactional (data or marker). Without one, a read_committed consumer
    /// has nothing to filter, so Fetch need not look up the aborted transactions of the range.
    pub transactional: bool,
}

/// Reads committed batches of any partition.
#[derive(Clone)]
pub struct LogReader {
    meta: Arc<dyn Log>,
    storage: ObjectStorage,
    tail: Arc<IndexTail>,
    /// Read-ahead passes allowed at once ([`crate::read_ahead`]).
    pub(crate) ahead: Arc<tokio::sync::Semaphore>,
}

impl LogReader {
    /// A reader that looks rows up in `tail` first (the one the committer fills), then in the metastore.
    pub fn new(meta: Arc<dyn Log>, storage: ObjectStorage, tail: Arc<IndexTail>) -> Self {
        let ahead = Arc::new(tokio::sync::Semaphore::new(crate::read_ahead::MAX_PASSES));
        LogReader { meta, storage, tail, ahead }
    }

    /// Index rows from `from_offset` on, from the tail when it holds them, else from the metastore.
    pub(crate) async fn index(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        max_bytes: u64,
    ) -> Result<Vec<BatchRef>, MetaError> {
        match self.tail.read(topic_id, partition, from_offset, max_bytes, MAX_BATCHES_PER_READ) {
            Some(rows) => Ok(rows),
            None => self.meta.read_index(topic_id, partition, from_offset, max_bytes, MAX_BATCHES_PER_READ).await,
        }
    }

    pub(crate) fn storage(&self) -> &ObjectStorage {
        &self.storage
    }

    /// Batches covering `from_offset..end_offset`, up to `max_bytes`, as one buffer (share fetch slices it).
    pub async fn read_records(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        end_offset: i64,
        max_bytes: u64,
        at_least_one: bool,
    ) -> Result<Bytes, ReadError> {
        let read = self.read_chunks(topic_id, partition, from_offset, end_offset, max_bytes, at_least_one).await?;
        Ok(read.bytes.to_bytes())
    }

    /// Batches covering `from_offset..end_offset`, up to `max_bytes`, as chunks: per batch, its patched
    /// first 16 bytes and the stored bytes after them, uncopied. With `at_least_one`, the first batch is
    /// returned even when it alone exceeds `max_bytes`, so a record larger than the limit is still served (as
    /// Kafka does for the first partition of a fetch); otherwise such a batch is left for a later fetch.
    pub async fn read_chunks(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        end_offset: i64,
        max_bytes: u64,
        at_least_one: bool,
    ) -> Result<ReadRecords, ReadError> {
        if let Some(rows) = self.tail.read(topic_id, partition, from_offset, max_bytes, MAX_BATCHES_PER_READ) {
            metrics::counter!("weft_fetch_index_reads_total", "source" => "tail").increment(1);
            match self.serve(&rows, end_offset, max_bytes, at_least_one).await {
                // An object gone from under a row (its rewrite's grace ended early): the metastore knows where.
                Err(ReadError::Storage(e)) => {
                    tracing::debug!(topic = %topic_id, partition, offset = from_offset, error = %e, "index tail row unreadable; reading the metastore's");
                }
                done => return done,
            }
        }
        metrics::counter!("weft_fetch_index_reads_total", "source" => "metastore").increment(1);
        let rows = self.meta.read_index(topic_id, partition, from_offset, max_bytes, MAX_BATCHES_PER_READ).await?;
        self.serve(&rows, end_offset, max_bytes, at_least_one).await
    }

    /// Reads the batches of `rows` below `end_offset` as chunks (see [`LogReader::read_chunks`]).
    async fn serve(
        &self,
        rows: &[BatchRef],
        end_offset: i64,
        max_bytes: u64,
        at_least_one: bool,
    ) -> Result<ReadRecords, ReadError> {
        let refs: Vec<&BatchRef> = rows.iter().filter(|b| b.base_offset < end_offset).collect();
        let mut out = ReadRecords { bytes: Chunks::with_capacity(2 * refs.len()), ..ReadRecords::default() };
        if let Some(first) = refs.first()
            && !at_least_one
            && u64::from(first.byte_len) > max_bytes
        {
            return Ok(out);
        }
        // Every batch's patched prefix in one allocation, split into shared pieces.
        let mut prefixes = BytesMut::with_capacity(PATCHED_PREFIX_LEN * refs.len());
        for b in refs {
            let stored = read_stored(&self.storage, b).await?;
            let header = BatchHeader::parse(&stored)
                .map_err(|e| ReadError::BadStoredBatch { offset: b.base_offset, reason: e.to_string() })?;
            if header.size != stored.len() {
                let reason = format!("batch length {} but the index holds {} bytes", header.size, stored.len());
                return Err(ReadError::BadStoredBatch { offset: b.base_offset, reason });
            }
            if !header.is_control() {
                out.records += header.record_count.max(0) as u64;
            }
            out.transactional |= header.is_transactional();
            out.next_offset = Some(b.last_offset + 1);
            // The header parsed, so the batch is longer than the prefix.
            prefixes.extend_from_slice(&stored[..PATCHED_PREFIX_LEN]);
            patch_prefix(&mut prefixes, b.base_offset, LEADER_EPOCH);
            out.bytes.push(prefixes.split().freeze());
            // A slice pins its whole object until the response is written: only a cached object (held anyway,
            // and counted in the cache's budget) is served in place; others are copied, so a response never
            // holds more than its own bytes of objects the cache dropped or never took.
            if self.storage.cache().contains(&b.object_key) {
                out.bytes.push(stored.slice(PATCHED_PREFIX_LEN..));
            } else {
                out.bytes.push(Bytes::copy_from_slice(&stored[PATCHED_PREFIX_LEN..]));
            }
        }
        Ok(out)
    }

    /// The offset and timestamp of the first record in `b` whose timestamp is at least `timestamp`.
    pub async fn find_in_batch(&self, b: &BatchRef, timestamp: i64) -> Result<Option<(i64, i64)>, ReadError> {
        let buf = read_batch(&self.storage, b).await?;
        // Bounded by the batch's bytes: no count in the stored bytes sizes an allocation.
        let set = weft_protocol::records::decode_records(&buf)
            .map_err(|e| ReadError::BadStoredBatch { offset: b.base_offset, reason: e.to_string() })?;
        // LogAppendTime batches carry their time in the header; the records' own times are the producer's.
        let time = |r: &kafka_protocol::records::Record| match r.timestamp_type {
            kafka_protocol::records::TimestampType::LogAppend => b.max_timestamp,
            kafka_protocol::records::TimestampType::Creation => r.timestamp,
        };
        Ok(set.records.iter().find(|r| time(r) >= timestamp).map(|r| (r.offset, time(r))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, byte_start: u64, byte_len: u32) -> BatchRef {
        BatchRef {
            base_offset: byte_start as i64,
            last_offset: byte_start as i64,
            max_timestamp: 0,
            object_key: key.into(),
            byte_start,
            byte_len,
        }
    }

    #[test]
    fn runs_join_adjacent_batches_of_one_object() {
        let rows = [row("a", 0, 10), row("a", 10, 5), row("b", 15, 5), row("b", 30, 5), row("b", 35, 1)];
        assert_eq!(read_runs(&rows), vec![0..2, 2..3, 3..5]);
        assert!(read_runs(&[]).is_empty());
    }

    #[test]
    fn runs_stop_at_the_byte_bound_but_hold_one_large_batch() {
        let big = MAX_RUN_BYTES as u32;
        let rows = [row("a", 0, big + 1), row("a", u64::from(big) + 1, 1), row("a", u64::from(big) + 2, big - 1)];
        assert_eq!(read_runs(&rows), vec![0..1, 1..3]);
        let small = [row("a", 0, big / 2), row("a", u64::from(big / 2), big / 2), row("a", u64::from(big), 1)];
        assert_eq!(read_runs(&small), vec![0..2, 2..3]);
    }
}

#[cfg(test)]
mod tail_tests {
    use super::*;
    use crate::tail::TailBatch;
    use crate::testutil::{one_record_batch, store_with_topic};
    use weft_clock::ManualClock;

    /// A tail row whose object is gone (a rewrite's grace ended early) is read where the metastore says.
    #[tokio::test]
    async fn a_tail_row_whose_object_is_gone_is_read_from_the_metastores_row() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, storage, topic_id) = store_with_topic(dir.path(), 0).await;
        let data = one_record_batch();
        crate::testutil::commit_object(&meta, &storage, topic_id, "moved", &data).await;

        let tail = Arc::new(IndexTail::new(Arc::new(ManualClock::default()), std::time::Duration::from_secs(2)));
        let row = TailBatch {
            topic_id,
            partition: 0,
            base_offset: 0,
            last_offset: 0,
            max_timestamp: 0,
            byte_start: 0,
            byte_len: data.len() as u32,
        };
        tail.record("gone", [row]);
        assert_eq!(tail.read(topic_id, 0, 0, u64::MAX, 10).unwrap()[0].object_key, "gone");

        let reader = LogReader::new(meta, storage, tail);
        let read = reader.read_chunks(topic_id, 0, 0, 1, u64::MAX, true).await.expect("read through the metastore");
        assert_eq!((read.records, read.next_offset, read.bytes.to_bytes()), (1, Some(1), data));
        assert!(!read.transactional);
    }

    /// A read says whether it holds a transactional batch (Fetch looks up aborted transactions only then).
    #[tokio::test]
    async fn a_read_tells_whether_it_holds_a_transactional_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, storage, topic_id) = store_with_topic(dir.path(), 0).await;
        let (plain, txn) = (crate::testutil::record_batch(false), crate::testutil::record_batch(true));
        crate::testutil::commit_object(&meta, &storage, topic_id, "plain", &plain).await;
        crate::testutil::commit_object(&meta, &storage, topic_id, "txn", &txn).await;
        let tail = Arc::new(IndexTail::new(Arc::new(ManualClock::default()), std::time::Duration::from_secs(2)));
        let reader = LogReader::new(meta, storage, tail);
        let first = reader.read_chunks(topic_id, 0, 0, 1, u64::MAX, true).await.unwrap();
        assert_eq!((first.next_offset, first.transactional), (Some(1), false));
        let both = reader.read_chunks(topic_id, 0, 0, 2, u64::MAX, true).await.unwrap();
        assert_eq!((both.next_offset, both.transactional), (Some(2), true));
    }
}
