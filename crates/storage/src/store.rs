//! The object store wrapper every other crate uses.

use crate::cache::SegmentCache;
use crate::faults::{FaultMode, Faults};
use crate::keys;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported object store url {url:?} (expected file:///abs/path or memory://)")]
    BadUrl { url: String },
    #[error("object {key} not found")]
    NotFound { key: String },
    #[error("object store {op} of {key} failed: {source}")]
    Store {
        op: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("local fsync of {path} failed: {source}")]
    Sync {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("injected fault in object store {op} of {key}")]
    Injected { op: &'static str, key: String },
    #[error("range {start}..{end} is outside object {key} of {len} bytes")]
    BadRange { key: String, start: u64, end: u64, len: usize },
}

/// The object store with Weft's guarantees on top: a successful [`ObjectStorage::put_durable`] means the
/// object survives a crash, and reads of recently written objects come from memory.
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// Set for `file://` stores: the root directory, so writes can be fsync'd.
    local_root: Option<PathBuf>,
    cache: Arc<SegmentCache>,
    url: String,
    faults: Option<Arc<Faults>>,
}

/// One object listed by [`ObjectStorage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage").field("url", &self.url).finish()
    }
}

impl ObjectStorage {
    /// Opens the store named by `url`: `file:///abs/dir` (created if missing) or `memory://`.
    pub fn open(url: &str, cache_bytes: usize) -> Result<Self, StorageError> {
        let bad = || StorageError::BadUrl { url: url.to_string() };
        let cache = Arc::new(SegmentCache::new(cache_bytes));
        if url == "memory://" || url == "memory:///" {
            return Ok(ObjectStorage {
                store: Arc::new(InMemory::new()),
                local_root: None,
                cache,
                url: url.into(),
                faults: None,
            });
        }
        let path = url.strip_prefix("file://").ok_or_else(bad)?;
        if !path.starts_with('/') {
            return Err(bad());
        }
        let root = PathBuf::from(path);
        for data_dir in keys::DATA_DIRS {
            let folder = root.join(data_dir);
            std::fs::create_dir_all(&folder)
                .map_err(|source| StorageError::Sync { path: folder.display().to_string(), source })?;
            // Make the directory chain itself durable once, so later fsyncs of the data folder suffice.
            let mut dir = folder;
            loop {
                sync_dir(&dir)?;
                if dir == root || !dir.pop() {
                    break;
                }
            }
        }
        let fs = LocalFileSystem::new_with_prefix(&root).map_err(|source| StorageError::Store {
            op: "open",
            key: root.display().to_string(),
            source,
        })?;
        Ok(ObjectStorage { store: Arc::new(fs), local_root: Some(root), cache, url: url.into(), faults: None })
    }

    /// The same store with every operation counted by `faults` (tests only need this).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Runs `op` through the fault plan: it may be refused before it runs, or reported failed after.
    async fn guarded<T>(
        &self,
        op: &'static str,
        key: &str,
        work: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let injected = || StorageError::Injected { op, key: key.to_string() };
        match self.faults.as_ref().and_then(|f| f.next()) {
            None => work.await,
            Some(FaultMode::Before) => Err(injected()),
            Some(FaultMode::After) => {
                work.await?;
                Err(injected())
            }
        }
    }

    /// Every object under `prefix` (a folder of [`keys`]), with its size.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        use futures::TryStreamExt;
        self.guarded("list", prefix, async {
            observed("list", 0, async {
                let listed: Vec<object_store::ObjectMeta> = self
                    .store
                    .list(Some(&keys::to_path(prefix)))
                    .try_collect()
                    .await
                    .map_err(|source| StorageError::Store { op: "list", key: prefix.into(), source })?;
                Ok(listed.into_iter().map(|m| Listed { key: m.location.to_string(), size: m.size }).collect())
            })
            .await
        })
        .await
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn cache(&self) -> &SegmentCache {
        &self.cache
    }

    /// Writes an object and returns only once it is durable: for `file://` the file and its directory are
    /// fsync'd. The bytes are also placed in the read cache.
    pub async fn put_durable(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        let len = data.len();
        self.guarded("put", key, observed("put", len, self.put_durable_inner(key, data))).await
    }

    async fn put_durable_inner(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        let path = keys::to_path(key);
        self.store.put(&path, PutPayload::from_bytes(data.clone())).await.map_err(|source| StorageError::Store {
            op: "put",
            key: key.to_string(),
            source,
        })?;
        if let Some(root) = &self.local_root {
            let file = root.join(key);
            tokio::task::spawn_blocking(move || {
                let sync = |p: &std::path::Path| {
                    std::fs::File::open(p)
                        .and_then(|f| f.sync_all())
                        .map_err(|source| StorageError::Sync { path: p.display().to_string(), source })
                };
                sync(&file)?;
                match file.parent() {
                    Some(dir) => sync(dir),
                    None => Ok(()),
                }
            })
            .await
            .map_err(|e| StorageError::Sync { path: key.to_string(), source: std::io::Error::other(e) })??;
        }
        self.cache.insert(key, data);
        Ok(())
    }

    /// Reads a whole object, through the cache.
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.guarded("get", key, self.get_inner(key)).await
    }

    async fn get_inner(&self, key: &str) -> Result<Bytes, StorageError> {
        if let Some(hit) = self.cache.get(key) {
            cache_lookup(true);
            return Ok(hit);
        }
        cache_lookup(false);
        let path = keys::to_path(key);
        let data = observed_bytes("get", async {
            let result = self.store.get(&path).await.map_err(|e| map_err("get", key, e))?;
            result.bytes().await.map_err(|e| map_err("get", key, e))
        })
        .await?;
        self.cache.insert(key, data.clone());
        Ok(data)
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
        self.guarded("get_range", key, self.get_range_inner(key, range, whole_object_hint)).await
    }

    async fn get_range_inner(
        &self,
        key: &str,
        range: Range<u64>,
        whole_object_hint: bool,
    ) -> Result<Bytes, StorageError> {
        let data = match self.cache.get(key) {
            Some(hit) => {
                cache_lookup(true);
                hit
            }
            None if whole_object_hint => self.get_inner(key).await?,
            None => {
                cache_lookup(false);
                let path = keys::to_path(key);
                let fetch =
                    async { self.store.get_range(&path, range).await.map_err(|e| map_err("get_range", key, e)) };
                return observed_bytes("get_range", fetch).await;
            }
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

    /// Deletes an object (missing objects are not an error) and drops it from the cache.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.cache.remove(key);
        self.guarded("delete", key, self.delete_inner(key)).await
    }

    async fn delete_inner(&self, key: &str) -> Result<(), StorageError> {
        observed("delete", 0, async {
            match self.store.delete(&keys::to_path(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(source) => Err(StorageError::Store { op: "delete", key: key.into(), source }),
            }
        })
        .await
    }

    /// Checks that a small object can be written durably and deleted again (readiness: a read-only or full
    /// store fails here). The probe bypasses the read cache.
    pub async fn write_probe(&self, owner: &str) -> Result<(), StorageError> {
        let key = keys::probe_key(owner);
        self.guarded("put", &key, observed("put", 1, self.put_durable_inner(&key, Bytes::from_static(b"probe"))))
            .await?;
        self.cache.remove(&key);
        self.guarded("delete", &key, self.delete_inner(&key)).await
    }

    /// Checks the store answers (used by readiness probes).
    pub async fn ping(&self) -> Result<(), StorageError> {
        use futures::StreamExt;
        let prefix = keys::to_path(keys::SEGMENTS_DIR);
        let mut list = self.store.list(Some(&prefix));
        match list.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(source)) => Err(StorageError::Store { op: "list", key: keys::SEGMENTS_DIR.into(), source }),
        }
    }
}

fn map_err(op: &'static str, key: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound { key: key.to_string() },
        source => StorageError::Store { op, key: key.to_string(), source },
    }
}

fn sync_dir(dir: &std::path::Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|source| StorageError::Sync { path: dir.display().to_string(), source })
}

/// Records one object-store request: count by outcome, latency, and bytes moved.
async fn observed<T>(
    op: &'static str,
    bytes: usize,
    request: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    let started = std::time::Instant::now();
    let result = request.await;
    metrics::histogram!("weft_object_store_request_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("weft_object_store_requests_total", "op" => op, "result" => outcome).increment(1);
    if result.is_ok() && bytes > 0 {
        metrics::counter!("weft_object_store_bytes_total", "op" => op).increment(bytes as u64);
    }
    result
}

/// [`observed`] for reads, whose size is known only once they finish.
async fn observed_bytes(
    op: &'static str,
    request: impl Future<Output = Result<Bytes, StorageError>>,
) -> Result<Bytes, StorageError> {
    let data = observed(op, 0, request).await?;
    metrics::counter!("weft_object_store_bytes_total", "op" => op).increment(data.len() as u64);
    Ok(data)
}

fn cache_lookup(hit: bool) {
    metrics::counter!("weft_cache_requests_total", "result" => if hit { "hit" } else { "miss" }).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

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
