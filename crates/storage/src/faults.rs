//! Fault injection for tests: fail the n-th object-store operation, either before it takes effect (the
//! request never reached the store) or after (it took effect but the caller saw an error, as when a process
//! dies between an upload and recording it). Crash-at-every-step tests sweep n over a job's operations.
//!
//! [`Faults`] is the plan a test holds; [`FaultLayer`] is the layer that applies it. The layer is in the
//! stack only when a plan is given ([`crate::ObjectStorage::with_faults`]). It sits above the metrics and
//! retry layers: an injected failure is final, like the crash it stands for (never retried), and a failure
//! before the operation records no request, since none reached the store. Operations counted: each put,
//! get (whole or range), listing, and each object of a delete; reads served by the read cache never reach
//! the store and are not counted.

use crate::error::{InjectedFault, generic};
use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// When an injected failure strikes relative to the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// The operation does not happen.
    Before,
    /// The operation happens, then reports failure.
    After,
}

/// A shared fault plan: counts operations and fails the chosen one.
#[derive(Debug, Default)]
pub struct Faults {
    ops: AtomicU64,
    /// 1-based number of the operation to fail; 0 = none.
    fail_at: AtomicU64,
    after: std::sync::atomic::AtomicBool,
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails operation number `n` (counted from now, 1-based) in `mode`.
    pub fn fail_nth(&self, n: u64, mode: FaultMode) {
        self.ops.store(0, Ordering::SeqCst);
        self.after.store(mode == FaultMode::After, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Stops injecting.
    pub fn clear(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }

    /// Operations counted since the last `fail_nth`.
    pub fn count(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Counts one operation; returns the mode to fail it in, if it is the chosen one.
    pub(crate) fn next(&self) -> Option<FaultMode> {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.fail_at.load(Ordering::SeqCst);
        (at != 0 && n == at)
            .then(|| if self.after.load(Ordering::SeqCst) { FaultMode::After } else { FaultMode::Before })
    }
}

/// Applies a [`Faults`] plan to every operation of `inner`.
#[derive(Debug)]
pub(crate) struct FaultLayer {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
}

impl FaultLayer {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, faults: Arc<Faults>) -> Self {
        FaultLayer { inner, faults }
    }

    /// Runs `work` as operation `op` of the plan: refused before it runs, or reported failed after.
    async fn guarded<T>(&self, op: &'static str, work: impl Future<Output = Result<T>>) -> Result<T> {
        guarded(self.faults.next(), op, work).await
    }
}

async fn guarded<T>(mode: Option<FaultMode>, op: &'static str, work: impl Future<Output = Result<T>>) -> Result<T> {
    match mode {
        None => work.await,
        Some(FaultMode::Before) => Err(generic("faults", InjectedFault { op })),
        Some(FaultMode::After) => {
            work.await?;
            Err(generic("faults", InjectedFault { op }))
        }
    }
}

impl std::fmt::Display for FaultLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faults({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultLayer {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.guarded("put", self.inner.put_opts(location, payload, opts)).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.guarded("put", self.inner.put_multipart_opts(location, opts)).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.range.is_some() { "get_range" } else { "get" };
        self.guarded(op, self.inner.get_opts(location, options)).await
    }

    /// One object at a time, each its own operation of the plan (bulk deletes are not needed in tests).
    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let (inner, faults) = (self.inner.clone(), self.faults.clone());
        locations
            .then(move |location| {
                let (inner, faults) = (inner.clone(), faults.clone());
                async move {
                    let location = location?;
                    guarded(faults.next(), "delete", inner.delete(&location)).await?;
                    Ok(location)
                }
            })
            .boxed()
    }

    /// Before: the listing fails at once. After: every object is listed, then the listing fails.
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let injected = || generic("faults", InjectedFault { op: "list" });
        match self.faults.next() {
            None => self.inner.list(prefix),
            Some(FaultMode::Before) => stream::once(async move { Err(injected()) }).boxed(),
            Some(FaultMode::After) => {
                self.inner.list(prefix).chain(stream::once(async move { Err(injected()) })).boxed()
            }
        }
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        let injected = || generic("faults", InjectedFault { op: "list" });
        match self.faults.next() {
            None => self.inner.list_with_offset(prefix, offset),
            Some(FaultMode::Before) => stream::once(async move { Err(injected()) }).boxed(),
            Some(FaultMode::After) => {
                self.inner.list_with_offset(prefix, offset).chain(stream::once(async move { Err(injected()) })).boxed()
            }
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.guarded("list", self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.guarded("copy", self.inner.copy_opts(from, to, options)).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.guarded("rename", self.inner.rename_opts(from, to, options)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::carries;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;

    fn layer() -> (FaultLayer, Arc<Faults>, Arc<InMemory>) {
        let (mem, faults) = (Arc::new(InMemory::new()), Arc::new(Faults::new()));
        (FaultLayer::new(mem.clone(), faults.clone()), faults, mem)
    }

    #[tokio::test]
    async fn before_means_the_store_never_saw_the_put_and_after_means_it_did() {
        let (store, faults, mem) = layer();
        faults.fail_nth(1, FaultMode::Before);
        let err = store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.unwrap_err();
        assert!(carries::<InjectedFault>(&err), "{err}");
        assert!(mem.head(&Path::from("a")).await.is_err(), "the put never happened");
        faults.fail_nth(1, FaultMode::After);
        assert!(store.put(&Path::from("b"), PutPayload::from_static(b"y")).await.is_err());
        assert!(mem.head(&Path::from("b")).await.is_ok(), "the put happened");
        assert_eq!(faults.count(), 1);
    }

    #[tokio::test]
    async fn every_operation_and_every_deleted_object_is_counted() {
        let (store, faults, _) = layer();
        faults.fail_nth(0, FaultMode::Before);
        store.put(&Path::from("d/a"), PutPayload::from_static(b"x")).await.unwrap();
        store.get(&Path::from("d/a")).await.unwrap();
        store.get_range(&Path::from("d/a"), 0..1).await.unwrap();
        let listed: Vec<_> = store.list(Some(&Path::from("d"))).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
        let paths = stream::iter([Ok(Path::from("d/a")), Ok(Path::from("d/b"))]).boxed();
        store.delete_stream(paths).try_collect::<Vec<_>>().await.unwrap();
        assert_eq!(faults.count(), 6);
    }

    #[tokio::test]
    async fn a_listing_fails_before_or_after_it_ran() {
        let (store, faults, _) = layer();
        store.put(&Path::from("d/a"), PutPayload::from_static(b"x")).await.unwrap();
        faults.fail_nth(1, FaultMode::Before);
        let items: Vec<_> = store.list(None).collect().await;
        assert!(matches!(&items[..], [Err(_)]), "{items:?}");
        faults.fail_nth(1, FaultMode::After);
        let items: Vec<_> = store.list(None).collect().await;
        assert!(matches!(&items[..], [Ok(_), Err(_)]), "{items:?}");
        faults.clear();
        assert_eq!(store.list(None).try_collect::<Vec<_>>().await.unwrap().len(), 1);
    }
}
