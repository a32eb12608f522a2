//! Durability for a local directory store: a write is acknowledged only once the file and its directory
//! are synced, so an acknowledged object survives a crash or power loss.
//!
//! Only local directories need this layer (cloud stores acknowledge durable writes themselves), so the
//! stack inserts it only when the base store has a local root. Deletes are not fsync'd: a delete lost in a
//! crash leaves an object the garbage collector deletes again.
//!
//! The file is synced with `fdatasync` (`File::sync_data`): fdatasync(2) flushes the data and the metadata
//! "needed in order to allow a subsequent data retrieval to be correctly handled", naming the file size as
//! such metadata, and skips only timestamps; every object is a new file whose size its write set, so its
//! bytes and length are durable either way. The directory entry (the create or rename) is made durable by
//! a directory fsync shared between concurrent writers ([`crate::dirsync`]).
//!
//! A plain put (overwrite, no attributes) is written by this layer itself, bypassing the page cache
//! ([`crate::direct`]); other writes, and every write on a file system that refuses direct I/O, go through
//! the store below.

use crate::direct::{self, Failure, Written};
use crate::dirsync::{DirSyncs, SyncFn};
use crate::error::{SyncFailed, generic};
use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result, UploadPart,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Marks a put as background work (a merged or compacted object, `put_durable_uncached`): written directly,
/// it is synced in steps so that it never holds the device's flush for long (see [`direct::write`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Background;

/// Syncs every write of `inner`, a store whose objects are files under `root`.
#[derive(Debug)]
pub(crate) struct Durable {
    inner: Arc<dyn ObjectStore>,
    syncer: Arc<Syncer>,
}

/// How one object is made durable: its file, then its directory (grouped).
struct Syncer {
    root: PathBuf,
    file: SyncFn,
    dirs: DirSyncs,
    /// Plain puts are written directly, until the file system first refuses it.
    direct: AtomicBool,
}

impl std::fmt::Debug for Syncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer").field("root", &self.root).field("dirs", &self.dirs).finish_non_exhaustive()
    }
}

impl Durable {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, root: PathBuf) -> Self {
        let file: SyncFn = Arc::new(|p| std::fs::File::open(p)?.sync_data());
        let dir: SyncFn = Arc::new(|p| std::fs::File::open(p)?.sync_all());
        Self::with_syncs(inner, root, file, DirSyncs::grouped(dir))
    }

    /// With injected sync functions (tests count them).
    pub(crate) fn with_syncs(inner: Arc<dyn ObjectStore>, root: PathBuf, file: SyncFn, dirs: DirSyncs) -> Self {
        let direct = AtomicBool::new(true);
        Durable { inner, syncer: Arc::new(Syncer { root, file, dirs, direct }) }
    }
}

impl std::fmt::Display for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Durable({})", self.inner)
    }
}

fn sync_failed(path: &std::path::Path, source: std::io::Error) -> object_store::Error {
    generic("durability", SyncFailed { path: path.display().to_string(), source })
}

impl Syncer {
    /// Syncs the file of `location`, then its directory (so the new name is durable too).
    async fn sync_object(&self, location: &Path) -> Result<()> {
        let path = self.root.join(location.as_ref());
        let (file, sync) = (path.clone(), self.file.clone());
        tokio::task::spawn_blocking(move || sync(&file))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|e| sync_failed(&path, e))?;
        self.sync_dir(&path).await
    }

    async fn sync_dir(&self, path: &std::path::Path) -> Result<()> {
        match path.parent() {
            Some(dir) => self.dirs.sync(dir).await.map_err(|e| sync_failed(dir, e)),
            None => Ok(()),
        }
    }

    /// Writes `payload` as `location` without the page cache and makes it durable; `None` when the file
    /// system refuses direct writes (from then on every put goes through the store below).
    async fn put_direct(&self, location: &Path, payload: PutPayload, stepped: bool) -> Result<Option<PutResult>> {
        let path = self.root.join(location.as_ref());
        let (file, sync) = (path.clone(), self.file.clone());
        let chunks: Vec<bytes::Bytes> = payload.into_iter().collect();
        let written = tokio::task::spawn_blocking(move || direct::write(&file, &chunks, stepped, &*sync))
            .await
            .map_err(|e| generic("local", e))?;
        match written {
            Ok(Written::Direct { e_tag }) => {
                self.sync_dir(&path).await?;
                Ok(Some(PutResult { e_tag: Some(e_tag), version: None, extensions: Default::default() }))
            }
            Ok(Written::Refused) => {
                if self.direct.swap(false, Ordering::Relaxed) {
                    tracing::warn!(root = %self.root.display(), "the file system refuses direct i/o (O_DIRECT); objects are written through the page cache");
                }
                Ok(None)
            }
            Err(Failure::Sync(e)) => Err(sync_failed(&path, e)),
            Err(Failure::Write(e)) => {
                let e = std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()));
                Err(generic("local", e))
            }
        }
    }
}

fn background(opts: &PutOptions) -> bool {
    opts.extensions.get::<Background>().is_some()
}

/// Whether a put is one the durability layer writes directly: an overwrite with no attributes (which the
/// local store refuses anyway).
fn plain(opts: &PutOptions) -> bool {
    opts.mode == object_store::PutMode::Overwrite && opts.attributes.is_empty()
}

#[async_trait]
impl ObjectStore for Durable {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        if self.syncer.direct.load(Ordering::Relaxed)
            && plain(&opts)
            && let Some(put) = self.syncer.put_direct(location, payload.clone(), background(&opts)).await?
        {
            return Ok(put);
        }
        let put = self.inner.put_opts(location, payload, opts).await?;
        self.syncer.sync_object(location).await?;
        Ok(put)
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(DurableUpload { inner, syncer: self.syncer.clone(), location: location.clone() }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        // Reads without the backend's zero-fill (`local_read.rs`); a HEAD has no bytes to read.
        if options.head {
            return self.inner.get_opts(location, options).await;
        }
        crate::local_read::buffered(self.inner.get_opts(location, options).await?).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.syncer.sync_object(to).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        self.syncer.sync_object(to).await
    }
}

/// A multipart upload whose completion is acknowledged only once the assembled file is fsync'd.
#[derive(Debug)]
struct DurableUpload {
    inner: Box<dyn MultipartUpload>,
    syncer: Arc<Syncer>,
    location: Path,
}

#[async_trait]
impl MultipartUpload for DurableUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let put = self.inner.complete().await?;
        self.syncer.sync_object(&self.location).await?;
        Ok(put)
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::carries;
    use object_store::ObjectStoreExt;
    use object_store::local::LocalFileSystem;

    fn durable(root: &std::path::Path) -> Durable {
        let fs = LocalFileSystem::new_with_prefix(root).unwrap();
        Durable::new(Arc::new(fs), root.to_path_buf())
    }

    #[tokio::test]
    async fn an_acknowledged_put_is_a_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = durable(dir.path());
        store.put(&Path::from("v1/segments/a.seg"), PutPayload::from_static(b"abc")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("v1/segments/a.seg")).unwrap(), b"abc");
        let mut upload = store.put_multipart(&Path::from("v1/merged/b.seg")).await.unwrap();
        upload.put_part(PutPayload::from_static(b"de")).await.unwrap();
        upload.complete().await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("v1/merged/b.seg")).unwrap(), b"de");
    }

    #[tokio::test]
    async fn a_failed_fsync_fails_the_put_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let failing: SyncFn = Arc::new(|_| Err(std::io::Error::other("injected")));
        let ok: SyncFn = Arc::new(|_| Ok(()));
        let store = Durable::with_syncs(fs, dir.path().to_path_buf(), failing, DirSyncs::grouped(ok));
        let err = store.put(&Path::from("v1/a"), PutPayload::from_static(b"x")).await.unwrap_err();
        assert!(carries::<SyncFailed>(&err), "{err}");
        // A direct write removes its staging file; the store below (no direct i/o) leaves the file.
        if store.syncer.direct.load(Ordering::Relaxed) {
            assert_eq!(std::fs::read_dir(dir.path().join("v1")).unwrap().count(), 0);
        }
    }

    #[tokio::test]
    async fn a_put_with_attributes_goes_through_the_store_below() {
        let dir = tempfile::tempdir().unwrap();
        let store = durable(dir.path());
        let mut opts = PutOptions::default();
        opts.attributes.insert(object_store::Attribute::ContentType, "text/plain".into());
        // The local store refuses attributes; the direct path would have ignored them.
        assert!(store.put_opts(&Path::from("a"), PutPayload::from_static(b"x"), opts).await.is_err());
    }

    /// A sync function that counts its calls, then really syncs (`data_only`: fdatasync rather than fsync).
    fn counted(n: &Arc<std::sync::atomic::AtomicUsize>, data_only: bool) -> SyncFn {
        let n = n.clone();
        Arc::new(move |p| {
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let f = std::fs::File::open(p)?;
            if data_only { f.sync_data() } else { f.sync_all() }
        })
    }

    struct Counts {
        file: Arc<std::sync::atomic::AtomicUsize>,
        dir: Arc<std::sync::atomic::AtomicUsize>,
    }

    fn counted_store(root: &std::path::Path, grouped: bool, data_only: bool) -> (Arc<Durable>, Counts) {
        let fs = Arc::new(LocalFileSystem::new_with_prefix(root).unwrap());
        let counts = Counts { file: Default::default(), dir: Default::default() };
        let dir_sync = counted(&counts.dir, false);
        let dirs = if grouped { DirSyncs::grouped(dir_sync) } else { DirSyncs::ungrouped(dir_sync) };
        let store = Durable::with_syncs(fs, root.to_path_buf(), counted(&counts.file, data_only), dirs);
        (Arc::new(store), counts)
    }

    /// Puts `n` objects of `size` bytes into one directory at once; returns the wall time.
    async fn concurrent_puts(store: &Arc<Durable>, round: usize, n: usize, size: usize) -> std::time::Duration {
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = store.clone();
            let payload = PutPayload::from(vec![i as u8; size]);
            tasks.push(tokio::spawn(async move {
                store.put(&Path::from(format!("v1/segments/{round}-{i}.seg")), payload).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        started.elapsed()
    }

    #[tokio::test]
    async fn one_put_syncs_its_file_and_its_directory_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, counts) = counted_store(dir.path(), true, true);
        store.put(&Path::from("v1/segments/a.seg"), PutPayload::from_static(b"abc")).await.unwrap();
        assert_eq!(counts.file.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(counts.dir.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_puts_share_directory_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let (store, counts) = counted_store(dir.path(), true, true);
        concurrent_puts(&store, 0, 8, 64 << 10).await;
        assert_eq!(counts.file.load(std::sync::atomic::Ordering::SeqCst), 8);
        let dirs = counts.dir.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=8).contains(&dirs), "{dirs} directory syncs");
        for i in 0..8 {
            assert_eq!(std::fs::read(dir.path().join(format!("v1/segments/0-{i}.seg"))).unwrap().len(), 64 << 10);
        }
    }

    /// The timing harness of BENCHMARKS.md ("Fsyncs per flush"): rounds of `WEFT_PUTS` (default 8)
    /// concurrent 4 MiB puts into one directory, before (fsync file + fsync directory per put) and after
    /// (fdatasync file + grouped directory fsync), in one process. Run with
    /// `cargo nextest run -p weft-storage --run-ignored only -E 'test(durable_put_timing)' --no-capture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "timing harness; prints figures"]
    async fn durable_put_timing() {
        let n: usize = std::env::var("WEFT_PUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
        let rounds = 5;
        for (name, grouped, data_only) in
            [("before", false, false), ("after", true, true), ("before", false, false), ("after", true, true)]
        {
            let dir = tempfile::tempdir_in(std::env::var("WEFT_BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
            let (store, counts) = counted_store(dir.path(), grouped, data_only);
            let mut times = Vec::new();
            for round in 0..rounds {
                times.push(concurrent_puts(&store, round, n, 4 << 20).await);
            }
            times.sort();
            let puts = (n * rounds) as f64;
            let load = |c: &Arc<std::sync::atomic::AtomicUsize>| c.load(std::sync::atomic::Ordering::SeqCst) as f64;
            println!(
                "{name}: {n} concurrent 4 MiB puts x {rounds} rounds: file syncs/put {:.2}, dir fsyncs/put {:.2}, \
                 round wall time median {:?} min {:?} max {:?}",
                load(&counts.file) / puts,
                load(&counts.dir) / puts,
                times[rounds / 2],
                times[0],
                times[rounds - 1],
            );
        }
    }
}
