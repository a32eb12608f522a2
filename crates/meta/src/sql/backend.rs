//! Which database a [`super::SqlMetastore`] runs on, and everything that differs between them: the url
//! forms, connecting (pool size, timeouts), the DDL and how migrations are serialised, and the row-lock
//! clauses a read-check-write adds on PostgreSQL. The queries themselves are shared; a query that must
//! differ asks [`Backend`] for its part here rather than testing the backend where it is written.

use crate::schema::{POSTGRES_MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS};
use crate::{MetaError, Result};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::time::Duration;

/// The database under the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Embedded, one process: writers are serialised by the store's in-process lock.
    Sqlite,
    /// Shared by several agents: every read-check-write takes row locks in the database.
    Postgres,
}

/// Connections a PostgreSQL store opens at most unless the url says `pool_size=N`.
const DEFAULT_POOL_SIZE: u32 = 16;
/// The largest `pool_size` accepted (PostgreSQL's default `max_connections` is 100, shared by all agents).
const MAX_POOL_SIZE: u32 = 64;
/// How long getting a connection (including connecting) may take before the operation fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Session settings that turn a stuck PostgreSQL into errors: a statement, a lock wait and an idle open
/// transaction are each bounded.
const POSTGRES_SESSION: [&str; 3] =
    ["SET statement_timeout = 30000", "SET lock_timeout = 10000", "SET idle_in_transaction_session_timeout = 60000"];
/// The advisory lock key that serialises migrations of one PostgreSQL database ("weftmig" in ASCII).
const MIGRATION_LOCK: i64 = 0x0077_6566_746d_6967;

/// The `BadUrl` error for `url`, with any password hidden.
pub(crate) fn bad_url(url: &str) -> MetaError {
    MetaError::BadUrl { url: redact(url) }
}

/// `url` with the password of its `user:password@` part replaced by `***`, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return url.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

impl Backend {
    /// The backend a metastore url names.
    pub(crate) fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite://") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(bad_url(url))
        }
    }

    /// Appended to a SELECT of rows the transaction goes on to change (or relies on staying as read): a row
    /// lock on PostgreSQL, nothing on SQLite (whose writers are serialised already).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Like [`Backend::for_update`] for rows only read: others may read-lock them too, nobody may change them.
    pub(crate) fn for_share(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        }
    }

    fn migrations(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }
}

/// A PostgreSQL url split into what sqlx connects with and the pool size (`pool_size=N`, removed).
pub(crate) fn postgres_options(url: &str) -> Result<(String, u32)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("pool_size", v)) => {
                pool_size = v.parse().ok().filter(|n| (1..=MAX_POOL_SIZE).contains(n)).ok_or_else(|| {
                    MetaError::BadUrl { url: format!("{} (pool_size must be 1..={MAX_POOL_SIZE})", redact(url)) }
                })?;
            }
            _ => kept.push(pair),
        }
    }
    let out = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Ok((out, pool_size))
}

/// A bounded pool on PostgreSQL whose sessions carry [`POSTGRES_SESSION`]'s timeouts.
pub(crate) async fn connect_postgres(url: &str) -> Result<AnyPool> {
    let (url, size) = postgres_options(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for setting in POSTGRES_SESSION {
                    sqlx::query(setting).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok(pool)
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, refusing a newer store. On PostgreSQL the
/// transaction first takes an advisory lock, so agents starting together migrate one after the other (the
/// later ones find the work done); on SQLite the caller holds the writer lock.
pub(crate) async fn migrate(pool: &AnyPool, backend: Backend, cluster_id: String) -> Result<()> {
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS weft_schema (version BIGINT NOT NULL)").execute(&mut *tx).await?;
    let version: i64 = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM weft_schema")
        .fetch_one(&mut *tx)
        .await?
        .unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(MetaError::SchemaTooNew { found: version, supported: SCHEMA_VERSION });
    }
    for (i, ddl) in backend.migrations().iter().enumerate().skip(version as usize) {
        sqlx::raw_sql(*ddl).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO weft_schema (version) VALUES ($1)").bind(i as i64 + 1).execute(&mut *tx).await?;
        if i == 0 {
            sqlx::query("INSERT INTO cluster (singleton, cluster_id) VALUES (1, $1)")
                .bind(cluster_id.clone())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend_and_hide_passwords() {
        assert_eq!(Backend::of_url("sqlite:///x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of_url("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of_url("postgresql://h/db").unwrap(), Backend::Postgres);
        let err = Backend::of_url("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(!err.contains("secret") && err.contains("u:***@h/db"), "{err}");
        assert!(err.contains("sqlite:///") && err.contains("postgres://"), "{err}");
        assert_eq!(redact("postgres://u:p@ss@h:5/d?x=1"), "postgres://u:***@h:5/d?x=1");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
    }

    #[test]
    fn pool_size_is_taken_out_of_the_url() {
        assert_eq!(postgres_options("postgres://h/d").unwrap(), ("postgres://h/d".into(), DEFAULT_POOL_SIZE));
        assert_eq!(
            postgres_options("postgres://h/d?sslmode=disable&pool_size=4").unwrap(),
            ("postgres://h/d?sslmode=disable".into(), 4)
        );
        let err = postgres_options("postgres://u:secret@h/d?pool_size=0").unwrap_err().to_string();
        assert!(err.contains("pool_size") && !err.contains("secret"), "{err}");
    }
}
