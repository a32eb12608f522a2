//! Named, expiring leases that let one agent at a time run a cluster-wide job.

use crate::Result;
use async_trait::async_trait;

/// What leases own: one holder and expiry per lease name.
///
/// Invariants: taking or renewing a lease is atomic: at any time at most one holder has an unexpired lease
/// of a name.
///
/// Used by: the agent's maintenance scheduler (retention, compaction, garbage collection).
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`; false if another holder has it.
    async fn acquire_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool>;

    /// [`Leases::acquire_lease`] for each of `names` at once, in one atomic statement: returns the names
    /// `holder` now has. Used to renew many leases (coordinator shards) in one round trip.
    async fn acquire_leases(&self, names: &[String], holder: &str, now_ms: i64, ttl_ms: i64) -> Result<Vec<String>>;
}
