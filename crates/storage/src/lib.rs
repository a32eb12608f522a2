//! Object storage for Weft: one wrapper over the `object_store` crate that adds durability for the local
//! directory, a bounded read cache, and the single module ([`keys`]) that owns every object key.

pub mod cache;
pub mod faults;
pub mod keys;
mod store;

pub use cache::SegmentCache;
pub use faults::{FaultMode, Faults};
pub use store::{Listed, ObjectStorage, StorageError};
