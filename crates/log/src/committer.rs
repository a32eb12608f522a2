//! The committer: takes flushed segments in flush order, waits for each upload, commits its batches in one
//! metastore transaction, advances the partitions' high watermarks and answers the producers waiting on it.
//! Commits are strictly in flush order even though uploads overlap.

use crate::buffer::{FlushFailure, Waiter};
use crate::health::{Health, Store};
use crate::watch::PartitionWatch;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use weft_meta::{Log, SegmentCommit};

/// A segment handed from the flusher to the committer.
pub(crate) struct Flushed {
    pub(crate) commit: SegmentCommit,
    pub(crate) waiters: Vec<Waiter>,
    /// When the flusher cut the segment (for the flush latency log line).
    pub(crate) cut_at: Instant,
    /// Released (freeing buffer budget) once producers are answered.
    pub(crate) _permits: Vec<OwnedSemaphorePermit>,
}

pub(crate) async fn committer(
    mut rx: mpsc::Receiver<(JoinHandle<Result<(), FlushFailure>>, Flushed)>,
    meta: Arc<dyn Log>,
    partitions: Arc<PartitionWatch>,
    health: Arc<Health>,
) {
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
                let committed = meta.commit_segment(flushed.commit).await.map_err(|e| {
                    tracing::warn!(key = %key, error = %e, "segment commit failed");
                    FlushFailure::storage(e.to_string())
                });
                health.record(Store::Metastore, committed.as_ref().map(|_| ()).map_err(|e| e.message.clone()));
                committed
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
