//! Client quotas (Kafka's KIP-13/55/124 quota configs): a numeric value per quota key for each quota entity.

use crate::{QuotaEntity, QuotaRecord, Result};
use async_trait::async_trait;

/// What quotas own: for each quota entity (a user, a client id, or both; each a name or the default), a value
/// per quota key (`producer_byte_rate`, `consumer_byte_rate`, `request_percentage`, ...).
///
/// Invariants: one call of [`Quotas::alter_client_quotas`] changes one entity atomically (every key or none);
/// removing a key that is not set is not an error. Keys and values are not checked here (the agent checks
/// them as Kafka does); the store keeps what it is given.
///
/// Used by: the agent's quota manager (reads every quota to refresh its view) and the
/// DescribeClientQuotas / AlterClientQuotas handlers.
#[async_trait]
pub trait Quotas: Send + Sync + 'static {
    /// Every stored quota, ordered by entity and key.
    async fn client_quotas(&self) -> Result<Vec<QuotaRecord>>;

    /// Sets (`Some(value)`) or removes (`None`) each key of `entity`, in one transaction.
    async fn alter_client_quotas(&self, entity: &QuotaEntity, changes: &[(String, Option<f64>)]) -> Result<()>;
}
