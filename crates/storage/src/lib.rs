//! Object storage for Weft, built as a stack of layers over the `object_store` crate, and the single
//! module ([`keys`]) that owns every object key.
//!
//! Callers use [`ObjectStorage`]. Underneath, each concern is its own layer implementing
//! `object_store::ObjectStore`, put together in one place ([`stack`]): the base store named by the URL
//! ([`base`]), durability for local directories ([`durable`]), a latency and failure model of a remote
//! store for tests and benchmarks ([`model`], [`modelled`]), retries ([`retry`]), metrics and usage
//! ([`metered`], [`usage`]), envelope encryption at rest ([`sealed`], [`envelope`], [`keyring`]), fault
//! injection for tests (`faults`, behind the `faults` feature), and the read cache with single-flight reads
//! ([`read`]), which may read a miss from the agent of its zone that owns the object ([`peers`]).

mod base;
mod body;
pub mod cache;
mod direct;
mod dirsync;
mod durable;
mod envelope;
mod error;
#[cfg(any(test, feature = "faults"))]
pub mod faults;
pub mod keyring;
pub mod keys;
mod local_read;
mod metered;
pub mod model;
mod modelled;
pub mod peers;
mod read;
mod retry;
mod s3;
mod sealed;
mod stack;
mod store;
#[cfg(test)]
mod testing;
pub mod usage;

pub use cache::SegmentCache;
pub use envelope::{SealError, open as open_sealed, seal as seal_object};
pub use error::StorageError;
#[cfg(any(test, feature = "faults"))]
pub use faults::{FaultMode, Faults};
pub use keyring::{Keyring, KeyringError};
pub use model::{ModelOptions, StoreModel};
pub use peers::{ObjectPeers, Peer, PeerFailure};
pub use retry::RetryOptions;
pub use sealed::{Encryption, Entropy, SystemEntropy};
pub use stack::StoreOptions;
pub use store::{ListChunks, Listed, ObjectStorage};
pub use usage::{KindUsage, Prices, RequestKind, UsageSnapshot};
