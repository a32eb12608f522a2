//! Guarding SQLite's files against removal or replacement under a running agent.
//!
//! SQLite keeps committed transactions in the `-wal` file until a checkpoint copies them into the database
//! file. If the `-wal` file is deleted while the process runs, SQLite keeps writing to the unlinked inode
//! through its open descriptors: commits still succeed, and everything not yet checkpointed is gone at
//! the next crash. So the backend remembers the device and inode of the database, `-wal` and `-shm` files
//! once it has opened them, and every write checks (before it starts and before it is acknowledged) that
//! each path still names the same file. One `stat` per file is the whole cost (see the test below).
//!
//! Once a change is seen, the store refuses every further write until the agent restarts (the files it
//! writes are no longer the ones a restart reads), and it checkpoints the old `-wal` into the database
//! file once, through a connection opened before the change, so that what was acknowledged before
//! survives. That connection is held for the life of the store: SQLite deletes the `-wal` file when its
//! last connection closes, and the pool may close all of its own when idle, which would look exactly like
//! a removal.
//!
//! No descriptor of our own is opened on these files: closing one would release the POSIX locks SQLite
//! holds on them for the whole process.

use crate::{MetaError, Result};
use sqlx::AnyConnection;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;

struct Watched {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// The identity of the store's files, and whether they have changed.
#[derive(Default)]
pub(super) struct FileGuard {
    watched: Vec<Watched>,
    broken: Mutex<Option<String>>,
    /// Opened before any change could be seen; used for the salvage checkpoint.
    holder: tokio::sync::Mutex<Option<AnyConnection>>,
}

impl FileGuard {
    /// Watches `db` and its `-wal` and `-shm` files (those that exist once `holder` has read the database).
    pub(super) fn watch(db: PathBuf, holder: AnyConnection) -> Self {
        let mut watched = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut path = db.clone().into_os_string();
            path.push(suffix);
            let path = PathBuf::from(path);
            match std::fs::metadata(&path) {
                Ok(m) => watched.push(Watched { path, dev: m.dev(), ino: m.ino() }),
                Err(e) => tracing::debug!(path = %path.display(), error = %e, "metastore file not watched"),
            }
        }
        FileGuard { watched, broken: Mutex::new(None), holder: tokio::sync::Mutex::new(Some(holder)) }
    }

    /// The first watched file that is gone or replaced, described.
    fn changed(&self) -> Option<String> {
        self.watched.iter().find_map(|w| match std::fs::metadata(&w.path) {
            Ok(m) if m.dev() == w.dev && m.ino() == w.ino => None,
            Ok(_) => Some(format!("metastore file {} was replaced while the agent was running", w.path.display())),
            Err(e) => Some(format!("metastore file {} was removed while the agent was running: {e}", w.path.display())),
        })
    }

    /// `Err` if any file has changed, now or before. The first time, salvages the old `-wal` and logs.
    pub(super) async fn check(&self) -> Result<()> {
        if let Some(reason) = self.broken() {
            return Err(MetaError::FilesChanged { reason });
        }
        let Some(reason) = self.changed() else {
            return Ok(());
        };
        {
            let mut broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(earlier) = broken.as_ref() {
                return Err(MetaError::FilesChanged { reason: earlier.clone() });
            }
            *broken = Some(reason.clone());
        }
        tracing::error!(%reason, "metastore files changed under the agent: refusing every write until restart");
        self.salvage().await;
        Err(MetaError::FilesChanged { reason })
    }

    /// One PASSIVE checkpoint (see `checkpoint.rs`) through the connection held since before any change
    /// could be seen, so that it always copies the log the store wrote, and never races the salvage. `None`
    /// without files (an in-memory store); an error once the files changed (the salvage has run then).
    /// Returns the log's pages and how many of them are in the database file.
    pub(super) async fn checkpoint(&self) -> Result<Option<(i64, i64)>> {
        self.check().await?;
        let mut holder = self.holder.lock().await;
        let Some(conn) = holder.as_mut() else { return Ok(None) };
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await?;
        use sqlx::Row;
        Ok(Some((row.try_get::<i64, _>(1)?, row.try_get::<i64, _>(2)?)))
    }

    fn broken(&self) -> Option<String> {
        self.broken.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Copies what the old `-wal` holds into the database file (and syncs it), so acknowledged commits
    /// survive a crash. Useless, but harmless, if the database file itself was removed.
    async fn salvage(&self) {
        let mut holder = self.holder.lock().await;
        let Some(conn) = holder.as_mut() else {
            return;
        };
        match sqlx::query("PRAGMA wal_checkpoint(FULL)").fetch_all(&mut *conn).await {
            Ok(_) => tracing::warn!("checkpointed the metastore's write-ahead log into its database file"),
            Err(e) => tracing::error!(error = %e, "could not checkpoint the metastore's write-ahead log"),
        }
    }
}

impl super::SqlMetastore {
    /// On SQLite, takes the writer lock (SQLite allows one writer) once the store's files are known to be
    /// intact. On PostgreSQL nothing is taken: see [`super::SqlMetastore`] for how its writers stay atomic.
    pub(super) async fn writer(&self) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>> {
        if self.backend != super::Backend::Sqlite {
            return Ok(None);
        }
        let guard = self.write_lock.lock().await;
        self.files.check().await?;
        Ok(Some(guard))
    }

    /// Begins a write transaction (after [`Self::writer`]). On SQLite it takes the database's write lock at
    /// once (`BEGIN IMMEDIATE`): a deferred transaction that reads, then writes, fails at its first write with
    /// SQLITE_BUSY, without waiting, when another connection wrote in between (its snapshot is stale); an
    /// immediate one waits for the lock (`busy_timeout`) and reads the latest state. PostgreSQL needs no
    /// such mode: its writers lock the rows they read (`FOR UPDATE`).
    pub(super) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            super::Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _ => self.pool.begin().await?,
        })
    }

    /// Commits, then makes sure the commit went to the files a restart will read before it is reported.
    pub(super) async fn commit(&self, tx: sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
        tx.commit().await?;
        self.files.check().await
    }

    /// Starts watching the files of the database at `url` (after migration, so the `-wal` exists), holding
    /// a connection of its own for as long as the store lives.
    pub(super) async fn watch_files(&mut self, url: &str) -> Result<()> {
        let Some(path) = sqlite_path(url) else {
            return Ok(());
        };
        let mut holder = self.pool.acquire().await?.detach();
        // A read opens the write-ahead log and its index, as every connection of the pool does.
        sqlx::query("SELECT COUNT(*) AS n FROM weft_schema").fetch_one(&mut holder).await?;
        self.files = std::sync::Arc::new(FileGuard::watch(path, holder));
        Ok(())
    }

    /// A small durable write transaction (readiness): fails on a read-only or full store, and once the
    /// store's files have changed.
    pub(super) async fn write_probe_impl(&self, now_ms: i64) -> Result<()> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES ('write_probe', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await
    }
}

/// The database file of a `sqlite://` url, unless it is in memory.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard_on(paths: &[PathBuf]) -> FileGuard {
        let watched = paths
            .iter()
            .map(|p| {
                let m = std::fs::metadata(p).unwrap();
                Watched { path: p.clone(), dev: m.dev(), ino: m.ino() }
            })
            .collect();
        FileGuard { watched, ..FileGuard::default() }
    }

    #[tokio::test]
    async fn removal_and_replacement_are_seen_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("m.db"), dir.path().join("m.db-wal"));
        std::fs::write(&a, b"x").unwrap();
        std::fs::write(&b, b"y").unwrap();
        let g = guard_on(&[a.clone(), b.clone()]);
        g.check().await.unwrap();
        std::fs::remove_file(&b).unwrap();
        let err = g.check().await.unwrap_err().to_string();
        assert!(err.contains("m.db-wal was removed"), "{err}");
        std::fs::write(&b, b"new").unwrap();
        assert!(g.check().await.is_err(), "a change is remembered until restart");

        let g = guard_on(std::slice::from_ref(&a));
        let keep = std::fs::File::open(&a).unwrap(); // the old inode stays allocated, as SQLite's is
        std::fs::remove_file(&a).unwrap();
        std::fs::write(&a, b"replacement").unwrap();
        assert!(g.check().await.unwrap_err().to_string().contains("was replaced"));
        drop(keep);
    }

    #[tokio::test]
    async fn the_check_is_cheap_enough_for_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = ["m.db", "m.db-wal", "m.db-shm"].iter().map(|n| dir.path().join(n)).collect();
        for p in &paths {
            std::fs::write(p, b"x").unwrap();
        }
        let g = guard_on(&paths);
        let n = 10_000u32;
        let started = std::time::Instant::now();
        for _ in 0..n {
            g.check().await.unwrap();
        }
        let each = started.elapsed() / n;
        println!("metastore file check: {each:?} per check of 3 files");
        // A commit costs at least one fsync (hundreds of microseconds to milliseconds).
        assert!(each < std::time::Duration::from_micros(200), "{each:?}");
    }
}
