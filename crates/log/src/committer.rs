//! The committer: takes flushed segments in flush order, waits for each upload, commits its batches in one
//! metastore transaction, advances the partitions' high watermarks and answers the producers waiting on it.
//! Commits are strictly in flush order even though uploads overlap.

use crate::buffer::{FlushDeps, FlushFailure, Waiter};
use crate::health::{Health, Store};
use crate::watch::PartitionWatch;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use weft_clock::Clock;
use weft_meta::{Log, SegmentCommit, SegmentCommitted};

/// A segment handed from the flusher to the committer.
pub(crate) struct Flushed {
    pub(crate) commit: SegmentCommit,
    pub(crate) waiters: Vec<Waiter>,
    /// When the flusher cut the segment (for the flush latency log line).
    pub(crate) cut_at: Instant,
    /// Released (freeing buffer budget) once producers are answered.
    pub(crate) _permits: Vec<OwnedSemaphorePermit>,
}

/// What the committer uses, taken from the flusher's dependencies.
pub(crate) struct CommitDeps {
    meta: Arc<dyn Log>,
    partitions: Arc<PartitionWatch>,
    health: Arc<Health>,
    clock: Arc<dyn Clock>,
    deadline_ms: i64,
}

impl From<&FlushDeps> for CommitDeps {
    fn from(d: &FlushDeps) -> Self {
        CommitDeps {
            meta: d.meta.clone(),
            partitions: d.partitions.clone(),
            health: d.health.clone(),
            clock: d.clock.clone(),
            deadline_ms: i64::try_from(d.commit_deadline.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

pub(crate) async fn committer(
    mut rx: mpsc::Receiver<(JoinHandle<Result<(), FlushFailure>>, Flushed)>,
    deps: CommitDeps,
) {
    let CommitDeps { meta, partitions, health, .. } = &deps;
    while let Some((upload, flushed)) = rx.recv().await {
        let waited = Instant::now();
        let uploaded = match upload.await {
            Ok(r) => r,
            Err(e) => Err(FlushFailure::storage(format!("upload task: {e}"))),
        };
        let key = flushed.commit.object_key.clone();
        let batches = flushed.commit.batches.len();
        let commit_size = flushed.commit.object_size;
        let uploaded_at = Instant::now();
        let result = match uploaded {
            Ok(()) => {
                health.record(Store::ObjectStore, Ok(()));
                match past_deadline(&deps, &flushed.commit) {
                    Some(refused) => Err(refused),
                    None => {
                        let committed = bounded_commit(meta.as_ref(), flushed.commit).await;
                        health.record(Store::Metastore, committed.as_ref().map(|_| ()).map_err(|e| e.message.clone()));
                        committed
                    }
                }
            }
            Err(e) => {
                health.record(Store::ObjectStore, Err(e.message.clone()));
                Err(e)
            }
        };
        metrics::histogram!("weft_flush_duration_seconds", "stage" => "upload_wait")
            .record((uploaded_at - waited).as_secs_f64());
        metrics::histogram!("weft_flush_duration_seconds", "stage" => "commit")
            .record(uploaded_at.elapsed().as_secs_f64());
        metrics::histogram!("weft_flush_size_bytes").record(commit_size as f64);
        if result.is_err() {
            metrics::counter!("weft_flush_errors_total").increment(1);
        }
        if let Ok(committed) = &result {
            for (topic_id, partition, offsets) in &committed.partitions {
                partitions.advance(*topic_id, *partition, *offsets);
            }
            tracing::debug!(
                key = %key,
                batches,
                age_ms = flushed.cut_at.elapsed().as_secs_f64() * 1e3,
                upload_wait_ms = (uploaded_at - waited).as_secs_f64() * 1e3,
                commit_ms = uploaded_at.elapsed().as_secs_f64() * 1e3,
                "segment committed"
            );
        }
        for w in flushed.waiters {
            let answer = match &result {
                Ok(committed) => Ok(committed.outcomes.get(w.range.clone()).map(<[_]>::to_vec).unwrap_or_default()),
                Err(e) => Err(e.clone()),
            };
            let _ = w.tx.send(answer);
        }
    }
}

/// Longest wait for one segment commit. The metastore bounds its own statements, but a connection whose peer
/// vanished without a FIN (host loss, failover) can leave a read waiting forever; past this the commit is
/// abandoned and its producers get an error, so the committer never wedges. (If the abandoned commit landed
/// after all, its records are stored unacknowledged, as after a Kafka request timeout; idempotent producers'
/// retries are then answered as duplicates.)
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn bounded_commit(meta: &dyn Log, commit: SegmentCommit) -> Result<SegmentCommitted, FlushFailure> {
    let key = commit.object_key.clone();
    match tokio::time::timeout(COMMIT_TIMEOUT, meta.commit_segment(commit)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => {
            tracing::warn!(key = %key, error = %e, "segment commit failed");
            Err(FlushFailure::storage(e.to_string()))
        }
        Err(_) => {
            tracing::error!(key = %key, timeout_s = COMMIT_TIMEOUT.as_secs(), "segment commit timed out; abandoned");
            Err(FlushFailure::storage(format!(
                "the metastore commit of {key} did not finish within {} s",
                COMMIT_TIMEOUT.as_secs()
            )))
        }
    }
}

/// A segment cut longer ago than the commit deadline is not committed: past the collector's orphan grace its
/// object may be deleted, and the metastore fence (`Objects::fence_orphans`) would refuse it anyway; refusing
/// here keeps the commit off the store and explains why.
fn past_deadline(deps: &CommitDeps, commit: &SegmentCommit) -> Option<FlushFailure> {
    let age_ms = deps.clock.now_ms().saturating_sub(commit.created_ms);
    (age_ms > deps.deadline_ms).then(|| {
        let message = format!(
            "segment {} was ready to commit {age_ms} ms after it was cut, past the commit deadline of {} ms; \
             not committed",
            commit.object_key, deps.deadline_ms
        );
        tracing::warn!(key = %commit.object_key, age_ms, deadline_ms = deps.deadline_ms, "segment commit refused: too late");
        FlushFailure::storage(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;
    use weft_clock::ManualClock;
    use weft_meta::{BatchAppend, BatchKind, NewTopic, SqlMetastore};
    use weft_meta::{Catalog, Objects};

    fn append(topic_id: uuid::Uuid) -> BatchAppend {
        BatchAppend {
            topic_id,
            partition: 0,
            byte_start: 0,
            byte_len: 10,
            offset_span: 1,
            record_count: 1,
            max_timestamp: 0,
            producer: None,
            kind: BatchKind::Plain,
            record_set: 0,
        }
    }

    /// A segment whose upload finished after the commit deadline is refused: its producer gets an error and
    /// no offsets are assigned; a timely one commits.
    #[tokio::test]
    async fn a_segment_past_its_commit_deadline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(SqlMetastore::open(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap());
        let spec = NewTopic {
            name: "t".into(),
            id: uuid::Uuid::new_v4(),
            partitions: 1,
            configs: Default::default(),
            created_ms: 0,
        };
        let topic = meta.create_topic(spec).await.unwrap();
        let deps = CommitDeps {
            meta: meta.clone(),
            partitions: Arc::new(PartitionWatch::default()),
            health: Arc::new(Health::default()),
            clock: Arc::new(ManualClock(AtomicI64::new(100_000))),
            deadline_ms: 30_000,
        };
        let (tx, rx) = mpsc::channel(4);
        let task = tokio::spawn(committer(rx, deps));
        let mut answers = Vec::new();
        for (key, created_ms) in [("late", 60_000), ("timely", 90_000)] {
            let (wtx, wrx) = tokio::sync::oneshot::channel();
            let commit =
                SegmentCommit { object_key: key.into(), object_size: 10, created_ms, batches: vec![append(topic.id)] };
            let flushed = Flushed {
                commit,
                waiters: vec![Waiter { tx: wtx, range: 0..1 }],
                cut_at: Instant::now(),
                _permits: vec![],
            };
            tx.send((tokio::spawn(async { Ok(()) }), flushed)).await.unwrap();
            answers.push(wrx);
        }
        drop(tx);
        let late = answers.remove(0).await.unwrap();
        assert!(late.as_ref().is_err_and(|e| e.message.contains("past the commit deadline")), "{:?}", late.err());
        assert!(answers.remove(0).await.unwrap().is_ok(), "a timely segment commits");
        task.await.unwrap();
        assert_eq!(meta.partition_offsets(topic.id, 0).await.unwrap().unwrap().next_offset, 1, "one batch stored");
        assert_eq!(
            meta.unknown_objects(&["late".into()]).await.unwrap().len(),
            1,
            "the late object was never recorded"
        );
    }
}
