//! Retries of transient object-store failures, with exponential backoff and a timeout on every attempt.
//!
//! A failure is transient when the store reports a generic error (a dropped connection, a throttled or
//! failed request, an attempt that timed out). Answers that retrying cannot change are returned at once:
//! not found, already exists, failed preconditions, bad paths, permissions, and Weft's own injected
//! faults and failed fsyncs (after a failed fsync the kernel may have dropped the dirty pages, so the
//! outcome of that write is unknown and the caller must see it fail). Attempts are bounded by
//! [`RetryOptions::attempts`]. A local disk's permanent refusals (permission denied, read-only file system,
//! disk full, not a directory) are final too.
//!
//! What may be repeated depends on the operation ([`Repeat`]). Reads, listings and deletes always may.
//! An overwriting put or copy may be repeated after a failure it reported, but not after its attempt timed
//! out: the abandoned attempt may still land later (a local write goes on in its blocking thread, and its
//! late rename would replace the durable object a retry wrote with one nobody fsync'd), so the caller sees
//! the timeout and nothing is acknowledged. Conditional puts and copies and renames are never repeated (a
//! second attempt could fail for the first one's success).

use crate::body;
use crate::error::{AttemptTimedOut, InjectedFault, SyncFailed, generic};
use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::sync::Arc;
use std::time::Duration;

/// Most objects handed to the store in one bulk delete (S3's DeleteObjects takes at most 1000).
const DELETE_CHUNK: usize = 1000;

/// How hard the retry layer tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOptions {
    /// Attempts per operation, the first included (1 = no retries).
    pub attempts: u32,
    /// Wait before the first retry; it doubles for every further one.
    pub first_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Longest one attempt may take before it counts as a transient failure.
    pub attempt_timeout: Duration,
}

impl Default for RetryOptions {
    /// Three attempts, 50 ms then 100 ms apart; a generous minute per attempt, so a slow disk under a
    /// loaded test machine never turns into a spurious timeout.
    fn default() -> Self {
        RetryOptions {
            attempts: 3,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// Whether retrying `e` may succeed.
fn transient(e: &object_store::Error) -> bool {
    match e {
        object_store::Error::Generic { source, .. } => {
            !(source.is::<InjectedFault>() || source.is::<SyncFailed>() || refused_by_disk(source.as_ref()))
        }
        _ => false,
    }
}

/// Why a store refused an attempt that will be repeated, for `weft_object_store_retries_total`: `throttled`
/// (S3's 503 SlowDown, or any 503 or 429: the store asks for fewer requests), `timeout` (the attempt outlived
/// its timeout, or the store said it timed out), `server` (another 5xx) or `other` (connection errors and
/// the rest). The store's error carries the HTTP status only in its text, so the text is what is read.
pub(crate) fn reason(e: &object_store::Error) -> &'static str {
    if crate::error::carries::<AttemptTimedOut>(e) {
        return "timeout";
    }
    let text = e.to_string();
    if text.contains("SlowDown") || text.contains("503") || text.contains("429") || text.contains("Too Many Requests") {
        "throttled"
    } else if text.contains("timed out") || text.contains("timeout") {
        "timeout"
    } else if ["500", "502", "504", "InternalError"].iter().any(|code| text.contains(code)) {
        "server"
    } else {
        "other"
    }
}

/// Whether an I/O error in the chain of `e` is one a local disk keeps giving.
fn refused_by_disk(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind::*;
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                PermissionDenied | ReadOnlyFilesystem | StorageFull | NotADirectory | IsADirectory
            );
        }
        cur = err.source();
    }
    false
}

/// Which failed attempts of an operation may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Any transient failure (reads, listings, deletes).
    Always,
    /// Transient failures the attempt reported itself, not a timeout (overwriting puts and copies).
    UnlessTimedOut,
    /// None (conditional writes, renames).
    Never,
}

impl Repeat {
    fn allows(self, e: &object_store::Error) -> bool {
        match self {
            Repeat::Always => transient(e),
            Repeat::UnlessTimedOut => transient(e) && !crate::error::carries::<AttemptTimedOut>(e),
            Repeat::Never => false,
        }
    }
}

/// Retries the transient failures of `inner`.
#[derive(Debug)]
pub(crate) struct Retrying {
    inner: Arc<dyn ObjectStore>,
    options: RetryOptions,
}

impl Retrying {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, options: RetryOptions) -> Self {
        Retrying { inner, options: RetryOptions { attempts: options.attempts.max(1), ..options } }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts are used up.
    async fn run<T, F, Fut>(&self, op: &'static str, repeat: Repeat, location: &Path, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = Backoff::new(self.options);
        loop {
            let result = bounded(self.options, op, attempt()).await;
            match result {
                Err(e) if repeat.allows(&e) && backoff.tries < self.options.attempts => {
                    metrics::counter!("weft_object_store_retries_total", "op" => op, "reason" => reason(&e))
                        .increment(1);
                    tracing::warn!(op, object = %location, attempt = backoff.tries, error = %e, "object store request failed; retrying");
                    backoff.wait().await;
                }
                other => return other,
            }
        }
    }
}

/// The wait between attempts, doubling up to the maximum.
struct Backoff {
    tries: u32,
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(options: RetryOptions) -> Self {
        Backoff { tries: 1, next: options.first_backoff, max: options.max_backoff }
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
        self.tries += 1;
    }
}

/// `attempt`, failed as transient once it outlives the attempt timeout.
async fn bounded<T>(options: RetryOptions, op: &'static str, attempt: impl Future<Output = Result<T>>) -> Result<T> {
    let limit = options.attempt_timeout;
    tokio::time::timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| Err(generic("retry", AttemptTimedOut { op, after_ms: limit.as_millis() })))
}

impl std::fmt::Display for Retrying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Retrying({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Retrying {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let repeat = if opts.mode == PutMode::Overwrite { Repeat::UnlessTimedOut } else { Repeat::Never };
        self.run("put", repeat, location, || self.inner.put_opts(location, payload.clone(), opts.clone())).await
    }

    /// Not retried: a multipart upload's parts are the caller's to repeat. Weft writes whole objects.
    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    /// The body is read inside the attempt, so a read that breaks half way is retried whole.
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            return self.run("head", Repeat::Always, location, || self.inner.get_opts(location, options.clone())).await;
        }
        let read = || async {
            let result = self.inner.get_opts(location, options.clone()).await?;
            Ok(body::buffer(result).await?.0)
        };
        self.run("get", Repeat::Always, location, read).await
    }

    /// Deletes in bulk chunks; within a chunk, only the objects whose delete failed transiently are tried
    /// again.
    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let (inner, options) = (self.inner.clone(), self.options);
        locations
            .ready_chunks(DELETE_CHUNK)
            .then(move |chunk| delete_chunk(inner.clone(), options, chunk))
            .flat_map(stream::iter)
            .boxed()
    }

    /// A listing that fails before its first object is started again; once objects have been handed out,
    /// an error is passed on (listings are unordered, so there is no point to resume from).
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.listing(prefix, None)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.listing(prefix, Some(offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let location = prefix.cloned().unwrap_or_default();
        self.run("list", Repeat::Always, &location, || self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let repeat = if options.mode == CopyMode::Overwrite { Repeat::UnlessTimedOut } else { Repeat::Never };
        self.run("copy", repeat, to, || self.inner.copy_opts(from, to, options.clone())).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.run("rename", Repeat::Never, to, || self.inner.rename_opts(from, to, options.clone())).await
    }
}

impl Retrying {
    /// A listing of `prefix` (the keys after `offset` only, when given) restarted on an early failure.
    fn listing(&self, prefix: Option<&Path>, offset: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let listing = Listing {
            inner: self.inner.clone(),
            prefix: prefix.cloned(),
            offset: offset.cloned(),
            stream: open_listing(self.inner.as_ref(), prefix, offset),
            backoff: Backoff::new(self.options),
            options: self.options,
            started: false,
        };
        stream::unfold(listing, |mut l| async move {
            let item = l.next().await?;
            Some((item, l))
        })
        .boxed()
    }
}

fn open_listing(
    store: &dyn ObjectStore,
    prefix: Option<&Path>,
    offset: Option<&Path>,
) -> BoxStream<'static, Result<ObjectMeta>> {
    match offset {
        Some(offset) => store.list_with_offset(prefix, offset),
        None => store.list(prefix),
    }
}

/// A listing in progress, restarted on a transient failure while nothing has been handed out yet.
struct Listing {
    inner: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    offset: Option<Path>,
    stream: BoxStream<'static, Result<ObjectMeta>>,
    backoff: Backoff,
    options: RetryOptions,
    started: bool,
}

impl Listing {
    async fn next(&mut self) -> Option<Result<ObjectMeta>> {
        loop {
            let item = bounded(self.options, "list", async { Ok(self.stream.next().await) }).await;
            match item {
                Ok(Some(Ok(meta))) => {
                    self.started = true;
                    return Some(Ok(meta));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) | Err(e)
                    if !self.started && transient(&e) && self.backoff.tries < self.options.attempts =>
                {
                    tracing::warn!(prefix = ?self.prefix, attempt = self.backoff.tries, error = %e, "object store listing failed; retrying");
                    self.backoff.wait().await;
                    self.stream = open_listing(self.inner.as_ref(), self.prefix.as_ref(), self.offset.as_ref());
                }
                Ok(Some(Err(e))) | Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Deletes one chunk of `locations` in bulk, retrying the objects whose delete failed transiently. The
/// results come back in the order of `locations`, as `delete_stream` promises.
async fn delete_chunk(
    inner: Arc<dyn ObjectStore>,
    options: RetryOptions,
    locations: Vec<Result<Path>>,
) -> Vec<Result<Path>> {
    let mut results: Vec<Option<Result<Path>>> = Vec::with_capacity(locations.len());
    let mut pending = Vec::new();
    for (i, location) in locations.into_iter().enumerate() {
        match location {
            Ok(path) => {
                pending.push((i, path));
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    let mut backoff = Backoff::new(options);
    while !pending.is_empty() {
        let paths: Vec<Result<Path>> = pending.iter().map(|(_, p)| Ok(p.clone())).collect();
        let attempt = async { Ok(inner.delete_stream(stream::iter(paths).boxed()).collect::<Vec<_>>().await) };
        let answered = bounded(options, "delete", attempt).await;
        let (mut answers, whole) = match answered {
            Ok(answers) => (answers.into_iter(), None),
            Err(e) => (Vec::new().into_iter(), Some(e)),
        };
        let last_try = backoff.tries >= options.attempts;
        let mut again = Vec::new();
        for (i, path) in pending {
            let answer = answers.next().unwrap_or_else(|| {
                let why = whole.as_ref().map_or("the store gave no answer for it".to_string(), |e| e.to_string());
                Err(generic("retry", std::io::Error::other(format!("delete of {path}: {why}"))))
            });
            match answer {
                Err(e) if transient(&e) && !last_try => again.push((i, path)),
                answer => results[i] = Some(answer),
            }
        }
        pending = again;
        if !pending.is_empty() {
            tracing::warn!(objects = pending.len(), attempt = backoff.tries, "object store deletes failed; retrying");
            backoff.wait().await;
        }
    }
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scripted;
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    use std::sync::atomic::Ordering;

    const FAST: RetryOptions = RetryOptions {
        attempts: 3,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        attempt_timeout: Duration::from_secs(10),
    };

    fn retrying(options: RetryOptions) -> (Retrying, Arc<Scripted>) {
        let inner = Arc::new(Scripted::default());
        (Retrying::new(inner.clone(), options), inner)
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_until_it_succeeds() {
        let (store, inner) = retrying(FAST);
        inner.fail_next.store(2, Ordering::SeqCst);
        store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.unwrap();
        assert_eq!(inner.puts.load(Ordering::SeqCst), 3);
        inner.fail_next.store(1, Ordering::SeqCst);
        assert_eq!(&store.get(&Path::from("a")).await.unwrap().bytes().await.unwrap()[..], b"x");
        assert_eq!(inner.gets.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn retry_reasons_name_throttling_timeouts_and_server_errors() {
        let err = |text: &str| object_store::Error::Generic { store: "S3", source: text.to_string().into() };
        assert_eq!(reason(&err("Server returned non-2XX response code: 503 SlowDown")), "throttled");
        assert_eq!(reason(&err("429 Too Many Requests")), "throttled");
        assert_eq!(reason(&err("request timed out")), "timeout");
        assert_eq!(reason(&err("500 InternalError")), "server");
        assert_eq!(reason(&err("connection reset by peer")), "other");
    }

    #[tokio::test]
    async fn retrying_gives_up_after_the_configured_attempts() {
        let (store, inner) = retrying(FAST);
        inner.fail_next.store(100, Ordering::SeqCst);
        assert!(store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.is_err());
        assert_eq!(inner.puts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn answers_retrying_cannot_change_are_returned_at_once() {
        let (store, inner) = retrying(FAST);
        let err = store.get(&Path::from("missing")).await.unwrap_err();
        assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
        assert_eq!(inner.gets.load(Ordering::SeqCst), 1, "not found is not retried");
        let injected = generic("faults", InjectedFault { op: "put" });
        let sync = generic("durability", SyncFailed { path: "p".into(), source: std::io::Error::other("eio") });
        assert!(!transient(&injected) && !transient(&sync));
    }

    #[tokio::test]
    async fn an_attempt_that_outlives_its_timeout_is_retried_then_reported() {
        let (store, inner) = retrying(RetryOptions { attempt_timeout: Duration::from_millis(20), ..FAST });
        store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.unwrap();
        inner.get_delay_ms.store(1000, Ordering::SeqCst);
        let err = store.get(&Path::from("a")).await.unwrap_err();
        assert!(crate::error::carries::<AttemptTimedOut>(&err), "{err}");
        assert_eq!(inner.gets.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_put_that_timed_out_is_not_repeated() {
        let (store, inner) = retrying(RetryOptions { attempt_timeout: Duration::from_millis(20), ..FAST });
        inner.put_delay_ms.store(1000, Ordering::SeqCst);
        let err = store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.unwrap_err();
        assert!(crate::error::carries::<AttemptTimedOut>(&err), "{err}");
        assert_eq!(inner.puts.load(Ordering::SeqCst), 1, "the abandoned attempt may still land; no second one");
    }

    #[tokio::test]
    async fn conditional_puts_are_not_repeated() {
        let (store, inner) = retrying(FAST);
        inner.fail_next.store(1, Ordering::SeqCst);
        let create = PutOptions { mode: PutMode::Create, ..Default::default() };
        assert!(store.put_opts(&Path::from("a"), PutPayload::from_static(b"x"), create).await.is_err());
        assert_eq!(inner.puts.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_disk_that_refuses_is_not_retried() {
        for kind in [std::io::ErrorKind::PermissionDenied, std::io::ErrorKind::StorageFull] {
            let e = generic("LocalFileSystem", std::io::Error::from(kind));
            assert!(!transient(&e), "{kind:?}");
        }
        assert!(transient(&generic("LocalFileSystem", std::io::Error::other("connection reset"))));
    }

    #[tokio::test]
    async fn bulk_deletes_retry_only_the_failed_objects_and_keep_their_order() {
        let (store, inner) = retrying(FAST);
        for k in ["a", "b", "c"] {
            store.put(&Path::from(k), PutPayload::from_static(b"x")).await.unwrap();
        }
        inner.fail_next.store(1, Ordering::SeqCst);
        let paths = stream::iter(["a", "b", "c"].map(|k| Ok(Path::from(k)))).boxed();
        let deleted: Vec<Path> = store.delete_stream(paths).try_collect().await.unwrap();
        assert_eq!(deleted, ["a", "b", "c"].map(Path::from));
        assert_eq!(inner.deletes.load(Ordering::SeqCst), 4, "three deletes and one retry of the failed one");
        assert!(store.list(None).try_collect::<Vec<_>>().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_listing_that_fails_before_its_first_object_starts_again() {
        let (store, inner) = retrying(FAST);
        store.put(&Path::from("d/a"), PutPayload::from_static(b"x")).await.unwrap();
        inner.fail_next.store(1, Ordering::SeqCst);
        let listed: Vec<_> = store.list(Some(&Path::from("d"))).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(inner.lists.load(Ordering::SeqCst), 2);
    }
}
