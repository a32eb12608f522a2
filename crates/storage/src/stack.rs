//! The one place the layers are put together. From the bottom:
//!
//! 1. the base store named by the URL ([`crate::base`]);
//! 2. durability, for a local directory: an acknowledged write is fsync'd ([`crate::durable`]);
//! 3. retries with backoff and a timeout per attempt ([`crate::retry`]);
//! 4. metrics, one request per caller's request ([`crate::metered`]);
//! 5. fault injection, only when a test gives a plan (`faults`, compiled for tests and the `faults` feature);
//! 6. the read cache with single-flight reads ([`crate::read`]).
//!
//! Why this order: durability sits right on the files it fsyncs, so every attempt the retry layer makes is
//! a whole durable write and an acknowledgement from below always means "on disk". Retries sit below the
//! metrics so that a request is counted once, with the latency the caller felt, and an error counted is an
//! error the caller saw. Injected faults sit above both: they stand for a crash, which is never retried,
//! and a failure "before" the operation records no request because none reached the store. The cache is
//! on top so that a hit costs no request, no retry budget and no fault step, and so that single-flight
//! merges concurrent misses before they fan out into requests.

use crate::base::Base;
use crate::cache::SegmentCache;
use crate::durable::Durable;
#[cfg(any(test, feature = "faults"))]
use crate::faults::{FaultLayer, Faults};
use crate::metered::Metered;
use crate::read::ReadCache;
use crate::retry::{RetryOptions, Retrying};
use object_store::ObjectStore;
use std::sync::Arc;

/// How the stack behaves; the defaults suit production and tests alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pub retry: RetryOptions,
}

/// Puts the layers together over `base`, with the read cache `segments` on top.
pub(crate) fn build(base: &Base, options: StoreOptions, segments: Arc<SegmentCache>) -> ReadCache {
    ReadCache::new(layers(base, options), segments)
}

/// [`build`] with the fault layer between the read cache and the rest (tests and the `faults` feature only).
#[cfg(any(test, feature = "faults"))]
pub(crate) fn build_with_faults(
    base: &Base,
    options: StoreOptions,
    faults: Arc<Faults>,
    segments: Arc<SegmentCache>,
) -> ReadCache {
    ReadCache::new(Arc::new(FaultLayer::new(layers(base, options), faults)), segments)
}

/// Durability (local directories), retries, metrics: the layers every store gets, bottom up.
fn layers(base: &Base, options: StoreOptions) -> Arc<dyn ObjectStore> {
    let mut store = base.store.clone();
    if let Some(root) = &base.local_root {
        store = Arc::new(Durable::new(store, root.clone()));
    }
    store = Arc::new(Retrying::new(store, options.retry));
    Arc::new(Metered::new(store))
}
