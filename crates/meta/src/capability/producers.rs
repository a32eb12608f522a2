//! Producer ids and the idempotence state the store keeps per producer and partition (sequence numbers are
//! checked inside [`crate::Log::commit_segment`], by the rules in `producer_state.rs`).

use crate::{ProducerInfo, Result};
use async_trait::async_trait;
use uuid::Uuid;

/// What producers own: the producer id counter and the per-partition idempotence state.
///
/// Invariants: an allocated id is never handed out again, even across restarts; producer state is only
/// written by [`crate::Log::commit_segment`], in the same transaction as the batches it describes.
///
/// Used by: InitProducerId (idempotent producers) and the transaction coordinator (ids), DescribeProducers,
/// and producer-state expiry at the agent.
#[async_trait]
pub trait Producers: Send + Sync + 'static {
    /// A new, never used producer id (InitProducerId).
    async fn allocate_producer_id(&self) -> Result<i64>;

    /// Producers with state in a partition (DescribeProducers).
    async fn producers(&self, topic_id: Uuid, partition: i32) -> Result<Vec<ProducerInfo>>;

    /// Forgets idempotent-producer state not updated since `older_than_ms` (producer.id.expiration.ms).
    /// Returns how many (producer, partition) entries were removed.
    async fn expire_producers(&self, older_than_ms: i64) -> Result<u64>;
}
