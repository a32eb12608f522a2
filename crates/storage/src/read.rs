//! The read cache: the top of the stack, in front of every read and write of [`crate::ObjectStorage`].
//!
//! Whole objects are kept in the bounded [`SegmentCache`]: a freshly written segment is inserted on put, so
//! consumers tailing a topic read it from memory; a whole-object read that misses fetches and inserts it.
//! Concurrent misses on the same object (or the same range) are single-flight: the first caller reads the
//! store, the others wait for its answer, so a burst of consumers catching up on one segment costs one
//! read. A failed read is not cached: its callers all see the failure and the next caller tries again.
//! The table of reads in flight is bounded; past the bound a miss simply reads the store on its own.
//!
//! With [`ObjectPeers`] given (agents of one zone sharing reads), a miss on an object another agent of the
//! zone owns is first asked of that agent, which answers from its cache or reads the store once for the
//! whole zone; any failure of the peer falls back to the store here, so a peer never fails a read. Reads
//! for peers ([`ReadCache::get_local`]) never go to a peer again, so agents whose views of the owner differ
//! cannot send a read around in a loop; a flight is keyed by its route, so a read for a peer never waits on
//! a read that went to a peer, while local misses this agent owns and reads for peers share one store read.
//!
//! Why not an `ObjectStore` layer like the others: a cache hit has no `ObjectMeta` (size, time, etag) to
//! answer a `get_opts` with unless it is made up, and Weft's reads need what that trait cannot say (a
//! hint that the whole object is worth fetching when a range is asked for, and a bounds-checked slice of a
//! cached object). So the cache speaks Weft's small read/write vocabulary over the stack below it.

use crate::cache::SegmentCache;
use crate::error::{StorageError, from_store, share};
use crate::keys;
use crate::peers::{self, ObjectPeers, Peer};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::stream::{self, StreamExt};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Most distinct reads in flight that later callers can join.
const MAX_IN_FLIGHT: usize = 1024;

/// What a read in flight is: one object, whole (`None`) or one range of it, and the peer asked first (`None`:
/// the store only).
type FlightKey = (String, Option<Range<u64>>, Option<Peer>);
/// What the callers waiting on a read get: its bytes, or a copy of its error.
type Outcome = Option<Result<Bytes, Arc<StorageError>>>;
/// The reads in flight: each with its flight number (so a finished flight never removes a newer one) and the
/// channel its answer goes out on.
type FlightTable = Mutex<HashMap<FlightKey, (u64, watch::Sender<Outcome>)>>;

/// The cache in front of `store`.
#[derive(Debug)]
pub(crate) struct ReadCache {
    store: Arc<dyn ObjectStore>,
    segments: Arc<SegmentCache>,
    /// The agents of this zone a miss may be read from; `None`: the store only.
    peers: Option<Arc<dyn ObjectPeers>>,
    in_flight: FlightTable,
    flight_ids: AtomicU64,
}

/// How a caller takes part in a read.
enum Role {
    /// Reads the store and tells the others; its flight is `id`.
    Leader(u64),
    /// Waits for the leader's answer.
    Follower(watch::Receiver<Outcome>),
    /// The table is full: reads on its own.
    Alone,
}

impl ReadCache {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, segments: Arc<SegmentCache>) -> Self {
        ReadCache { store, segments, peers: None, in_flight: Mutex::new(HashMap::new()), flight_ids: AtomicU64::new(0) }
    }

    /// The same store and cache, with misses asked of `peers` first.
    pub(crate) fn with_peers(self, peers: Option<Arc<dyn ObjectPeers>>) -> Self {
        ReadCache { peers, ..self }
    }

    /// The peers given to this cache.
    #[cfg(any(test, feature = "faults"))]
    pub(crate) fn peers(&self) -> Option<Arc<dyn ObjectPeers>> {
        self.peers.clone()
    }

    pub(crate) fn segments(&self) -> &SegmentCache {
        &self.segments
    }

    /// The cache itself, to put the same cache on top of a rebuilt stack.
    pub(crate) fn segments_shared(&self) -> Arc<SegmentCache> {
        self.segments.clone()
    }

    /// The stack below the cache.
    pub(crate) fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// Reads a whole object, through the cache.
    pub(crate) async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        if let Some(hit) = self.lookup(key) {
            return Ok(hit);
        }
        self.fetch(key, None, self.owner(key)).await
    }

    /// Reads a whole object (`range` `None`, cached) or a range of it for another agent: through the cache
    /// and single-flight, from the store on a miss, never from a peer.
    pub(crate) async fn get_local(&self, key: &str, range: Option<Range<u64>>) -> Result<Bytes, StorageError> {
        match range {
            None => match self.lookup(key) {
                Some(hit) => Ok(hit),
                None => self.fetch(key, None, None).await,
            },
            Some(range) => self.read_range(key, range, false, None).await,
        }
    }

    /// Reads `range` of an object. A cached object is sliced; otherwise, when `whole_object_hint` is set,
    /// the whole object is fetched and cached (segments hold many partitions that are read together);
    /// else only the range is fetched.
    pub(crate) async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
        whole_object_hint: bool,
    ) -> Result<Bytes, StorageError> {
        self.read_range(key, range, whole_object_hint, self.owner(key)).await
    }

    /// [`ReadCache::get_range`] with a miss asked of `owner` first.
    async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
        whole_object_hint: bool,
        owner: Option<Peer>,
    ) -> Result<Bytes, StorageError> {
        let data = match self.lookup(key) {
            Some(hit) => hit,
            None if whole_object_hint => {
                let via_peer = owner.is_some();
                let data = self.fetch(key, None, owner).await?;
                if via_peer && range.end > data.len() as u64 {
                    // A peer's copy too short for this range: drop it and ask the store, whose answer stands.
                    self.segments.remove(key);
                    self.fetch(key, None, None).await?
                } else {
                    data
                }
            }
            None => return self.fetch(key, Some(range), owner).await,
        };
        let (start, end) = (range.start as usize, range.end as usize);
        if start > end || end > data.len() {
            return Err(StorageError::BadRange {
                key: key.into(),
                start: range.start,
                end: range.end,
                len: data.len(),
            });
        }
        Ok(data.slice(start..end))
    }

    /// Writes an object through the stack; once acknowledged, it is placed in the cache when `cache` is set.
    pub(crate) async fn put(&self, key: &str, data: Bytes, cache: bool) -> Result<(), StorageError> {
        let mut opts = object_store::PutOptions::default();
        if !cache {
            opts.extensions.insert(crate::durable::Background);
        }
        self.store
            .put_opts(&keys::to_path(key), PutPayload::from_bytes(data.clone()), opts)
            .await
            .map_err(|e| from_store("put", key, e))?;
        if cache {
            self.segments.insert(key, data);
        }
        Ok(())
    }

    /// Deletes objects in bulk, dropping them from the cache first; a missing object is not an error. Stops
    /// at the first failure (the objects before it are deleted; deleting again is harmless).
    pub(crate) async fn delete(&self, objects: &[String]) -> Result<(), StorageError> {
        for key in objects {
            self.segments.remove(key);
        }
        let paths: Vec<_> = objects.iter().map(|k| Ok(keys::to_path(k))).collect();
        let mut results = self.store.delete_stream(stream::iter(paths).boxed());
        let mut at = 0;
        while let Some(result) = results.next().await {
            let key = objects.get(at).map_or("", String::as_str);
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(from_store("delete", key, e)),
            }
            at += 1;
        }
        Ok(())
    }

    /// Every object under `prefix`, streamed as the store lists it (never collected here).
    /// With `after`, only the keys that sort after it (S3's `start-after`: the store skips the rest itself).
    pub(crate) fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> stream::BoxStream<'static, Result<crate::Listed, StorageError>> {
        let key = prefix.to_string();
        let path = keys::to_path(prefix);
        let listing = match after {
            Some(after) => self.store.list_with_offset(Some(&path), &keys::to_path(after)),
            None => self.store.list(Some(&path)),
        };
        listing
            .map_ok(|m| crate::Listed { key: m.location.to_string(), size: m.size })
            .map_err(move |e| from_store("list", &key, e))
            .boxed()
    }

    /// A cache lookup, counted as a hit or a miss.
    fn lookup(&self, key: &str) -> Option<Bytes> {
        let hit = self.segments.get(key);
        let result = if hit.is_some() { "hit" } else { "miss" };
        metrics::counter!("weft_cache_requests_total", "result" => result).increment(1);
        hit
    }

    /// The agent of this zone that owns `key`, when it is another one.
    fn owner(&self, key: &str) -> Option<Peer> {
        self.peers.as_ref().and_then(|p| p.owner(key))
    }

    /// Reads the object (or `range` of it) from `owner` or else the store, joining a read of the same by the
    /// same route already in flight.
    async fn fetch(&self, key: &str, range: Option<Range<u64>>, owner: Option<Peer>) -> Result<Bytes, StorageError> {
        let flight = (key.to_string(), range, owner);
        loop {
            match self.join(&flight) {
                Role::Alone => return self.read(&flight).await,
                Role::Leader(id) => {
                    let mut guard = Flight { table: &self.in_flight, key: &flight, id, outcome: None };
                    let result = self.read(&flight).await;
                    guard.outcome = Some(result.as_ref().map(Bytes::clone).map_err(|e| Arc::new(share(e))));
                    return result;
                }
                Role::Follower(mut answer) => {
                    if let Ok(outcome) = answer.wait_for(Option::is_some).await
                        && let Some(outcome) = outcome.as_ref()
                    {
                        return outcome.clone().map_err(|e| share(&e));
                    }
                    // The leader was dropped before it answered (its caller gave up): read again.
                }
            }
        }
    }

    /// Joins the read of `flight` in flight, or starts it.
    fn join(&self, flight: &FlightKey) -> Role {
        let mut table = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, sender)) = table.get(flight) {
            return Role::Follower(sender.subscribe());
        }
        if table.len() >= MAX_IN_FLIGHT {
            return Role::Alone;
        }
        let id = self.flight_ids.fetch_add(1, Ordering::Relaxed);
        table.insert(flight.clone(), (id, watch::channel(None).0));
        Role::Leader(id)
    }

    /// One read, from the owner when there is one and it answers, else from the store; a whole object read
    /// is placed in the cache.
    async fn read(&self, (key, range, owner): &FlightKey) -> Result<Bytes, StorageError> {
        let from_peer = match (owner, &self.peers) {
            (Some(peer), Some(peers)) => peers::read_from(peers.as_ref(), peer, key, range.as_ref()).await,
            _ => None,
        };
        let data = match from_peer {
            Some(data) => data,
            None => self.read_store(key, range.as_ref()).await?,
        };
        if range.is_none() {
            self.segments.insert(key, data.clone());
        }
        Ok(data)
    }

    /// One read of the store.
    async fn read_store(&self, key: &str, range: Option<&Range<u64>>) -> Result<Bytes, StorageError> {
        let path = keys::to_path(key);
        match range {
            Some(range) => {
                self.store.get_range(&path, range.clone()).await.map_err(|e| from_store("get_range", key, e))
            }
            None => async { self.store.get(&path).await?.bytes().await }.await.map_err(|e| from_store("get", key, e)),
        }
    }
}

/// A leader's read in flight. When it ends (answered, failed, or dropped with its caller) it leaves the
/// table and tells the followers; a dropped leader tells them nothing, so they read again.
struct Flight<'a> {
    table: &'a FlightTable,
    key: &'a FlightKey,
    id: u64,
    outcome: Outcome,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.get(self.key).is_some_and(|(id, _)| *id == self.id)
            && let Some((_, sender)) = table.remove(self.key)
            && let Some(outcome) = self.outcome.take()
        {
            sender.send_replace(Some(outcome));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scripted;

    fn reads(cache_bytes: usize) -> (Arc<ReadCache>, Arc<Scripted>) {
        let inner = Arc::new(Scripted::default());
        (Arc::new(ReadCache::new(inner.clone(), Arc::new(SegmentCache::new(cache_bytes)))), inner)
    }

    async fn concurrently<F, Fut>(n: usize, read: F) -> Vec<Result<Bytes, StorageError>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Bytes, StorageError>>,
    {
        futures::future::join_all((0..n).map(|_| read())).await
    }

    #[tokio::test]
    async fn concurrent_misses_on_one_object_read_the_store_once() {
        // No cache at all: only single-flight can spare the store.
        let (reads, inner) = reads(0);
        inner.put(&keys::to_path("k"), PutPayload::from_static(b"hello")).await.unwrap();
        inner.get_delay_ms.store(50, Ordering::SeqCst);
        for result in concurrently(8, || reads.get_range("k", 1..3, true)).await {
            assert_eq!(&result.unwrap()[..], b"el");
        }
        assert_eq!(inner.gets.load(Ordering::SeqCst), 1);
        for result in concurrently(8, || reads.get_range("k", 0..2, false)).await {
            assert_eq!(&result.unwrap()[..], b"he");
        }
        assert_eq!(inner.gets.load(Ordering::SeqCst), 2, "one more read for the range");
        assert!(reads.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_read_is_shared_not_cached_and_the_next_caller_reads_again() {
        let (reads, inner) = reads(1 << 20);
        inner.put(&keys::to_path("k"), PutPayload::from_static(b"hello")).await.unwrap();
        inner.get_delay_ms.store(50, Ordering::SeqCst);
        inner.fail_next.store(1, Ordering::SeqCst);
        for result in concurrently(4, || reads.get("k")).await {
            assert!(matches!(result, Err(StorageError::Store { op: "get", .. })), "{result:?}");
        }
        assert_eq!(inner.gets.load(Ordering::SeqCst), 1);
        assert_eq!(&reads.get("k").await.unwrap()[..], b"hello");
        assert_eq!(&reads.get("k").await.unwrap()[..], b"hello", "now from the cache");
        assert_eq!(inner.gets.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn followers_of_a_dropped_leader_read_for_themselves() {
        let (reads, inner) = reads(0);
        inner.put(&keys::to_path("k"), PutPayload::from_static(b"hello")).await.unwrap();
        inner.get_delay_ms.store(50, Ordering::SeqCst);
        let mut leader = Box::pin(reads.get("k"));
        assert!(futures::poll!(leader.as_mut()).is_pending(), "the leader waits on the store");
        let follower = tokio::spawn({
            let reads = reads.clone();
            async move { reads.get("k").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        drop(leader);
        assert_eq!(&follower.await.unwrap().unwrap()[..], b"hello");
        assert_eq!(inner.gets.load(Ordering::SeqCst), 2, "the abandoned read, then the follower's own");
        assert!(reads.in_flight.lock().unwrap().is_empty());
    }
}

#[cfg(test)]
mod metric_tests {
    use super::*;
    use crate::testing::{Recorded, Scripted};

    #[test]
    fn cache_lookups_are_counted_as_hits_and_misses() {
        let recorded = Recorded::default();
        recorded.run(async {
            let reads = ReadCache::new(Arc::new(Scripted::default()), Arc::new(SegmentCache::new(1 << 20)));
            reads.put("k", Bytes::from_static(b"abc"), false).await.unwrap();
            reads.get("k").await.unwrap();
            reads.get_range("k", 0..1, false).await.unwrap();
        });
        assert_eq!(recorded.get("weft_cache_requests_total{result=miss}"), 1);
        assert_eq!(recorded.get("weft_cache_requests_total{result=hit}"), 1);
    }
}
