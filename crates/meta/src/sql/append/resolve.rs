//! Resolving a segment commit whose COMMIT failed: the connection may have been lost after the database
//! committed, so the error alone does not say whether the offsets were assigned.
//!
//! The commit's first statements insert the segments' `objects` rows, so the row of its first stored segment
//! exists exactly when the commit landed (a group is one transaction: all of it landed, or none). On a fresh connection, the same key is inserted again, dead, with `ON CONFLICT DO NOTHING`:
//! - a conflict means the commit landed, and the outcomes computed inside it are exactly what was stored;
//!   they are returned as if COMMIT had answered;
//! - an insert means it did not land, and now never can (its own insert of the key would conflict): the
//!   error goes back to the caller (nothing is acknowledged; producers retry) and the object, marked dead,
//!   is deleted by the garbage collector after its grace period.
//!
//! On PostgreSQL the insert waits while the old transaction is still in doubt on the server (it holds the
//! key), up to the session's lock timeout. If the question cannot be asked at all, the outcome stays unknown
//! and the caller gets [`MetaError::CommitUnknown`], which acknowledges nothing either; if that commit did
//! land, the data is in the log unacknowledged, as after a Kafka request timeout.

use crate::{MetaError, Result, SegmentCommit, SegmentsCommitted};
use sqlx::Row;
use std::time::Duration;

/// Attempts to ask, and the pause between them.
const ATTEMPTS: u32 = 3;
const PAUSE: Duration = Duration::from_millis(500);

impl super::SqlMetastore {
    pub(super) async fn resolve_commit(
        &self,
        commit: &SegmentCommit,
        committed: SegmentsCommitted,
        error: sqlx::Error,
    ) -> Result<SegmentsCommitted> {
        tracing::warn!(key = %commit.object_key, %error, "segment commit failed at COMMIT; checking whether it landed");
        let mut last = error.to_string();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(PAUSE).await;
            }
            match self.fence_object(commit).await {
                Ok(true) => {
                    tracing::info!(key = %commit.object_key, "segment commit had landed");
                    self.files.check().await?;
                    return Ok(committed);
                }
                Ok(false) => return Err(MetaError::Sql(error)),
                Err(e) => last = e.to_string(),
            }
        }
        Err(MetaError::CommitUnknown { object_key: commit.object_key.clone(), reason: last })
    }

    /// Inserts the segment's object row, dead, unless it exists; `true` if it existed (the commit landed).
    async fn fence_object(&self, commit: &SegmentCommit) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let done = sqlx::query(
            "INSERT INTO objects (object_key, size_bytes, created_ms, dead_ms) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (object_key) DO NOTHING",
        )
        .bind(&commit.object_key)
        .bind(commit.object_size as i64)
        .bind(commit.created_ms)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(false);
        }
        // The row exists: the commit's own (its size and time), or the collector's orphan fence (size 0, a
        // later time), in which case the commit cannot have landed.
        let row = sqlx::query("SELECT size_bytes, created_ms FROM objects WHERE object_key = $1")
            .bind(&commit.object_key)
            .fetch_one(&mut *conn)
            .await?;
        let size: i64 = row.try_get("size_bytes")?;
        let created_ms: i64 = row.try_get("created_ms")?;
        Ok(size == commit.object_size as i64 && created_ms == commit.created_ms)
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::{AppendOutcome, BatchAppend, NewTopic, SegmentCommit, SqlMetastore};

    fn commit(topic_id: uuid::Uuid, key: &str) -> SegmentCommit {
        let batch = BatchAppend {
            topic_id,
            partition: 0,
            byte_start: 0,
            byte_len: 10,
            offset_span: 2,
            record_count: 2,
            max_timestamp: 0,
            producer: None,
            kind: Default::default(),
            record_set: 0,
        };
        SegmentCommit { object_key: key.into(), object_size: 10, created_ms: 5, batches: vec![batch] }
    }

    #[tokio::test]
    async fn a_landed_commit_is_reported_and_a_lost_one_can_never_land() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetastore::open(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap();
        let topic = NewTopic {
            name: "t".into(),
            id: uuid::Uuid::new_v4(),
            partitions: 1,
            configs: Default::default(),
            created_ms: 0,
        };
        let id = store.create_topic(topic).await.unwrap().id;

        // Landed: the outcomes computed in the transaction are returned.
        let landed = store.commit_segments(vec![commit(id, "a")]).await.unwrap();
        let again = store.resolve_commit(&commit(id, "a"), landed.clone(), sqlx::Error::PoolClosed).await.unwrap();
        assert_eq!(again, landed);
        assert!(store.dead_objects(i64::MAX, 10).await.unwrap().is_empty(), "a landed object stays live");

        // Not landed: an error, the key is fenced (a late commit of it fails) and the object is dead.
        let lost = crate::SegmentsCommitted {
            segments: vec![Some(vec![AppendOutcome::Appended { base_offset: 2, log_start: 0 }])],
            partitions: Vec::new(),
        };
        assert!(store.resolve_commit(&commit(id, "b"), lost, sqlx::Error::PoolClosed).await.is_err());
        assert!(store.commit_segment(commit(id, "b")).await.is_err(), "a fenced key never commits");
        assert_eq!(store.dead_objects(i64::MAX, 10).await.unwrap(), vec!["b".to_string()]);
        assert_eq!(store.partition_offsets(id, 0).await.unwrap().unwrap().next_offset, 2, "no offsets assigned");
    }
}
