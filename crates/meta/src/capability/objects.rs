//! Objects in the bucket as the metastore knows them: which are referenced, which are dead and since when.

use crate::Result;
use async_trait::async_trait;

/// What objects own: the record of every committed object and, for those no index row references any
/// more, the time they died.
///
/// Invariants: an object is marked dead in the same transaction that removes the last index row pointing
/// into it, and never deleted by the store; the garbage collector deletes it from the bucket after a grace
/// period and only then calls [`Objects::forget_objects`].
///
/// An upload whose commit never happened is an orphan; the collector fences it ([`Objects::fence_orphans`])
/// before deleting it, so its commit can never land afterwards.
///
/// Used by: the garbage collector (crate `weft-maintenance`).
#[async_trait]
pub trait Objects: Send + Sync + 'static {
    /// Objects no index row references, dead since before `dead_before_ms`, oldest first.
    async fn dead_objects(&self, dead_before_ms: i64, limit: u32) -> Result<Vec<String>>;

    /// Forgets objects after they were deleted from the object store.
    async fn forget_objects(&self, keys: &[String]) -> Result<()>;

    /// The keys among `keys` that the metastore has never recorded (uploads whose commit never happened).
    async fn unknown_objects(&self, keys: &[String]) -> Result<Vec<String>>;

    /// Fences the keys among `keys` that the metastore has never recorded: records each, atomically with the
    /// check, as a dead object with the dead time `keep_until_ms`, and returns them. A segment commit of a
    /// fenced key fails ([`crate::MetaError::ObjectFenced`]), so an upload that arrives late can never be
    /// committed after the collector decided to delete it; a key whose commit is in flight is either
    /// committed first (and not returned) or fenced first (and its commit fails). The returned keys may be
    /// deleted from the bucket at once; the fence holds until the dead-object pass forgets them, a grace
    /// period after `keep_until_ms`.
    async fn fence_orphans(&self, keys: &[String], keep_until_ms: i64) -> Result<Vec<String>>;
}
