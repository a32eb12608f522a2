//! Metrics of object-store requests: how many, how they ended, how long they took and how many bytes they
//! moved (`weft_object_store_requests_total`, `weft_object_store_request_duration_seconds`,
//! `weft_object_store_bytes_total`, labelled by `op`: put, get, get_range, list, delete).
//!
//! The layer sits above the retry layer, so one request here is one request of the caller: its latency
//! includes any retries and backoff, and an error counted here is an error the caller saw. A delete of a
//! missing object counts as ok, since Weft's deletes are idempotent.
//!
//! Each request is also added to the store's [`Usage`] (requests and bytes by kind, a listing counted per
//! page of 1,000 keys), from which the agent estimates what the requests cost.

use crate::body;
use crate::usage::{RequestKind, Usage};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::sync::Arc;
use std::time::Instant;

/// Records every request of `inner`.
#[derive(Debug)]
pub(crate) struct Metered {
    inner: Arc<dyn ObjectStore>,
    usage: Arc<Usage>,
}

impl Metered {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, usage: Arc<Usage>) -> Self {
        Metered { inner, usage }
    }
}

impl std::fmt::Display for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metered({})", self.inner)
    }
}

/// Records one finished request: its count by outcome, its latency, and the bytes it moved.
fn record(usage: &Usage, kind: RequestKind, started: Instant, ok: bool, bytes: usize) {
    let op = kind.name();
    usage.add(kind, 1, if ok { bytes as u64 } else { 0 });
    metrics::histogram!("weft_object_store_request_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("weft_object_store_requests_total", "op" => op, "result" => outcome).increment(1);
    if ok && bytes > 0 {
        metrics::counter!("weft_object_store_bytes_total", "op" => op).increment(bytes as u64);
    }
}

#[async_trait]
impl ObjectStore for Metered {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let (started, len) = (Instant::now(), payload.content_length());
        let result = self.inner.put_opts(location, payload, opts).await;
        record(&self.usage, RequestKind::Put, started, result.is_ok(), len);
        result
    }

    /// Not metered: Weft writes whole objects with `put`.
    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            return self.inner.get_opts(location, options).await;
        }
        let kind = if options.range.is_some() { RequestKind::GetRange } else { RequestKind::Get };
        let started = Instant::now();
        let read = match self.inner.get_opts(location, options).await {
            Ok(result) => body::buffer(result).await,
            Err(e) => Err(e),
        };
        let len = read.as_ref().map_or(0, |(_, data)| data.len());
        record(&self.usage, kind, started, read.is_ok(), len);
        Ok(read?.0)
    }

    /// Each deleted object is one request; its latency is the time since the previous one finished.
    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let mut since = Instant::now();
        let usage = self.usage.clone();
        self.inner
            .delete_stream(locations)
            .inspect(move |result| {
                let ok = matches!(result, Ok(_) | Err(object_store::Error::NotFound { .. }));
                record(&usage, RequestKind::Delete, since, ok, 0);
                since = Instant::now();
            })
            .boxed()
    }

    /// One listing is one request, recorded when its stream is dropped (at its end, at the first error the
    /// caller stops on, or unfinished).
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.metered_listing(self.inner.list(prefix))
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.metered_listing(self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

impl Metered {
    /// `listing`, recorded as one request when its stream is dropped.
    fn metered_listing(
        &self,
        listing: BoxStream<'static, Result<ObjectMeta>>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let mut listing_record = Listing { started: Instant::now(), ok: true, keys: 0, usage: self.usage.clone() };
        listing
            .inspect(move |item| {
                // Through a reference, so the closure owns the whole record (and drops it with the stream).
                let listing = &mut listing_record;
                listing.ok &= item.is_ok();
                listing.keys += 1;
            })
            .boxed()
    }
}

/// Records a listing when dropped.
struct Listing {
    started: Instant,
    ok: bool,
    keys: u64,
    usage: Arc<Usage>,
}

/// Keys per page of a listing, as S3 bills them.
const KEYS_PER_PAGE: u64 = 1000;

impl Drop for Listing {
    fn drop(&mut self) {
        record(&self.usage, RequestKind::List, self.started, self.ok, 0);
        let further_pages = self.keys.saturating_sub(1) / KEYS_PER_PAGE;
        self.usage.add(RequestKind::List, further_pages, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Recorded, Scripted};
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;

    #[test]
    fn every_request_is_counted_by_operation_and_outcome_with_its_bytes_and_latency() {
        let (recorded, usage) = (Recorded::default(), Arc::new(Usage::default()));
        recorded.run(async {
            let store = Metered::new(Arc::new(Scripted::default()), usage.clone());
            store.put(&Path::from("d/a"), PutPayload::from_static(b"abc")).await.unwrap();
            store.get(&Path::from("d/a")).await.unwrap().bytes().await.unwrap();
            store.get_range(&Path::from("d/a"), 1..2).await.unwrap();
            assert!(store.get(&Path::from("d/missing")).await.is_err());
            assert_eq!(store.list(Some(&Path::from("d"))).try_collect::<Vec<_>>().await.unwrap().len(), 1);
            store.delete(&Path::from("d/a")).await.unwrap();
        });
        let requests = |op: &str, result: &str| {
            recorded.get(&format!("weft_object_store_requests_total{{op={op},result={result}}}"))
        };
        assert_eq!(requests("put", "ok"), 1);
        assert_eq!(requests("get", "ok"), 1);
        assert_eq!(requests("get", "error"), 1);
        assert_eq!(requests("get_range", "ok"), 1);
        assert_eq!(requests("list", "ok"), 1);
        assert_eq!(requests("delete", "ok"), 1);
        let bytes = |op: &str| recorded.get(&format!("weft_object_store_bytes_total{{op={op}}}"));
        assert_eq!((bytes("put"), bytes("get"), bytes("get_range")), (3, 3, 1));
        assert_eq!(recorded.get("weft_object_store_request_duration_seconds{op=get}"), 2);
        let usage = usage.snapshot();
        let seen = |k: RequestKind| (usage.of(k).requests, usage.of(k).bytes);
        assert_eq!(seen(RequestKind::Put), (1, 3));
        assert_eq!(seen(RequestKind::Get), (2, 3), "the failed get is a request too");
        assert_eq!((seen(RequestKind::GetRange), seen(RequestKind::List)), ((1, 1), (1, 0)));
        assert_eq!(seen(RequestKind::Delete), (1, 0));
    }

    #[test]
    fn a_listing_counts_one_request_per_thousand_keys() {
        let usage = Arc::new(Usage::default());
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
            let inner = Arc::new(object_store::memory::InMemory::new());
            for i in 0..2001 {
                inner.put(&Path::from(format!("d/{i}")), PutPayload::from_static(b"x")).await.unwrap();
            }
            let store = Metered::new(inner, usage.clone());
            assert_eq!(store.list(None).try_collect::<Vec<_>>().await.unwrap().len(), 2001);
        });
        assert_eq!(usage.snapshot().of(RequestKind::List).requests, 3);
    }
}
