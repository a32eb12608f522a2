//! The layer that applies a latency and failure model ([`crate::model`]) to a store: every request waits
//! for a drawn latency, and some fail as a remote store's requests do (503 SlowDown, 500, a stalled
//! request given up on).
//!
//! It sits right above the base store (and its durability layer), below the retry layer, because it
//! stands for the remote store itself: the retry layer sees its failures as the transient errors they
//! are and retries them, and the metrics layer measures the latency a caller would feel on S3. Waiting
//! goes through an injected [`Sleep`], so tests check the drawn delays without waiting for them.
//!
//! A 503 or 500 is answered after one request latency and changes nothing. A stalled request is given up
//! on after the profile's timeout; a stalled write may or may not have landed (a fair coin), as the
//! client cannot know either.

use crate::model::{Fault, Op, Sampler};
use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, stream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::sync::Arc;
use std::time::Duration;

/// Keys per listing page and per bulk delete request, as S3 counts them.
const KEYS_PER_REQUEST: usize = 1000;

/// How the layer waits.
pub(crate) trait Sleep: Send + Sync + std::fmt::Debug {
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()>;
}

/// Waits on the tokio timer.
#[derive(Debug, Default)]
pub(crate) struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
        tokio::time::sleep(delay).boxed()
    }
}

/// What a modelled failure looks like to the layers above: a generic (transient) store error.
#[derive(Debug, thiserror::Error)]
#[error("modelled object store {op}: {what}")]
pub(crate) struct ModelledFault {
    pub op: &'static str,
    pub what: &'static str,
}

fn fault_error(op: &'static str, fault: Fault, after: Duration) -> object_store::Error {
    let what = match fault {
        Fault::SlowDown => "503 SlowDown (reduce your request rate)",
        Fault::ServerError => "500 InternalError",
        Fault::Timeout => "request timed out",
    };
    tracing::debug!(op, what, after_ms = after.as_millis() as u64, "modelled object store failure");
    crate::error::generic("model", ModelledFault { op, what })
}

/// Applies a model to every request of `inner`.
#[derive(Debug)]
pub(crate) struct Modelled {
    inner: Arc<dyn ObjectStore>,
    sampler: Arc<Sampler>,
    sleep: Arc<dyn Sleep>,
}

impl Modelled {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, sampler: Arc<Sampler>, sleep: Arc<dyn Sleep>) -> Self {
        Modelled { inner, sampler, sleep }
    }

    /// Waits for one request of kind `op` that moves `bytes` up front (a PUT's body), and returns the
    /// fault it ends in, if any. A stalled request waits for the timeout instead.
    async fn request(&self, op: Op, bytes: u64) -> Option<Fault> {
        request(&self.sampler, self.sleep.as_ref(), op, bytes).await
    }
}

async fn request(sampler: &Sampler, sleep: &dyn Sleep, op: Op, bytes: u64) -> Option<Fault> {
    let fault = sampler.fault();
    let delay = match fault {
        Some(Fault::Timeout) => sampler.profile().timeout_after,
        Some(_) => sampler.latency(op),
        None => sampler.latency(op) + sampler.transfer(op, bytes),
    };
    sleep.sleep(delay).await;
    fault
}

fn name(op: Op) -> &'static str {
    match op {
        Op::Put => "put",
        Op::Get => "get",
        Op::Head => "head",
        Op::List => "list",
        Op::Delete => "delete",
    }
}

impl std::fmt::Display for Modelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Modelled({})", self.inner)
    }
}

impl Modelled {
    /// A listing whose every page of keys is one modelled request.
    fn paged(&self, listing: BoxStream<'static, Result<ObjectMeta>>) -> BoxStream<'static, Result<ObjectMeta>> {
        let (sampler, sleep) = (self.sampler.clone(), self.sleep.clone());
        listing
            .chunks(KEYS_PER_REQUEST)
            .then(move |page| {
                let (sampler, sleep) = (sampler.clone(), sleep.clone());
                async move {
                    match request(&sampler, sleep.as_ref(), Op::List, 0).await {
                        None => page,
                        Some(fault) => vec![Err(fault_error("list", fault, sampler.profile().timeout_after))],
                    }
                }
            })
            .flat_map(stream::iter)
            .boxed()
    }
}

#[async_trait]
impl ObjectStore for Modelled {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let timeout = self.sampler.profile().timeout_after;
        match self.request(Op::Put, payload.content_length() as u64).await {
            None => self.inner.put_opts(location, payload, opts).await,
            Some(Fault::Timeout) if self.sampler.landed() => {
                self.inner.put_opts(location, payload, opts).await?;
                Err(fault_error("put", Fault::Timeout, timeout))
            }
            Some(fault) => Err(fault_error("put", fault, timeout)),
        }
    }

    /// Not modelled: Weft writes whole objects with `put`.
    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    /// The first byte after a request latency, the rest at the profile's transfer rate.
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head { Op::Head } else { Op::Get };
        if let Some(fault) = self.request(op, 0).await {
            return Err(fault_error(name(op), fault, self.sampler.profile().timeout_after));
        }
        let result = self.inner.get_opts(location, options).await?;
        if op == Op::Get {
            let bytes = result.range.end.saturating_sub(result.range.start);
            self.sleep.sleep(self.sampler.transfer(Op::Get, bytes)).await;
        }
        Ok(result)
    }

    /// One request per 1,000 objects, as S3's DeleteObjects; a failed request fails each of its objects.
    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let (inner, sampler, sleep) = (self.inner.clone(), self.sampler.clone(), self.sleep.clone());
        locations
            .ready_chunks(KEYS_PER_REQUEST)
            .then(move |chunk| {
                let (inner, sampler, sleep) = (inner.clone(), sampler.clone(), sleep.clone());
                async move {
                    match request(&sampler, sleep.as_ref(), Op::Delete, 0).await {
                        None => inner.delete_stream(stream::iter(chunk).boxed()).collect::<Vec<_>>().await,
                        Some(fault) => {
                            let timeout = sampler.profile().timeout_after;
                            chunk.into_iter().map(|_| Err(fault_error("delete", fault, timeout))).collect()
                        }
                    }
                }
            })
            .flat_map(stream::iter)
            .boxed()
    }

    /// One request per page of 1,000 keys: the first page's latency (or failure) comes before the first
    /// object, each further page's before its first object.
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.paged(self.inner.list(prefix))
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.paged(self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        if let Some(fault) = self.request(Op::List, 0).await {
            return Err(fault_error("list", fault, self.sampler.profile().timeout_after));
        }
        self.inner.list_with_delimiter(prefix).await
    }

    /// A server-side copy is one PUT-class request without a body.
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        if let Some(fault) = self.request(Op::Put, 0).await {
            return Err(fault_error("copy", fault, self.sampler.profile().timeout_after));
        }
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        if let Some(fault) = self.request(Op::Put, 0).await {
            return Err(fault_error("rename", fault, self.sampler.profile().timeout_after));
        }
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Profile, StoreModel};
    use crate::retry::{RetryOptions, Retrying};
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;
    use std::sync::Mutex;

    /// Records every delay asked for and returns at once.
    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<Duration>>);

    impl Sleep for Recorded {
        fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
            self.0.lock().unwrap().push(delay);
            futures::future::ready(()).boxed()
        }
    }

    fn modelled(profile: Profile, seed: u64) -> (Modelled, Arc<Recorded>, Arc<InMemory>) {
        let (mem, slept) = (Arc::new(InMemory::new()), Arc::new(Recorded::default()));
        let sampler = Arc::new(Sampler::new(profile, seed));
        (Modelled::new(mem.clone(), sampler, slept.clone()), slept, mem)
    }

    const FAST: RetryOptions = RetryOptions {
        attempts: 10,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        attempt_timeout: Duration::from_secs(10),
    };

    #[tokio::test]
    async fn every_request_waits_its_drawn_latency_and_reads_add_their_transfer_time() {
        let profile = Profile {
            put: crate::model::Latency { p50: Duration::from_millis(50), p99: Duration::from_millis(50) },
            get: crate::model::Latency { p50: Duration::from_millis(20), p99: Duration::from_millis(20) },
            put_bytes_per_sec: 1000.0,
            get_bytes_per_sec: 500.0,
            ..Profile::NONE
        };
        let (store, slept, _) = modelled(profile, 1);
        store.put(&Path::from("a"), PutPayload::from(vec![0u8; 100])).await.unwrap();
        store.get(&Path::from("a")).await.unwrap().bytes().await.unwrap();
        let delays = slept.0.lock().unwrap().clone();
        let ms = |d: &Duration| (d.as_secs_f64() * 1000.0).round() as u64;
        // A PUT: 50 ms plus 100 bytes at 1000 B/s; a GET: 20 ms to the first byte, then 100 bytes at 500 B/s.
        assert_eq!(delays.iter().map(ms).collect::<Vec<_>>(), vec![150, 20, 200]);
    }

    #[tokio::test]
    async fn modelled_failures_are_transient_and_the_retry_layer_gets_every_request_through() {
        let profile = Profile {
            slow_down_rate: 0.2,
            server_error_rate: 0.05,
            timeout_rate: 0.05,
            ..StoreModel::S3Standard.profile()
        };
        let (store, slept, mem) = modelled(profile, 5);
        let store = Retrying::new(Arc::new(store), FAST);
        for i in 0..200 {
            let key = Path::from(format!("d/{i}"));
            store.put(&key, PutPayload::from(format!("{i}"))).await.unwrap();
            assert_eq!(store.get(&key).await.unwrap().bytes().await.unwrap(), format!("{i}").as_bytes());
            store.head(&key).await.unwrap();
        }
        assert_eq!(store.list(Some(&Path::from("d"))).try_collect::<Vec<_>>().await.unwrap().len(), 200);
        let keys = stream::iter((0..200).map(|i| Ok(Path::from(format!("d/{i}"))))).boxed();
        assert_eq!(store.delete_stream(keys).try_collect::<Vec<_>>().await.unwrap().len(), 200);
        assert!(mem.list(None).try_collect::<Vec<_>>().await.unwrap().is_empty());
        let stalls = slept.0.lock().unwrap().iter().filter(|d| **d == Duration::from_secs(2)).count();
        assert!(stalls > 0, "some requests stalled until the modelled timeout");
    }

    #[tokio::test]
    async fn a_slow_down_is_reported_as_such_and_retried() {
        let profile = Profile { slow_down_rate: 1.0, ..Profile::NONE };
        let (store, _, mem) = modelled(profile, 1);
        let err = store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.unwrap_err();
        assert!(err.to_string().contains("503 SlowDown"), "{err}");
        assert!(crate::error::carries::<ModelledFault>(&err));
        assert!(mem.head(&Path::from("a")).await.is_err(), "a refused put changes nothing");
        let storage_error = crate::error::from_store("put", "a", err);
        assert!(matches!(storage_error, crate::StorageError::Store { .. }), "{storage_error}");
        // Half the requests slowed down: every put still succeeds through the retry layer, after retries.
        let (store, slept, mem) = modelled(Profile { slow_down_rate: 0.5, ..Profile::NONE }, 4);
        let store = Retrying::new(Arc::new(store), FAST);
        for i in 0..100 {
            store.put(&Path::from(format!("k{i}")), PutPayload::from_static(b"x")).await.unwrap();
        }
        assert_eq!(mem.list(None).try_collect::<Vec<_>>().await.unwrap().len(), 100);
        let attempts = slept.0.lock().unwrap().len();
        assert!(attempts > 150, "{attempts} attempts for 100 puts: slowed-down ones were retried");
    }

    #[tokio::test]
    async fn a_stalled_write_may_have_landed() {
        let profile = Profile { timeout_rate: 1.0, ..Profile::NONE };
        let (store, slept, mem) = modelled(profile, 9);
        let mut landed = 0;
        for i in 0..100 {
            let key = Path::from(format!("k{i}"));
            assert!(store.put(&key, PutPayload::from_static(b"x")).await.is_err());
            landed += usize::from(mem.head(&key).await.is_ok());
        }
        assert!((25..=75).contains(&landed), "{landed} of 100 stalled writes landed");
        assert!(slept.0.lock().unwrap().iter().all(|d| *d == Duration::from_secs(2)));
    }

    #[tokio::test]
    async fn listings_and_bulk_deletes_cost_one_request_per_thousand_keys() {
        let (store, slept, _) = modelled(Profile::NONE, 2);
        for i in 0..2500 {
            store.inner.put(&Path::from(format!("d/{i}")), PutPayload::from_static(b"x")).await.unwrap();
        }
        assert_eq!(store.list(None).try_collect::<Vec<_>>().await.unwrap().len(), 2500);
        assert_eq!(slept.0.lock().unwrap().len(), 3, "three pages");
        let keys = stream::iter((0..2500).map(|i| Ok(Path::from(format!("d/{i}"))))).boxed();
        assert_eq!(store.delete_stream(keys).try_collect::<Vec<_>>().await.unwrap().len(), 2500);
        assert_eq!(slept.0.lock().unwrap().len(), 6, "three delete requests");
    }
}
