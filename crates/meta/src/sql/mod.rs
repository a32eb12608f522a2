//! The SQL metastore over sqlx's `Any` driver: the same queries run on SQLite and PostgreSQL.

mod append;
mod files;
mod groups;
mod maintenance;
mod txn;

use crate::schema::{SCHEMA_VERSION, SQLITE_MIGRATIONS};
use crate::{
    AbortedTxn, BatchRef, BatchRewrite, CommittedOffset, MetaError, Metastore, NewTopic, PartitionOffsets,
    PartitionStorage, ProducerInfo, Refused, Result, SegmentCommit, SegmentCommitted, Topic, TransactionMeta, TxnState,
    TxnUpdate,
};
use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A metastore on SQL.
pub struct SqlMetastore {
    pool: AnyPool,
    /// SQLite allows one writer; serialising writers here avoids lock-upgrade failures (SQLITE_BUSY) that
    /// deferred transactions would otherwise hit. SQLite is the single-process embedded default, so an
    /// in-process lock is the right scope for it.
    write_lock: tokio::sync::Mutex<()>,
    /// The SQLite files, checked before every write and before it is acknowledged.
    files: files::FileGuard,
}

fn sqlite_url(url: &str) -> Result<String> {
    let path = url.strip_prefix("sqlite://").ok_or_else(|| MetaError::BadUrl { url: url.into() })?;
    if !path.starts_with('/') {
        return Err(MetaError::BadUrl { url: url.into() });
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| MetaError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut out = format!("sqlite://{path}?mode=rwc");
    if !query.is_empty() {
        out.push('&');
        out.push_str(query);
    }
    Ok(out)
}

fn to_i32(v: i64, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| MetaError::Corrupt(format!("{what} {v} out of range")))
}

/// Records the latency (and failure) of one write transaction.
async fn timed<T>(op: &'static str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let started = std::time::Instant::now();
    let result = work.await;
    metrics::histogram!("weft_metastore_transaction_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    if result.is_err() {
        metrics::counter!("weft_metastore_errors_total", "op" => op).increment(1);
    }
    result
}

fn to_i16(v: i64, what: &str) -> Result<i16> {
    i16::try_from(v).map_err(|_| MetaError::Corrupt(format!("{what} {v} out of range")))
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| MetaError::Corrupt(format!("bad topic id {s:?}: {e}")))
}

fn topic_from_row(row: &AnyRow) -> Result<Topic> {
    let configs: String = row.try_get("configs")?;
    let configs: BTreeMap<String, String> =
        serde_json::from_str(&configs).map_err(|e| MetaError::Corrupt(format!("topic configs: {e}")))?;
    Ok(Topic {
        name: row.try_get("name")?,
        id: parse_uuid(&row.try_get::<String, _>("topic_id")?)?,
        partitions: to_i32(row.try_get("partitions")?, "partition count")?,
        configs,
        created_ms: row.try_get("created_ms")?,
    })
}

fn batch_from_row(row: &AnyRow) -> Result<BatchRef> {
    Ok(BatchRef {
        base_offset: row.try_get("base_offset")?,
        last_offset: row.try_get("last_offset")?,
        max_timestamp: row.try_get("max_timestamp")?,
        object_key: row.try_get("object_key")?,
        byte_start: row.try_get::<i64, _>("byte_start")? as u64,
        byte_len: row.try_get::<i64, _>("byte_len")? as u32,
    })
}

macro_rules! topic_columns {
    () => {
        "name, topic_id, partitions, configs, created_ms"
    };
}
pub(crate) use topic_columns;
macro_rules! batch_columns {
    () => {
        "base_offset, last_offset, max_timestamp, object_key, byte_start, byte_len"
    };
}
pub(crate) use batch_columns;

/// Partition bounds with the last stable offset (the oldest open transaction's first offset, else the end).
macro_rules! partition_bounds_query {
    ($where:literal) => {
        concat!(
            "SELECT p.topic_id, p.partition_id, p.log_start, p.next_offset, COALESCE((SELECT MIN(o.first_offset) FROM open_txns o \
             WHERE o.topic_id = p.topic_id AND o.partition_id = p.partition_id), p.next_offset) AS last_stable FROM partitions p",
            $where
        )
    };
}
pub(crate) use partition_bounds_query;

fn bounds_from_row(r: &AnyRow) -> Result<PartitionOffsets> {
    Ok(PartitionOffsets {
        log_start: r.try_get("log_start")?,
        next_offset: r.try_get("next_offset")?,
        last_stable: r.try_get("last_stable")?,
    })
}

impl SqlMetastore {
    /// Opens (creating and migrating if needed) the store at `url` (`sqlite:///abs/path.db`).
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = sqlite_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers proceed during a commit; synchronous=FULL makes every commit durable
                    // before the produce ack goes out.
                    for pragma in [
                        "PRAGMA journal_mode=WAL",
                        "PRAGMA synchronous=FULL",
                        "PRAGMA busy_timeout=10000",
                        "PRAGMA foreign_keys=ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let mut store = SqlMetastore { pool, write_lock: tokio::sync::Mutex::new(()), files: Default::default() };
        store.migrate().await?;
        store.watch_files(&url).await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let _w = self.writer().await?;
        let exists: Option<AnyRow> =
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'weft_schema'")
                .fetch_optional(&self.pool)
                .await?;
        let mut version = 0i64;
        if exists.is_some() {
            let row = sqlx::query("SELECT MAX(version) AS v FROM weft_schema").fetch_one(&self.pool).await?;
            version = row.try_get::<Option<i64>, _>("v")?.unwrap_or(0);
        }
        if version > SCHEMA_VERSION {
            return Err(MetaError::SchemaTooNew { found: version, supported: SCHEMA_VERSION });
        }
        for (i, ddl) in SQLITE_MIGRATIONS.iter().enumerate().skip(version as usize) {
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(*ddl).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO weft_schema (version) VALUES ($1)").bind(i as i64 + 1).execute(&mut *tx).await?;
            if i == 0 {
                sqlx::query("INSERT INTO cluster (singleton, cluster_id) VALUES (1, $1)")
                    .bind(new_cluster_id())
                    .execute(&mut *tx)
                    .await?;
            }
            self.commit(tx).await?;
        }
        Ok(())
    }
}

/// A Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding (22 characters). Like Kafka,
/// ids starting with '-' are avoided (they read as command-line flags).
fn new_cluster_id() -> String {
    loop {
        let id = random_base64_id();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_base64_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = *Uuid::new_v4().as_bytes();
    let mut bits: u128 = u128::from_be_bytes(bytes);
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(bits >> 122) as usize & 63] as char);
        bits <<= 6;
    }
    out
}

#[async_trait]
impl Metastore for SqlMetastore {
    async fn cluster_id(&self) -> Result<String> {
        let row = sqlx::query("SELECT cluster_id FROM cluster WHERE singleton = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get("cluster_id")?)
    }

    async fn create_topic(&self, spec: NewTopic) -> Result<Topic> {
        let _w = self.writer().await?;
        let mut tx = self.pool.begin().await?;
        let existing =
            sqlx::query("SELECT name FROM topics WHERE name = $1").bind(&spec.name).fetch_optional(&mut *tx).await?;
        if existing.is_some() {
            return Err(MetaError::TopicExists { name: spec.name });
        }
        let configs = serde_json::to_string(&spec.configs).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        sqlx::query(concat!("INSERT INTO topics (", topic_columns!(), ") VALUES ($1, $2, $3, $4, $5)"))
            .bind(&spec.name)
            .bind(spec.id.to_string())
            .bind(i64::from(spec.partitions))
            .bind(configs)
            .bind(spec.created_ms)
            .execute(&mut *tx)
            .await?;
        for p in 0..spec.partitions {
            insert_partition(&mut tx, spec.id, p).await?;
        }
        self.commit(tx).await?;
        Ok(Topic {
            name: spec.name,
            id: spec.id,
            partitions: spec.partitions,
            configs: spec.configs,
            created_ms: spec.created_ms,
        })
    }

    async fn delete_topic(&self, name: &str, now_ms: i64) -> Result<Topic> {
        let _w = self.writer().await?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MetaError::UnknownTopic { name: name.into() })?;
        let topic = topic_from_row(&row)?;
        let id = topic.id.to_string();
        // Batch rows go with the topic; their objects are marked dead once nothing else references them, and
        // the garbage collector deletes them after its grace period.
        let keys: Vec<String> = sqlx::query("SELECT DISTINCT object_key FROM batches WHERE topic_id = $1")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("object_key"))
            .collect::<std::result::Result<_, _>>()?;
        for sql in [
            "DELETE FROM batches WHERE topic_id = $1",
            "DELETE FROM open_txns WHERE topic_id = $1",
            "DELETE FROM aborted_txns WHERE topic_id = $1",
            "DELETE FROM producer_state WHERE topic_id = $1",
        ] {
            sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM partitions WHERE topic_id = $1").bind(&id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM topics WHERE name = $1").bind(name).execute(&mut *tx).await?;
        maintenance::mark_dead(&mut tx, &keys, now_ms).await?;
        self.commit(tx).await?;
        Ok(topic)
    }

    async fn topic(&self, name: &str) -> Result<Option<Topic>> {
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(topic_from_row).transpose()
    }

    async fn topic_by_id(&self, id: Uuid) -> Result<Option<Topic>> {
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE topic_id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(topic_from_row).transpose()
    }

    async fn list_topics(&self) -> Result<Vec<Topic>> {
        let rows = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(topic_from_row).collect()
    }

    async fn add_partitions(&self, name: &str, total: i32) -> Result<Topic> {
        let _w = self.writer().await?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MetaError::UnknownTopic { name: name.into() })?;
        let mut topic = topic_from_row(&row)?;
        if total <= topic.partitions {
            return Err(MetaError::BadPartitionCount {
                name: name.into(),
                current: topic.partitions,
                requested: total,
            });
        }
        for p in topic.partitions..total {
            insert_partition(&mut tx, topic.id, p).await?;
        }
        sqlx::query("UPDATE topics SET partitions = $1 WHERE name = $2")
            .bind(i64::from(total))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        topic.partitions = total;
        Ok(topic)
    }

    async fn commit_segment(&self, commit: SegmentCommit) -> Result<SegmentCommitted> {
        timed("commit_segment", self.commit_segment_impl(commit)).await
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
        // The batch containing `from_offset` starts at the greatest base offset <= from_offset; bounding the
        // scan by it keeps the lookup on the primary key.
        let rows = sqlx::query(concat!("SELECT ", batch_columns!(), " FROM batches WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND base_offset >= COALESCE((SELECT MAX(base_offset) FROM batches WHERE topic_id = $1 AND partition_id = $2 AND base_offset <= $3), 0) ORDER BY base_offset LIMIT $4"))
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .bind(from_offset)
        .bind(i64::from(max_batches.max(1)))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for row in &rows {
            let b = batch_from_row(row)?;
            if !out.is_empty() && bytes + u64::from(b.byte_len) > max_bytes {
                break;
            }
            bytes += u64::from(b.byte_len);
            out.push(b);
        }
        Ok(out)
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

    async fn commit_offsets(&self, group: &str, offsets: &[CommittedOffset]) -> Result<()> {
        timed("commit_offsets", self.commit_offsets_impl(group, offsets)).await
    }

    async fn committed_offsets(&self, group: &str, topics: Option<&[String]>) -> Result<Vec<CommittedOffset>> {
        self.committed_offsets_impl(group, topics).await
    }

    async fn groups_with_offsets(&self) -> Result<Vec<String>> {
        self.groups_with_offsets_impl().await
    }

    async fn delete_offsets(&self, group: &str, partitions: Option<&[(String, i32)]>) -> Result<u64> {
        self.delete_offsets_impl(group, partitions).await
    }

    async fn expire_offsets(&self, older_than_ms: i64, active_groups: &[String]) -> Result<u64> {
        self.expire_offsets_impl(older_than_ms, active_groups).await
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

    async fn allocate_producer_id(&self) -> Result<i64> {
        self.allocate_producer_id_impl().await
    }

    async fn update_transaction(
        &self,
        transactional_id: &str,
        update: TxnUpdate<'_>,
    ) -> Result<std::result::Result<TransactionMeta, Refused>> {
        timed("update_transaction", self.update_transaction_impl(transactional_id, update)).await
    }

    async fn transaction(&self, transactional_id: &str) -> Result<Option<TransactionMeta>> {
        let mut conn = self.pool.acquire().await?;
        txn::load(&mut conn, transactional_id).await
    }

    async fn list_transactions(&self, states: Option<&[TxnState]>) -> Result<Vec<TransactionMeta>> {
        self.list_transactions_impl(states).await
    }

    async fn expire_transactions(&self, older_than_ms: i64) -> Result<u64> {
        self.expire_transactions_impl(older_than_ms).await
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

    async fn producers(&self, topic_id: Uuid, partition: i32) -> Result<Vec<ProducerInfo>> {
        self.producers_impl(topic_id, partition).await
    }

    async fn pending_txn_offsets(&self, group: &str) -> Result<Vec<(String, i32)>> {
        self.pending_txn_offsets_impl(group).await
    }

    async fn set_topic_configs(&self, name: &str, configs: BTreeMap<String, String>) -> Result<Topic> {
        timed("set_topic_configs", self.set_topic_configs_impl(name, configs)).await
    }

    async fn cluster_configs(&self) -> Result<BTreeMap<String, String>> {
        self.cluster_configs_impl().await
    }

    async fn set_cluster_configs(&self, configs: BTreeMap<String, String>) -> Result<()> {
        timed("set_cluster_configs", self.set_cluster_configs_impl(configs)).await
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
        timed("replace_batches", self.replace_batches_impl(rewrite)).await
    }

    async fn dead_objects(&self, dead_before_ms: i64, limit: u32) -> Result<Vec<String>> {
        self.dead_objects_impl(dead_before_ms, limit).await
    }

    async fn forget_objects(&self, keys: &[String]) -> Result<()> {
        timed("forget_objects", self.forget_objects_impl(keys)).await
    }

    async fn unknown_objects(&self, keys: &[String]) -> Result<Vec<String>> {
        self.unknown_objects_impl(keys).await
    }

    async fn acquire_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
        timed("acquire_lease", self.acquire_lease_impl(name, holder, now_ms, ttl_ms)).await
    }

    async fn write_probe(&self, now_ms: i64) -> Result<()> {
        self.write_probe_impl(now_ms).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }
}

async fn insert_partition(tx: &mut sqlx::Transaction<'_, sqlx::Any>, topic_id: Uuid, partition: i32) -> Result<()> {
    sqlx::query("INSERT INTO partitions (topic_id, partition_id, log_start, next_offset) VALUES ($1, $2, 0, 0)")
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_look_like_kafka_ones() {
        let id = super::new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn sqlite_urls_must_be_absolute() {
        assert!(super::sqlite_url("sqlite://rel.db").is_err());
        assert!(super::sqlite_url("postgres://x").is_err());
        assert_eq!(super::sqlite_url("sqlite:///tmp/x/m.db").unwrap(), "sqlite:///tmp/x/m.db?mode=rwc");
    }
}
