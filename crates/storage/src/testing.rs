//! A scripted store for the layers' unit tests: an in-memory store that counts its calls, can fail the next
//! calls with a transient error, and can hold reads back so that concurrent callers overlap.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct Scripted {
    inner: InMemory,
    /// Calls of each kind so far.
    pub gets: AtomicU32,
    pub puts: AtomicU32,
    pub deletes: AtomicU32,
    pub lists: AtomicU32,
    /// This many of the next calls (of any kind) fail with a transient error.
    pub fail_next: AtomicU32,
    /// Each get waits this many milliseconds before it answers.
    pub get_delay_ms: AtomicU32,
    /// Each put waits this many milliseconds before it answers.
    pub put_delay_ms: AtomicU32,
}

impl Scripted {
    fn failing(&self) -> Result<()> {
        let failing = self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        match failing {
            true => Err(object_store::Error::Generic { store: "scripted", source: "connection reset".into() }),
            false => Ok(()),
        }
    }
}

impl std::fmt::Display for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scripted")
    }
}

#[async_trait]
impl ObjectStore for Scripted {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        let delay = self.put_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay.into())).await;
        }
        self.failing()?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let delay = self.get_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay.into())).await;
        }
        self.failing()?;
        self.inner.get_opts(location, options).await
    }

    /// Deletes eagerly, before the stream is returned: the stream must not borrow the store, and the tests'
    /// location streams are always ready, so blocking on them here never waits.
    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let items: Vec<_> = futures::executor::block_on(locations.collect());
        let mut results = Vec::new();
        for item in items {
            self.deletes.fetch_add(1, Ordering::SeqCst);
            results.push(self.failing().and(item));
        }
        let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).map(Ok).collect();
        let deleted = futures::executor::block_on(
            self.inner.delete_stream(futures::stream::iter(ok).boxed()).collect::<Vec<_>>(),
        );
        drop(deleted);
        futures::stream::iter(results).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        match self.failing() {
            Ok(()) => self.inner.list(prefix),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A metrics recorder that keeps every counter and the number of samples of every histogram, by name and
/// labels (`name{label=value,...}`), for tests that run under [`Recorded::run`].
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    values: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>,
}

#[derive(Debug)]
struct Slot {
    name: String,
    values: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>,
}

impl Slot {
    fn add(&self, n: u64) {
        *self.values.lock().unwrap().entry(self.name.clone()).or_default() += n;
    }
}

impl metrics::CounterFn for Slot {
    fn increment(&self, value: u64) {
        self.add(value);
    }
    fn absolute(&self, value: u64) {
        self.values.lock().unwrap().insert(self.name.clone(), value);
    }
}

impl metrics::HistogramFn for Slot {
    fn record(&self, _value: f64) {
        self.add(1);
    }
}

impl Recorded {
    /// Runs `work` on a runtime of this thread, with this recorder receiving its metrics.
    pub(crate) fn run<F: Future>(&self, work: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        metrics::with_local_recorder(self, || runtime.block_on(work))
    }

    /// The value of a counter, or the sample count of a histogram (0 if never touched).
    pub(crate) fn get(&self, name: &str) -> u64 {
        self.values.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    fn slot(&self, key: &metrics::Key) -> std::sync::Arc<Slot> {
        let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        std::sync::Arc::new(Slot { name, values: self.values.clone() })
    }
}

impl metrics::Recorder for Recorded {
    fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.slot(key))
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
        metrics::Histogram::from_arc(self.slot(key))
    }
}
