//! The object store every other crate uses: [`ObjectStorage`], a thin face over the layer stack
//! ([`crate::stack`]) that speaks in Weft's keys and errors.

use crate::base::{self, Base};
use crate::cache::SegmentCache;
use crate::error::StorageError;
#[cfg(any(test, feature = "faults"))]
use crate::faults::Faults;
use crate::keys;
use crate::peers::ObjectPeers;
use crate::read::ReadCache;
use crate::stack::{self, StoreOptions};
use crate::usage::{Usage, UsageSnapshot};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use std::ops::Range;
use std::sync::Arc;

/// The object store with Weft's guarantees on top: a successful [`ObjectStorage::put_durable`] means the
/// object survives a crash, and reads of recently written objects come from memory.
#[derive(Clone)]
pub struct ObjectStorage {
    base: Base,
    /// Kept to build the same stack again with a fault layer.
    #[cfg_attr(not(any(test, feature = "faults")), allow(dead_code))]
    options: StoreOptions,
    reads: Arc<ReadCache>,
    /// Requests and bytes since the store was opened (shared with a faults copy).
    usage: Arc<Usage>,
    url: String,
}

/// One object listed by [`ObjectStorage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

/// A listing read chunk by chunk (see [`ObjectStorage::list_chunks`]).
pub struct ListChunks {
    listing: BoxStream<'static, Vec<Result<Listed, StorageError>>>,
}

impl ListChunks {
    /// The next chunk of objects, or `None` once the listing is done. A failure ends the listing.
    pub async fn next(&mut self) -> Result<Option<Vec<Listed>>, StorageError> {
        match self.listing.next().await {
            None => Ok(None),
            Some(chunk) => chunk.into_iter().collect::<Result<Vec<_>, _>>().map(Some),
        }
    }
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage").field("url", &self.url).finish()
    }
}

impl ObjectStorage {
    /// Opens the store named by `url`: `file:///abs/dir` (created if missing), `s3://bucket/prefix` or
    /// `memory://`, with the
    /// default [`StoreOptions`].
    pub fn open(url: &str, cache_bytes: usize) -> Result<Self, StorageError> {
        Self::open_with(url, cache_bytes, StoreOptions::default())
    }

    /// [`ObjectStorage::open`] with chosen options.
    pub fn open_with(url: &str, cache_bytes: usize, options: StoreOptions) -> Result<Self, StorageError> {
        let base = base::open(url)?;
        let usage = Arc::new(Usage::default());
        let reads = stack::build(&base, options.clone(), Arc::new(SegmentCache::new(cache_bytes)), usage.clone());
        // Shown in logs and errors: without the query, which may carry credentials.
        Ok(ObjectStorage { base, options, reads: Arc::new(reads), usage, url: crate::s3::without_query(url) })
    }

    /// The same store (same objects, same cache) with every operation counted by `faults` (for tests: only
    /// compiled with the `faults` feature).
    #[cfg(any(test, feature = "faults"))]
    pub fn with_faults(self, faults: Arc<Faults>) -> Self {
        let segments = self.reads.segments_shared();
        let reads = stack::build_with_faults(&self.base, self.options.clone(), faults, segments, self.usage.clone())
            .with_peers(self.reads.peers());
        ObjectStorage { reads: Arc::new(reads), ..self }
    }

    /// The same store (same objects, same cache) reading misses from the agent of this zone that owns the
    /// object, when it is another agent, before the store (see [`ObjectPeers`]). Clones made before keep
    /// reading the store alone.
    pub fn with_peers(self, peers: Arc<dyn ObjectPeers>) -> Self {
        let reads = ReadCache::new(self.reads.store(), self.reads.segments_shared()).with_peers(Some(peers));
        ObjectStorage { reads: Arc::new(reads), ..self }
    }

    /// Every object under `prefix` (a folder of [`keys`]), with its size.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        self.list_stream(prefix).try_collect().await
    }

    /// [`ObjectStorage::list`] as a stream, for listings too large to hold.
    pub fn list_stream(&self, prefix: &str) -> BoxStream<'static, Result<Listed, StorageError>> {
        self.reads.list(prefix, None)
    }

    /// [`ObjectStorage::list`] in chunks of at most `chunk` objects, read from the store as they are asked
    /// for: a caller going through a whole bucket holds one chunk at a time.
    pub fn list_chunks(&self, prefix: &str, chunk: usize) -> ListChunks {
        ListChunks { listing: self.list_stream(prefix).ready_chunks(chunk.max(1)).boxed() }
    }

    /// [`ObjectStorage::list_chunks`] of only the keys under `prefix` that sort after `after` (one request
    /// per page of what follows it, not of the whole prefix).
    pub fn list_chunks_after(&self, prefix: &str, after: &str, chunk: usize) -> ListChunks {
        ListChunks { listing: self.reads.list(prefix, Some(after)).ready_chunks(chunk.max(1)).boxed() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests and bytes by kind since the store was opened (the basis of the cost estimate).
    pub fn usage(&self) -> UsageSnapshot {
        self.usage.snapshot()
    }

    pub fn cache(&self) -> &SegmentCache {
        self.reads.segments()
    }

    /// Writes an object and returns only once it is durable: for `file://` the file and its directory are
    /// fsync'd. The bytes are also placed in the read cache.
    pub async fn put_durable(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.reads.put(key, data, true).await
    }

    /// [`ObjectStorage::put_durable`] without placing the bytes in the read cache: for what background jobs
    /// write (merged and compacted objects of older data), so they never evict what consumers are reading.
    pub async fn put_durable_uncached(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.reads.put(key, data, false).await
    }

    /// Reads a whole object, through the cache.
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.reads.get(key).await
    }

    /// Reads `range` of an object. A cached object is sliced; otherwise, when `whole_object_hint` is set,
    /// the whole object is fetched and cached (segments hold many partitions that are read together);
    /// else only the range is fetched.
    pub async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
        whole_object_hint: bool,
    ) -> Result<Bytes, StorageError> {
        self.reads.get_range(key, range, whole_object_hint).await
    }

    /// Reads an object for another agent of this zone: the whole object (`range` `None`, then cached) or a
    /// range, from the cache or the store (single-flight with this agent's own reads), never from a peer.
    pub async fn read_for_peer(&self, key: &str, range: Option<Range<u64>>) -> Result<Bytes, StorageError> {
        self.reads.get_local(key, range).await
    }

    /// Deletes an object (missing objects are not an error) and drops it from the cache.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.reads.delete(&[key.to_string()]).await
    }

    /// Deletes many objects in bulk (missing objects are not an error) and drops them from the cache. On a
    /// failure, some of the objects may be deleted; deleting them again is harmless.
    pub async fn delete_many(&self, keys: &[String]) -> Result<(), StorageError> {
        self.reads.delete(keys).await
    }

    /// Checks that a small object can be written durably and deleted again (readiness: a read-only or full
    /// store fails here). The probe bypasses the read cache.
    pub async fn write_probe(&self, owner: &str) -> Result<(), StorageError> {
        let key = keys::probe_key(owner);
        self.reads.put(&key, Bytes::from_static(b"probe"), false).await?;
        self.reads.delete(&[key]).await
    }

    /// Checks the store answers (used by readiness probes). It asks the base store itself, past every
    /// layer: readiness wants the store's own answer now, not a retried, counted or injected one.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let prefix = keys::to_path(keys::SEGMENTS_DIR);
        let mut list = self.base.store.list(Some(&prefix));
        match list.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(source)) => Err(StorageError::Store { op: "list", key: keys::SEGMENTS_DIR.into(), source }),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultMode;

    #[tokio::test]
    async fn file_store_round_trip_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let s = ObjectStorage::open(&url, 1 << 20).unwrap();
        let key = keys::segment_key(1, 2);
        s.put_durable(&key, Bytes::from_static(b"hello world")).await.unwrap();
        let reopened = ObjectStorage::open(&url, 0).unwrap();
        assert_eq!(&reopened.get_range(&key, 6..11, false).await.unwrap()[..], b"world");
        assert_eq!(&reopened.get(&key).await.unwrap()[..], b"hello world");
        let listed = reopened.list(keys::SEGMENTS_DIR).await.unwrap();
        assert_eq!(listed, vec![crate::Listed { key: key.clone(), size: 11 }]);
        reopened.delete(&key).await.unwrap();
        assert!(matches!(reopened.get(&key).await, Err(StorageError::NotFound { .. })));
    }

    #[tokio::test]
    async fn cached_reads_are_bounds_checked() {
        let s = ObjectStorage::open("memory://", 1 << 20).unwrap();
        s.put_durable("k", Bytes::from_static(b"abc")).await.unwrap();
        assert!(matches!(s.get_range("k", 2..9, true).await, Err(StorageError::BadRange { .. })));
        s.ping().await.unwrap();
    }

    #[tokio::test]
    async fn write_probe_leaves_nothing_behind_and_fails_when_the_store_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("objects");
        let s = ObjectStorage::open(&format!("file://{}", root.display()), 1 << 20).unwrap();
        s.write_probe("agent-1").await.unwrap();
        assert!(s.list(keys::PROBES_DIR).await.unwrap().is_empty());
        assert_eq!(s.cache().size_bytes(), 0);
        // A file where the probe folder must be: every write under it fails, even as root.
        std::fs::remove_dir_all(root.join(keys::PROBES_DIR)).ok();
        std::fs::write(root.join(keys::PROBES_DIR), b"not a directory").unwrap();
        assert!(s.write_probe("agent-1").await.is_err());
    }

    #[tokio::test]
    async fn faults_fail_the_chosen_operation_before_or_after_it_happens() {
        let faults = Arc::new(Faults::new());
        let s = ObjectStorage::open("memory://", 0).unwrap().with_faults(faults.clone());
        faults.fail_nth(1, FaultMode::Before);
        assert!(matches!(s.put_durable("a", Bytes::from_static(b"x")).await, Err(StorageError::Injected { .. })));
        assert!(matches!(s.get("a").await, Err(StorageError::NotFound { .. })), "the put never happened");
        faults.fail_nth(1, FaultMode::After);
        assert!(s.put_durable("b", Bytes::from_static(b"y")).await.is_err());
        assert_eq!(&s.get("b").await.unwrap()[..], b"y", "the put happened");
        assert_eq!(faults.count(), 2);
        faults.clear();
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(matches!(ObjectStorage::open("s4://x", 0), Err(StorageError::BadUrl { .. })));
        assert!(matches!(ObjectStorage::open("file://relative", 0), Err(StorageError::BadUrl { .. })));
    }
}
