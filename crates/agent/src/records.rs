//! Reading stored batches back: index lookup, object reads through the cache, and the base-offset patch.

use crate::Agent;
use crate::error::{AgentError, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;
use uuid::Uuid;
use weft_meta::BatchRef;
use weft_protocol::batch::patch_batch;

/// Most index rows read for one partition in one fetch.
const MAX_BATCHES_PER_READ: u32 = 2048;

/// Leader epoch Weft reports everywhere (there is no leader election to bump it).
pub const LEADER_EPOCH: i32 = 0;

impl Agent {
    /// Reads one stored batch and gives it its assigned base offset.
    async fn load_batch(&self, b: &BatchRef) -> Result<BytesMut> {
        let range = b.byte_start..b.byte_start + u64::from(b.byte_len);
        let data = self.storage.get_range(&b.object_key, range, true).await?;
        if data.len() != b.byte_len as usize {
            return Err(AgentError::BadStoredBatch {
                offset: b.base_offset,
                reason: format!("read {} bytes of {} from {}", data.len(), b.byte_len, b.object_key),
            });
        }
        let mut buf = BytesMut::from(&data[..]);
        patch_batch(&mut buf, b.base_offset, LEADER_EPOCH);
        Ok(buf)
    }

    /// Batches covering `from_offset..end_offset`, up to `max_bytes`. With `at_least_one`, the first batch
    /// is returned even when it alone exceeds `max_bytes`, so a record larger than the limit is still served
    /// (as Kafka does for the first partition of a fetch); otherwise such a batch is left for a later fetch.
    pub async fn read_records(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        end_offset: i64,
        max_bytes: u64,
        at_least_one: bool,
    ) -> Result<Bytes> {
        let refs = self.meta.read_index(topic_id, partition, from_offset, max_bytes, MAX_BATCHES_PER_READ).await?;
        let mut out = BytesMut::new();
        for (i, b) in refs.iter().filter(|b| b.base_offset < end_offset).enumerate() {
            if i == 0 && !at_least_one && u64::from(b.byte_len) > max_bytes {
                break;
            }
            out.extend_from_slice(&self.load_batch(b).await?);
        }
        Ok(out.freeze())
    }

    /// The offset and timestamp of the first record in `b` whose timestamp is at least `timestamp`.
    pub async fn find_in_batch(&self, b: &BatchRef, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let mut data = self.load_batch(b).await?.freeze();
        let set = RecordBatchDecoder::decode(&mut data)
            .map_err(|e| AgentError::BadStoredBatch { offset: b.base_offset, reason: e.to_string() })?;
        Ok(set.records.iter().find(|r| r.timestamp >= timestamp).map(|r| (r.offset, r.timestamp)))
    }
}
