//! Log maintenance on SQL: log start moves (retention, DeleteRecords), size retention, per-partition storage
//! figures and index rewrites (log compaction, object merging). Objects these leave unreferenced are marked
//! dead in the same transaction (see `objects.rs`).

use super::{Backend, SqlMetastore, bounds_from_row, partition_bounds_query, to_i32};
use crate::{BatchRewrite, PartitionOffsets, PartitionStorage, Result};
use sqlx::Row;
use std::collections::BTreeSet;
use uuid::Uuid;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Distinct object keys of a partition's rows matching `filter` (a SQL condition on `last_offset < $3`).
async fn objects_below(tx: &mut Tx<'_>, topic_id: &str, partition: i64, below: i64) -> Result<BTreeSet<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT object_key FROM batches WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3",
    )
    .bind(topic_id)
    .bind(partition)
    .bind(below)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>("object_key")?)).collect()
}

/// Whether every `(base_offset, object_key)` of `replaced` is still an index row of the partition (a
/// rewrite applies only to the rows it read).
async fn rows_intact(tx: &mut Tx<'_>, topic_id: &str, partition: i64, replaced: &[(i64, String)]) -> Result<bool> {
    for chunk in replaced.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "SELECT base_offset, object_key FROM batches WHERE topic_id = $1 AND partition_id = $2 \
             AND base_offset IN ({})",
            super::bulk::placeholders(3, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(topic_id).bind(partition);
        for (base, _) in chunk {
            q = q.bind(*base);
        }
        let rows = q.fetch_all(&mut **tx).await?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            found.insert(r.try_get::<i64, _>("base_offset")?, r.try_get::<String, _>("object_key")?);
        }
        if chunk.iter().any(|(base, key)| found.get(base) != Some(key)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether an object is recorded and not dead (a continued rewrite adds rows only into such an object).
async fn object_live(tx: &mut Tx<'_>, key: &str) -> Result<bool> {
    let row =
        sqlx::query("SELECT dead_ms FROM objects WHERE object_key = $1").bind(key).fetch_optional(&mut **tx).await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<i64>, _>("dead_ms")?.is_none(),
        None => false,
    })
}

/// Reads a partition's bounds, row-locking it until the transaction ends (the lock commits take first).
fn lock_partition(backend: Backend) -> String {
    format!(
        "SELECT log_start, next_offset FROM partitions WHERE topic_id = $1 AND partition_id = $2{}",
        backend.for_update()
    )
}

impl SqlMetastore {
    pub(super) async fn advance_log_start_impl(
        &self,
        topic_id: Uuid,
        partition: i32,
        offset: i64,
        now_ms: i64,
    ) -> Result<Option<PartitionOffsets>> {
        let _w = self.writer().await?;
        let (id, p) = (topic_id.to_string(), i64::from(partition));
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(lock_partition(self.backend).as_str()))
            .bind(&id)
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let (log_start, next): (i64, i64) = (row.try_get("log_start")?, row.try_get("next_offset")?);
        let target = offset.clamp(log_start, next);
        if target > log_start {
            let keys = objects_below(&mut tx, &id, p, target).await?;
            for sql in [
                "DELETE FROM batches WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3",
                "DELETE FROM aborted_txns WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3",
                "UPDATE partitions SET log_start = $3, \
                 clean_offset = CASE WHEN clean_offset < $3 THEN $3 ELSE clean_offset END \
                 WHERE topic_id = $1 AND partition_id = $2",
            ] {
                sqlx::query(sql).bind(&id).bind(p).bind(target).execute(&mut *tx).await?;
            }
            super::objects::mark_dead(&mut tx, self.backend, &keys, now_ms).await?;
        }
        let row = sqlx::query(partition_bounds_query!(" WHERE p.topic_id = $1 AND p.partition_id = $2"))
            .bind(&id)
            .bind(p)
            .fetch_one(&mut *tx)
            .await?;
        let bounds = bounds_from_row(&row)?;
        if target > log_start {
            // Other agents' watches learn the new log start too (they serve ListOffsets and Fetch bounds).
            super::changes::notify(&mut tx, self.backend, &[(topic_id, partition, bounds)]).await?;
        }
        self.commit(tx).await?;
        Ok(Some(bounds))
    }

    pub(super) async fn retention_offset_by_size_impl(
        &self,
        topic_id: Uuid,
        partition: i32,
        retained_bytes: u64,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT base_offset FROM (SELECT base_offset, SUM(byte_len) OVER (ORDER BY base_offset DESC) AS tail \
             FROM batches WHERE topic_id = $1 AND partition_id = $2) t WHERE tail >= $3 \
             ORDER BY base_offset DESC LIMIT 1",
        )
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .bind(i64::try_from(retained_bytes).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<i64, _>("base_offset")).transpose().map_err(Into::into)
    }

    pub(super) async fn partition_storage_impl(&self, topic_id: Uuid) -> Result<Vec<(i32, PartitionStorage)>> {
        let rows = sqlx::query(
            "SELECT p.partition_id, p.clean_offset, COALESCE(SUM(b.byte_len), 0) AS bytes, COUNT(b.base_offset) \
             AS batches, COUNT(DISTINCT b.object_key) AS objects, COALESCE(SUM(CASE WHEN b.base_offset >= \
             p.clean_offset THEN b.byte_len ELSE 0 END), 0) AS dirty FROM partitions p LEFT JOIN batches b \
             ON b.topic_id = p.topic_id AND b.partition_id = p.partition_id WHERE p.topic_id = $1 \
             GROUP BY p.partition_id, p.clean_offset ORDER BY p.partition_id",
        )
        .bind(topic_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let count = |r: &sqlx::any::AnyRow, c: &str| -> Result<u64> { Ok(r.try_get::<i64, _>(c)?.max(0) as u64) };
        rows.iter()
            .map(|r| {
                Ok((
                    to_i32(r.try_get("partition_id")?, "partition")?,
                    PartitionStorage {
                        bytes: count(r, "bytes")?,
                        batches: count(r, "batches")?,
                        objects: count(r, "objects")?,
                        clean_offset: r.try_get("clean_offset")?,
                        dirty_bytes: count(r, "dirty")?,
                    },
                ))
            })
            .collect()
    }

    pub(super) async fn replace_batches_impl(&self, w: BatchRewrite) -> Result<bool> {
        let started = std::time::Instant::now();
        let _guard = self.writer().await?;
        let locked = started.elapsed();
        let (id, p) = (w.topic_id.to_string(), i64::from(w.partition));
        let mut tx = self.begin_write().await?;
        // Whether the rows are intact is decided, and acted on, under the partition's row lock.
        sqlx::query(sqlx::AssertSqlSafe(lock_partition(self.backend).as_str()))
            .bind(&id)
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?;
        let intact = rows_intact(&mut tx, &id, p, &w.replaced).await?;
        let intact = match &w.object {
            Some(o) if w.object_recorded => intact && object_live(&mut tx, &o.key).await?,
            Some(o) => {
                // A rewrite that lost a race leaves its object dead at once, for the garbage collector.
                sqlx::query(
                    "INSERT INTO objects (object_key, size_bytes, created_ms, dead_ms) VALUES ($1, $2, $3, $4)",
                )
                .bind(&o.key)
                .bind(o.size as i64)
                .bind(o.created_ms)
                .bind(if intact { None } else { Some(w.now_ms) })
                .execute(&mut *tx)
                .await?;
                intact
            }
            None => intact,
        };
        if !intact {
            self.commit(tx).await?;
            return Ok(false);
        }
        let bases: Vec<i64> = w.replaced.iter().map(|(base, _)| *base).collect();
        for chunk in bases.chunks(super::bulk::CHUNK) {
            let sql = format!(
                "DELETE FROM batches WHERE topic_id = $1 AND partition_id = $2 AND base_offset IN ({})",
                super::bulk::placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(&id).bind(p);
            for base in chunk {
                q = q.bind(*base);
            }
            q.execute(&mut *tx).await?;
        }
        if let Some(o) = &w.object {
            let rows: Vec<_> = w.added.iter().map(|b| super::append::index::Row::rewritten(&id, p, b)).collect();
            super::append::index::insert(&mut tx, &o.key, &rows).await?;
        }
        for marker in &w.removed_markers {
            sqlx::query("DELETE FROM aborted_txns WHERE topic_id = $1 AND partition_id = $2 AND last_offset = $3")
                .bind(&id)
                .bind(p)
                .bind(*marker)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(clean) = w.clean_offset {
            sqlx::query(
                "UPDATE partitions SET clean_offset = $3 WHERE topic_id = $1 AND partition_id = $2 AND clean_offset < $3",
            )
            .bind(&id)
            .bind(p)
            .bind(clean)
            .execute(&mut *tx)
            .await?;
        }
        let mut keys: BTreeSet<String> = w.replaced.iter().map(|(_, k)| k.clone()).collect();
        keys.extend(w.object.iter().map(|o| o.key.clone()));
        super::objects::mark_dead(&mut tx, self.backend, &keys, w.now_ms).await?;
        let written = started.elapsed();
        self.commit(tx).await?;
        tracing::debug!(
            replaced = w.replaced.len(),
            added = w.added.len(),
            writer_wait_ms = locked.as_secs_f64() * 1e3,
            statements_ms = (written - locked).as_secs_f64() * 1e3,
            commit_ms = (started.elapsed() - written).as_secs_f64() * 1e3,
            "index rewrite transaction"
        );
        Ok(true)
    }
}

#[async_trait::async_trait]
impl crate::LogMaintenance for SqlMetastore {
    async fn retention_offset_by_size(
        &self,
        topic_id: Uuid,
        partition: i32,
        retained_bytes: u64,
    ) -> Result<Option<i64>> {
        self.retention_offset_by_size_impl(topic_id, partition, retained_bytes).await
    }

    async fn partition_storage(&self, topic_id: Uuid) -> Result<Vec<(i32, PartitionStorage)>> {
        self.partition_storage_impl(topic_id).await
    }

    async fn replace_batches(&self, rewrite: BatchRewrite) -> Result<bool> {
        super::timed("replace_batches", self.replace_batches_impl(rewrite)).await
    }
}
