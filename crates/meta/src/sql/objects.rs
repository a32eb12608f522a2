//! Objects and leases on SQL: the dead marks the garbage collector reads and clears, and the leases that let
//! one agent at a time run a cluster-wide job.
//!
//! Objects are never deleted here. An object is marked dead (with the time) in the same transaction that
//! removes the last index row pointing into it; the garbage collector deletes it from the bucket only after a
//! grace period, so reads that looked the row up just before still find their bytes.

use super::{Backend, SqlMetastore};
use crate::Result;
use sqlx::Row;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Marks each of `keys` dead at `now_ms` if no index row references it any more. On PostgreSQL the object
/// row is locked first, so of two transactions removing the last rows of one object (say in two partitions)
/// the later one sees the earlier one's removal and marks it; keys are locked in sorted order.
pub(super) async fn mark_dead(
    tx: &mut Tx<'_>,
    backend: Backend,
    keys: impl IntoIterator<Item = &String>,
    now_ms: i64,
) -> Result<()> {
    let mut keys: Vec<&String> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(super::bulk::CHUNK) {
        if backend == Backend::Postgres {
            let list = super::bulk::placeholders(1, chunk.len());
            let lock =
                format!("SELECT object_key FROM objects WHERE object_key IN ({list}) ORDER BY object_key FOR UPDATE");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(lock.as_str()));
            for key in chunk {
                q = q.bind(*key);
            }
            q.fetch_all(&mut **tx).await?;
        }
        let list = super::bulk::placeholders(2, chunk.len());
        let sql = format!(
            "UPDATE objects SET dead_ms = $1 WHERE object_key IN ({list}) AND dead_ms IS NULL \
             AND NOT EXISTS (SELECT 1 FROM batches WHERE batches.object_key = objects.object_key)"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(now_ms);
        for key in chunk {
            q = q.bind(*key);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl SqlMetastore {
    async fn dead_objects_impl(&self, dead_before_ms: i64, limit: u32) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT object_key FROM objects WHERE dead_ms IS NOT NULL AND dead_ms < $1 ORDER BY dead_ms LIMIT $2",
        )
        .bind(dead_before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("object_key")?)).collect()
    }

    /// One statement per [`super::bulk::CHUNK`] keys: one per key held SQLite's writer for up to 100 ms per
    /// pass of the collector in a steady produce, and every produce commit waited behind it (BENCHMARKS.md).
    async fn forget_objects_impl(&self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        for chunk in keys.chunks(super::bulk::CHUNK) {
            // Only dead objects are forgotten: a live one must never lose its record.
            let list = super::bulk::placeholders(1, chunk.len());
            let sql = format!("DELETE FROM objects WHERE object_key IN ({list}) AND dead_ms IS NOT NULL");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for key in chunk {
                q = q.bind(key);
            }
            q.execute(&mut *tx).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The keys of `keys` with no object row, in their order.
    async fn unknown_objects_impl(&self, keys: &[String]) -> Result<Vec<String>> {
        let mut known = std::collections::HashSet::new();
        for chunk in keys.chunks(super::bulk::CHUNK) {
            let list = super::bulk::placeholders(1, chunk.len());
            let sql = format!("SELECT object_key FROM objects WHERE object_key IN ({list})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for key in chunk {
                q = q.bind(key);
            }
            for row in q.fetch_all(&self.pool).await? {
                known.insert(row.try_get::<String, _>("object_key")?);
            }
        }
        Ok(keys.iter().filter(|k| !known.contains(*k)).cloned().collect())
    }

    async fn fence_orphans_impl(&self, keys: &[String], keep_until_ms: i64) -> Result<Vec<String>> {
        let mut unique: Vec<&String> = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::new();
        unique.extend(keys.iter().filter(|k| seen.insert(k.as_str())));
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let mut fenced = std::collections::HashSet::new();
        for chunk in unique.chunks(super::bulk::CHUNK) {
            // Waits for (and loses to) a commit of the same key in flight; wins against a later one. A row
            // comes back for each key fenced here, none for a key already recorded.
            let rows: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, 0, $1, $1)", i + 2)).collect();
            let rows = rows.join(", ");
            let sql = format!(
                "INSERT INTO objects (object_key, size_bytes, created_ms, dead_ms) VALUES {rows} \
                 ON CONFLICT (object_key) DO NOTHING RETURNING object_key"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(keep_until_ms);
            for key in chunk {
                q = q.bind(*key);
            }
            for row in q.fetch_all(&mut *tx).await? {
                fenced.insert(row.try_get::<String, _>("object_key")?);
            }
        }
        self.commit(tx).await?;
        Ok(unique.into_iter().filter(|k| fenced.contains(*k)).cloned().collect())
    }

    async fn acquire_lease_impl(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
        let _w = self.writer().await?;
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
             SET holder = excluded.holder, expires_ms = excluded.expires_ms \
             WHERE leases.holder = excluded.holder OR leases.expires_ms < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        self.files.check().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn acquire_leases_impl(
        &self,
        names: &[String],
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let _w = self.writer().await?;
        // One multi-row upsert: a row comes back for each lease taken or renewed, none for one held by another.
        let mut sql = String::from("INSERT INTO leases (name, holder, expires_ms) VALUES ");
        for i in 0..names.len() {
            let sep = if i == 0 { "" } else { ", " };
            sql.push_str(&format!("{sep}(${}, $1, $2)", i + 4));
        }
        sql.push_str(
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
             WHERE leases.holder = excluded.holder OR leases.expires_ms < $3 RETURNING name",
        );
        // Only placeholders are formatted into the text; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(holder)
            .bind(now_ms.saturating_add(ttl_ms))
            .bind(now_ms);
        for name in names {
            query = query.bind(name);
        }
        let rows = query.fetch_all(&self.pool).await?;
        self.files.check().await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("name")?)).collect()
    }
}

#[async_trait::async_trait]
impl crate::Objects for SqlMetastore {
    async fn dead_objects(&self, dead_before_ms: i64, limit: u32) -> Result<Vec<String>> {
        self.dead_objects_impl(dead_before_ms, limit).await
    }

    async fn forget_objects(&self, keys: &[String]) -> Result<()> {
        super::timed("forget_objects", self.forget_objects_impl(keys)).await
    }

    async fn unknown_objects(&self, keys: &[String]) -> Result<Vec<String>> {
        self.unknown_objects_impl(keys).await
    }

    async fn fence_orphans(&self, keys: &[String], keep_until_ms: i64) -> Result<Vec<String>> {
        super::timed("fence_orphans", self.fence_orphans_impl(keys, keep_until_ms)).await
    }
}

#[async_trait::async_trait]
impl crate::Leases for SqlMetastore {
    async fn acquire_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
        super::timed("acquire_lease", self.acquire_lease_impl(name, holder, now_ms, ttl_ms)).await
    }

    async fn acquire_leases(&self, names: &[String], holder: &str, now_ms: i64, ttl_ms: i64) -> Result<Vec<String>> {
        super::timed("acquire_leases", self.acquire_leases_impl(names, holder, now_ms, ttl_ms)).await
    }
}
