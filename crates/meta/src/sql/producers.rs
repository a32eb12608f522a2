//! Producer ids and idempotence state on SQL. The state itself is written by the segment commit
//! (`append.rs`); here it is allocated, described and expired.

use super::SqlMetastore;
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
        self.producers_impl(topic_id, partition).await
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
