//! The log on SQL: segment commits (see `append.rs`), partition bounds, index and time lookups, aborted
//! ranges and log start moves.

use super::{
    SqlMetastore, batch_columns, batch_from_row, bounds_from_row, parse_uuid, partition_bounds_query, timed, to_i32,
};
use crate::{AbortedTxn, BatchRef, Log, PartitionOffsets, Result, SegmentCommit, SegmentsCommitted};
use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

#[async_trait]
impl Log for SqlMetastore {
    async fn commit_segments(&self, commits: Vec<SegmentCommit>) -> Result<SegmentsCommitted> {
        // One op name for one segment or a group: both are one commit transaction (dashboards chart it).
        timed("commit_segment", self.commit_segments_impl(commits)).await
    }

    async fn partition_offsets(&self, topic_id: Uuid, partition: i32) -> Result<Option<PartitionOffsets>> {
        let row = sqlx::query(partition_bounds_query!(" WHERE p.topic_id = $1 AND p.partition_id = $2"))
            .bind(topic_id.to_string())
            .bind(i64::from(partition))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(bounds_from_row).transpose()
    }

    async fn all_partition_offsets(&self) -> Result<Vec<(Uuid, i32, PartitionOffsets)>> {
        let rows = sqlx::query(partition_bounds_query!("")).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_uuid(&r.try_get::<String, _>("topic_id")?)?,
                    to_i32(r.try_get("partition_id")?, "partition")?,
                    bounds_from_row(r)?,
                ))
            })
            .collect()
    }

    async fn partition_sizes(&self) -> Result<Vec<(Uuid, i32, u64)>> {
        let rows = sqlx::query(
            "SELECT b.topic_id, b.partition_id, SUM(b.byte_len) AS bytes FROM batches b JOIN partitions p \
             ON p.topic_id = b.topic_id AND p.partition_id = b.partition_id WHERE b.last_offset >= p.log_start \
             GROUP BY b.topic_id, b.partition_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_uuid(&r.try_get::<String, _>("topic_id")?)?,
                    to_i32(r.try_get("partition_id")?, "partition")?,
                    r.try_get::<i64, _>("bytes")?.max(0) as u64,
                ))
            })
            .collect()
    }

    async fn read_index(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        max_bytes: u64,
        max_batches: u32,
    ) -> Result<Vec<BatchRef>> {
        // Rows are read in pages that grow fourfold, so a fetch of a few large batches reads a few rows, and
        // one of many small batches reads at most about four times the rows its bytes need (reading
        // `max_batches` rows every time cost a consumer of small batches 2,048 rows per partition per fetch).
        let max_batches = max_batches.max(1);
        let (mut out, mut bytes, mut from, mut page) = (Vec::new(), 0u64, from_offset, FIRST_INDEX_PAGE);
        loop {
            let limit = page.min(max_batches - out.len() as u32);
            let rows = self.index_page(topic_id, partition, from, limit).await?;
            let full = rows.len() as u32 == limit;
            for b in rows {
                if !out.is_empty() && bytes + u64::from(b.byte_len) > max_bytes {
                    return Ok(out);
                }
                bytes += u64::from(b.byte_len);
                from = b.last_offset + 1;
                out.push(b);
            }
            if !full || out.len() as u32 >= max_batches {
                return Ok(out);
            }
            page = page.saturating_mul(4);
        }
    }

    async fn first_batch_at_or_after_time(
        &self,
        topic_id: Uuid,
        partition: i32,
        timestamp: i64,
    ) -> Result<Option<BatchRef>> {
        let row = sqlx::query(concat!("SELECT ", batch_columns!(), " FROM batches WHERE topic_id = $1 AND partition_id = $2 AND max_timestamp >= $3 AND last_offset >= (SELECT log_start FROM partitions WHERE topic_id = $1 AND partition_id = $2) ORDER BY base_offset LIMIT 1"))
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .bind(timestamp)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    async fn max_timestamp_batch(&self, topic_id: Uuid, partition: i32) -> Result<Option<BatchRef>> {
        let row = sqlx::query(concat!("SELECT ", batch_columns!(), " FROM batches WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= (SELECT log_start FROM partitions WHERE topic_id = $1 AND partition_id = $2) ORDER BY max_timestamp DESC, base_offset ASC LIMIT 1"))
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    async fn aborted_transactions(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        to_offset: i64,
    ) -> Result<Vec<AbortedTxn>> {
        self.aborted_transactions_impl(topic_id, partition, from_offset, to_offset).await
    }

    async fn advance_log_start(
        &self,
        topic_id: Uuid,
        partition: i32,
        offset: i64,
        now_ms: i64,
    ) -> Result<Option<PartitionOffsets>> {
        timed("advance_log_start", self.advance_log_start_impl(topic_id, partition, offset, now_ms)).await
    }
}

/// Index rows read by the first page of [`crate::Log::read_index`].
const FIRST_INDEX_PAGE: u32 = 32;

impl SqlMetastore {
    /// Up to `limit` index rows of a partition from the batch holding `from_offset` on.
    async fn index_page(&self, topic_id: Uuid, partition: i32, from_offset: i64, limit: u32) -> Result<Vec<BatchRef>> {
        // The batch containing `from_offset` starts at the greatest base offset <= from_offset; bounding the
        // scan by it keeps the lookup on the primary key.
        let rows = sqlx::query(concat!("SELECT ", batch_columns!(), " FROM batches WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND base_offset >= COALESCE((SELECT MAX(base_offset) FROM batches WHERE topic_id = $1 AND partition_id = $2 AND base_offset <= $3), 0) ORDER BY base_offset LIMIT $4"))
            .bind(topic_id.to_string())
            .bind(i64::from(partition))
            .bind(from_offset)
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(batch_from_row).collect()
    }
}
