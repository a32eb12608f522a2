//! Whether the store answers and takes durable writes.

use crate::Result;
use async_trait::async_trait;

/// What health owns: nothing but a probe row; it tells readiness whether the store works.
///
/// Invariants: [`Health::write_probe`] is a real durable write transaction, so it fails exactly when other
/// writes would.
///
/// Used by: the agent's HTTP liveness (`ping`) and readiness (`write_probe`) probes.
#[async_trait]
pub trait Health: Send + Sync + 'static {
    /// A small durable write transaction: fails while the store cannot take writes (read-only, full, or its
    /// files were removed under the running process). Readiness probes call it periodically.
    async fn write_probe(&self, now_ms: i64) -> Result<()>;

    /// Checks the store answers.
    async fn ping(&self) -> Result<()>;
}
