//! SQLite checkpoints, off the commit path. In WAL mode SQLite copies the write-ahead log back into the
//! database file (a checkpoint) once the log passes 1,000 pages, inside whichever COMMIT crossed the mark:
//! that commit then waits for the copy and a sync of the database file. A busy agent measured single produce
//! commits of 150-190 ms this way (BENCHMARKS.md), and every producer waiting on the commit with them.
//!
//! Here the automatic checkpoint is off (`wal_autocheckpoint=0` on every connection) and a task of the
//! store's own runs a PASSIVE checkpoint every [`INTERVAL`], through the connection the file guard holds
//! (`files.rs`), so that it never races the salvage of a removed log and stops once the files change: PASSIVE copies what it can without waiting for
//! readers or writers, and never blocks them, so commits keep appending to the log meanwhile. Durability is
//! unchanged: a commit is durable once its log frames are synced (`synchronous=FULL`), checkpointed or not,
//! and a log left behind by a crash is replayed on open. The log restarts from its beginning at the first
//! write after a checkpoint that copied all of it, so its size stays bounded by what is written between two
//! checkpoints (or while a long read holds old pages).

use super::files::FileGuard;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time between two checkpoints.
const INTERVAL: Duration = Duration::from_millis(200);
/// Log pages left uncopied after a checkpoint above which a warning is logged (64 MiB of 4 KiB pages).
const LAG_WARNING_PAGES: i64 = 16_384;

/// The checkpoint task of one store; stopped when the store is dropped.
pub(super) struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Checkpointer {
    /// Checkpoints through the store's file guard (`FileGuard::checkpoint`) until its files change.
    pub(super) fn start(files: Arc<FileGuard>) -> Self {
        Checkpointer(tokio::spawn(async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Each trouble is logged when it starts, not at every tick while it lasts.
            let (mut lagging, mut failing) = (false, false);
            loop {
                tick.tick().await;
                let started = Instant::now();
                match files.checkpoint().await {
                    Ok(Some((log, copied))) => {
                        if copied > 0 {
                            let ms = started.elapsed().as_secs_f64() * 1e3;
                            tracing::debug!(log, copied, ms, "metastore checkpoint");
                        }
                        if log - copied > LAG_WARNING_PAGES && !lagging {
                            tracing::warn!(
                                log,
                                copied,
                                "metastore write-ahead log is not being copied back: a long read holds it"
                            );
                        }
                        (lagging, failing) = (log - copied > LAG_WARNING_PAGES, false);
                    }
                    // No files, or they changed under the store (the salvage has run): checkpoints stop.
                    Ok(None) | Err(crate::MetaError::FilesChanged { .. }) => return,
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "metastore checkpoint failed; retrying at every tick");
                        }
                        failing = true;
                    }
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::{NewTopic, SqlMetastore};
    use sqlx::{Connection, Row};

    /// Commits leave the log to the checkpointer, which copies it into the database file: a copy of that
    /// file alone, without its log, holds every commit once the checkpointer has run.
    #[tokio::test]
    async fn the_checkpointer_copies_the_log_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetastore::open(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap();
        let auto = sqlx::query("PRAGMA wal_autocheckpoint").fetch_one(&store.pool).await.unwrap();
        assert_eq!(auto.try_get::<i64, _>(0).unwrap(), 0, "commits never checkpoint");
        for i in 0..20 {
            let id = uuid::Uuid::new_v4();
            let topic =
                NewTopic { name: format!("t{i}"), id, partitions: 1, configs: Default::default(), created_ms: 0 };
            store.create_topic(topic).await.unwrap();
        }
        tokio::time::sleep(super::INTERVAL * 4).await;
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(dir.path().join("m.db"), copy.path().join("m.db")).unwrap();
        let url = format!("sqlite://{}/m.db", copy.path().display());
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let row = sqlx::query("SELECT COUNT(*) AS n FROM topics").fetch_one(&mut conn).await.unwrap();
        assert_eq!(row.try_get::<i64, _>("n").unwrap(), 20, "every topic is in the database file");
    }
}
