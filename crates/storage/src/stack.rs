//! The one place the layers are put together. From the bottom:
//!
//! 1. the base store named by the URL ([`crate::base`]);
//! 2. durability, for a local directory: an acknowledged write is fsync'd ([`crate::durable`]);
//! 3. a latency and failure model of a remote store, only when one is chosen ([`crate::modelled`]);
//! 4. retries with backoff and a timeout per attempt ([`crate::retry`]);
//! 5. metrics, one request per caller's request ([`crate::metered`]);
//! 6. envelope encryption at rest, only when keys are given ([`crate::sealed`]);
//! 7. fault injection, only when a test gives a plan (`faults`, compiled for tests and the `faults` feature);
//! 8. the read cache with single-flight reads ([`crate::read`]).
//!
//! Why this order: durability sits right on the files it fsyncs, so every attempt the retry layer makes is
//! a whole durable write and an acknowledgement from below always means "on disk". The model stands for
//! the remote store itself, so it sits right above the store: its 503s and timeouts reach the retry layer
//! as a real store's would, and the metrics see the latency a caller on S3 would. Retries sit below the
//! metrics so that a request is counted once, with the latency the caller felt, and an error counted is an
//! error the caller saw. Encryption sits above the metrics (they count the sealed bytes that cross the
//! wire; a retry resends the same sealed bytes) and below the cache (which holds plaintext, so a hit costs
//! no decryption). Injected faults sit above both: they stand for a crash, which is never retried,
//! and a failure "before" the operation records no request because none reached the store. The cache is
//! on top so that a hit costs no request, no retry budget and no fault step, and so that single-flight
//! merges concurrent misses before they fan out into requests.

use crate::base::Base;
use crate::cache::SegmentCache;
use crate::durable::Durable;
#[cfg(any(test, feature = "faults"))]
use crate::faults::{FaultLayer, Faults};
use crate::metered::Metered;
use crate::model::{ModelOptions, Sampler};
use crate::modelled::{Modelled, TokioSleep};
use crate::read::ReadCache;
use crate::retry::{RetryOptions, Retrying};
use crate::sealed::{Encryption, Sealed};
use crate::usage::Usage;
use object_store::ObjectStore;
use std::sync::Arc;

/// How the stack behaves; the defaults suit production and tests alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pub retry: RetryOptions,
    /// A latency and failure model of a remote store (tests and benchmarks); `None` in production.
    pub model: Option<ModelOptions>,
    /// Envelope encryption of every object written; `None` stores objects as they are.
    pub encryption: Option<Encryption>,
}

/// Puts the layers together over `base`, with the read cache `segments` on top; requests are tallied in
/// `usage`.
pub(crate) fn build(base: &Base, options: StoreOptions, segments: Arc<SegmentCache>, usage: Arc<Usage>) -> ReadCache {
    ReadCache::new(layers(base, options, usage), segments)
}

/// [`build`] with the fault layer between the read cache and the rest (tests and the `faults` feature only).
#[cfg(any(test, feature = "faults"))]
pub(crate) fn build_with_faults(
    base: &Base,
    options: StoreOptions,
    faults: Arc<Faults>,
    segments: Arc<SegmentCache>,
    usage: Arc<Usage>,
) -> ReadCache {
    ReadCache::new(Arc::new(FaultLayer::new(layers(base, options, usage), faults)), segments)
}

/// Durability (local directories), the model (when chosen), retries, metrics, encryption (when keys are
/// given), bottom up.
fn layers(base: &Base, options: StoreOptions, usage: Arc<Usage>) -> Arc<dyn ObjectStore> {
    let mut store = base.store.clone();
    if let Some(root) = &base.local_root {
        store = Arc::new(Durable::new(store, root.clone()));
    }
    if let Some(model) = options.model {
        let sampler = Arc::new(Sampler::new(model.model.profile(), model.seed));
        store = Arc::new(Modelled::new(store, sampler, Arc::new(TokioSleep)));
    }
    store = Arc::new(Retrying::new(store, options.retry));
    store = Arc::new(Metered::new(store, usage));
    // Present even without keys: it then passes writes through and refuses sealed objects read whole.
    Arc::new(Sealed::new(store, options.encryption))
}
