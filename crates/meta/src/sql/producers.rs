//! Producer ids and idempotence state on SQL. The state itself is written by the segment commit
//! (`append.rs`); here it is allocated, described and expired.

use super::{SqlMetastore, to_i16, to_i32};
use crate::{ProducerInfo, Producers, Result};
use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

#[async_trait]
impl Producers for SqlMetastore {
    async fn allocate_producer_id(&self) -> Result<i64> {
        let _w = self.writer().await?;
        let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'producer_id' RETURNING value")
            .fetch_one(&self.pool)
            .await?;
        self.files.check().await?;
        Ok(row.try_get("value")?)
    }

    async fn producers(&self, topic_id: Uuid, partition: i32) -> Result<Vec<ProducerInfo>> {
        let rows = sqlx::query(
            "SELECT s.producer_id, s.epoch, s.last_sequence, s.updated_ms, COALESCE(o.first_offset, -1) AS txn_start \
             FROM producer_state s LEFT JOIN open_txns o ON o.topic_id = s.topic_id \
             AND o.partition_id = s.partition_id AND o.producer_id = s.producer_id \
             WHERE s.topic_id = $1 AND s.partition_id = $2 ORDER BY s.producer_id",
        )
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProducerInfo {
                    producer_id: r.try_get("producer_id")?,
                    epoch: to_i16(r.try_get("epoch")?, "producer epoch")?,
                    last_sequence: to_i32(r.try_get("last_sequence")?, "sequence")?,
                    last_update_ms: r.try_get("updated_ms")?,
                    txn_start_offset: r.try_get("txn_start")?,
                })
            })
            .collect()
    }

    async fn expire_producers(&self, older_than_ms: i64) -> Result<u64> {
        let _w = self.writer().await?;
        let done = sqlx::query("DELETE FROM producer_state WHERE updated_ms < $1")
            .bind(older_than_ms)
            .execute(&self.pool)
            .await?;
        self.files.check().await?;
        Ok(done.rows_affected())
    }
}
