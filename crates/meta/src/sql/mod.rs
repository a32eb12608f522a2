//! The SQL metastore over sqlx's `Any` driver: the same queries run on SQLite and PostgreSQL.
//! This module holds the store, opening, and the row helpers the capability modules share; what differs
//! per database is in `backend`.

mod acls;
mod agents;
mod append;
mod backend;
mod bulk;
mod catalog;
mod changes;
mod checkpoint;
mod credentials;
mod files;
mod group_configs;
mod groups;
mod log;
mod maintenance;
mod objects;
mod producers;
mod quotas;
mod schemas;
mod share_states;
mod txn;

use crate::{BatchRef, Health, MetaError, PartitionOffsets, Result, Topic};
use async_trait::async_trait;
pub(crate) use backend::{Backend, redact};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A metastore on SQL: SQLite or PostgreSQL.
///
/// Each capability is implemented in its own module (`catalog`, `log`, `maintenance`, `groups`,
/// `producers`, `txn`, `objects`); the contracts are on the traits ([`crate::Metastore`] and its parts).
///
/// Concurrency: on SQLite (one writer, one process) every write transaction first takes `write_lock` (see
/// `writer()`), which makes each read-check-write atomic within this process. On PostgreSQL several agents
/// share the store, so that lock is not taken; each read-check-write instead locks the rows it depends on
/// (`Backend::for_update`: the partition rows a commit or index rewrite touches, in sorted order; the
/// transactional-id row; the object rows a dead mark checks; the cluster row for cluster configs), or is a
/// single atomic statement (producer ids, leases, topic creation). Transactions run at READ COMMITTED, so
/// every statement after a lock wait sees what the lock holder committed.
pub struct SqlMetastore {
    pool: AnyPool,
    backend: Backend,
    /// Where change-feed listeners connect (PostgreSQL only).
    listen_url: Option<String>,
    /// SQLite allows one writer; serialising writers here avoids lock-upgrade failures (SQLITE_BUSY) that
    /// deferred transactions would otherwise hit. SQLite is the single-process embedded default, so an
    /// in-process lock is the right scope for it.
    write_lock: tokio::sync::Mutex<()>,
    /// The SQLite files, checked before every write and before it is acknowledged.
    files: std::sync::Arc<files::FileGuard>,
    /// SQLite's checkpoints, run by a task of their own instead of inside commits.
    _checkpointer: Option<checkpoint::Checkpointer>,
}

fn sqlite_url(url: &str) -> Result<String> {
    let path = url.strip_prefix("sqlite://").ok_or_else(|| backend::bad_url(url))?;
    if !path.starts_with('/') {
        return Err(backend::bad_url(url));
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
    /// Opens (creating and migrating if needed) the store at `url`: `sqlite:///abs/path.db`, or
    /// `postgres://` / `postgresql://` with an optional `pool_size=N` query option.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        match Backend::of_url(url)? {
            Backend::Sqlite => Self::open_sqlite(url).await,
            Backend::Postgres => {
                let pool = backend::connect_postgres(url).await?;
                let mut store = Self::with_pool(pool, Backend::Postgres);
                store.listen_url = Some(backend::postgres_options(url)?.0);
                backend::migrate(&store.pool, Backend::Postgres, new_cluster_id()).await?;
                tracing::info!(url = %backend::redact(url), "metastore on postgresql");
                Ok(store)
            }
        }
    }

    fn with_pool(pool: AnyPool, backend: Backend) -> Self {
        SqlMetastore {
            pool,
            backend,
            listen_url: None,
            write_lock: tokio::sync::Mutex::new(()),
            files: Default::default(),
            _checkpointer: None,
        }
    }

    async fn open_sqlite(url: &str) -> Result<Self> {
        let url = sqlite_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            // sqlx pings an idle connection before handing it out: on SQLite a round trip through the
            // connection's worker thread per transaction and per pooled query, guarding against a peer that
            // cannot hang up (the database is a file in this process).
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers proceed during a commit; synchronous=FULL makes every commit durable
                    // before the produce ack goes out; checkpoints run in a task of their own (`checkpoint.rs`).
                    for pragma in [
                        "PRAGMA journal_mode=WAL",
                        "PRAGMA synchronous=FULL",
                        "PRAGMA wal_autocheckpoint=0",
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
        let mut store = Self::with_pool(pool, Backend::Sqlite);
        {
            let _w = store.writer().await?;
            backend::migrate(&store.pool, Backend::Sqlite, new_cluster_id()).await?;
        }
        store.watch_files(&url).await?;
        store._checkpointer = Some(checkpoint::Checkpointer::start(store.files.clone()));
        Ok(store)
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
impl Health for SqlMetastore {
    async fn write_probe(&self, now_ms: i64) -> Result<()> {
        self.write_probe_impl(now_ms).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }
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
