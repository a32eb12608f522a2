//! The committer: takes flushed segments in flush order, waits for each upload, commits their batches in one
//! metastore transaction (several segments at once when they are ready together), advances the partitions'
//! high watermarks and answers the producers waiting on them. Commits are strictly in flush order even though
//! uploads overlap.

use crate::buffer::{FlushDeps, FlushFailure, Waiter};
use crate::health::{Health, Store};
use crate::tail::{IndexTail, TailBatch};
use crate::watch::PartitionWatch;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use weft_clock::Clock;
use weft_meta::{AppendOutcome, Log, SegmentCommit, SegmentsCommitted};

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
#[derive(Clone)]
pub(crate) struct CommitDeps {
    meta: Arc<dyn Log>,
    partitions: Arc<PartitionWatch>,
    tail: Arc<IndexTail>,
    health: Arc<Health>,
    clock: Arc<dyn Clock>,
    deadline_ms: i64,
}

impl From<&FlushDeps> for CommitDeps {
    fn from(d: &FlushDeps) -> Self {
        CommitDeps {
            meta: d.meta.clone(),
            partitions: d.partitions.clone(),
            tail: d.tail.clone(),
            health: d.health.clone(),
            clock: d.clock.clone(),
            deadline_ms: i64::try_from(d.commit_deadline.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// Most segments committed in one transaction.
const MAX_GROUP: usize = 32;

/// A flushed segment and its upload, as the flusher queues them.
pub(crate) type Queued = (JoinHandle<Result<(), FlushFailure>>, Flushed);

/// Commits queued segments in flush order. Group commit: when a commit is slow (the metastore's writer is
/// busy with maintenance, a checkpoint, a slow disk), the segments flushed meanwhile do not wait for one
/// transaction each; every one whose upload has finished joins the next commit, so a backlog drains in one
/// wait for the writer and one durable COMMIT. Order is kept: a segment whose upload is still running ends
/// the group, and the ones behind it wait for the next.
pub(crate) async fn committer(mut rx: mpsc::Receiver<Queued>, deps: CommitDeps) {
    let mut next: Option<Queued> = None;
    loop {
        let head = match next.take() {
            Some(queued) => queued,
            None => match rx.recv().await {
                Some(queued) => queued,
                None => break,
            },
        };
        let mut group = vec![uploaded(&deps, head).await];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(queued) if queued.0.is_finished() => group.push(uploaded(&deps, queued).await),
                Ok(queued) => {
                    next = Some(queued);
                    break;
                }
                Err(_) => break,
            }
        }
        commit_group(&deps, group).await;
    }
}

/// A segment whose upload has ended, and whether it may be committed.
struct Ready {
    flushed: Flushed,
    /// Why it is not committed: its upload failed, or it is past the commit deadline.
    refused: Option<FlushFailure>,
}

/// Waits for a segment's upload and decides whether it may be committed.
async fn uploaded(deps: &CommitDeps, (upload, flushed): Queued) -> Ready {
    let waited = Instant::now();
    let uploaded = match upload.await {
        Ok(r) => r,
        Err(e) => Err(FlushFailure::storage(format!("upload task: {e}"))),
    };
    metrics::histogram!("weft_flush_duration_seconds", "stage" => "upload_wait").record(waited.elapsed().as_secs_f64());
    metrics::histogram!("weft_flush_size_bytes").record(flushed.commit.object_size as f64);
    deps.health.record(Store::ObjectStore, uploaded.as_ref().map(|_| ()).map_err(|e| e.message.clone()));
    let refused = match uploaded {
        Ok(()) => past_deadline(deps, &flushed.commit),
        Err(e) => Some(e),
    };
    Ready { flushed, refused }
}

/// A segment of a group, to be answered once the group's commit ends.
struct Answered {
    key: String,
    cut_at: Instant,
    waiters: Vec<Waiter>,
    /// Its place among the segments committed, or why it was refused before the commit.
    place: Result<usize, FlushFailure>,
    /// Buffer budget, released once its producers are answered.
    _permits: Vec<OwnedSemaphorePermit>,
}

/// Commits a group in one transaction and answers every producer waiting on it.
async fn commit_group(deps: &CommitDeps, group: Vec<Ready>) {
    let started = Instant::now();
    let mut commits = Vec::with_capacity(group.len());
    let mut answered = Vec::with_capacity(group.len());
    for Ready { flushed, refused } in group {
        let Flushed { commit, waiters, cut_at, _permits } = flushed;
        let key = commit.object_key.clone();
        let place = match refused {
            Some(e) => Err(e),
            None => {
                commits.push(commit);
                Ok(commits.len() - 1)
            }
        };
        answered.push(Answered { key, cut_at, waiters, place, _permits });
    }
    let (count, batches) = (commits.len(), commits.iter().map(|c| c.batches.len()).sum::<usize>());
    // Only what the tail needs, and only when it keeps anything.
    let shapes: Vec<Shape> = if deps.tail.enabled() { commits.iter().map(Shape::of).collect() } else { Vec::new() };
    let mut result =
        if commits.is_empty() { Ok(None) } else { bounded_commit(deps.meta.as_ref(), commits).await.map(Some) };
    if count > 0 {
        deps.health.record(Store::Metastore, result.as_ref().map(|_| ()).map_err(|e| e.message.clone()));
        metrics::histogram!("weft_flush_duration_seconds", "stage" => "commit").record(started.elapsed().as_secs_f64());
    }
    if let Ok(Some(committed)) = &result {
        // The rows go into the tail before the watches move, so a fetch they wake finds them there.
        for (shape, outcomes) in shapes.iter().zip(&committed.segments) {
            if let Some(outcomes) = outcomes {
                deps.tail.record(&shape.key, shape.stored(outcomes));
            }
        }
        for (topic_id, partition, offsets) in &committed.partitions {
            deps.partitions.advance(*topic_id, *partition, *offsets);
        }
        tracing::debug!(
            segments = count,
            batches,
            commit_ms = started.elapsed().as_secs_f64() * 1e3,
            "segments committed"
        );
    }
    for Answered { key, cut_at, waiters, place, _permits } in answered {
        let outcome = match (place, &mut result) {
            (Err(e), _) => Err(e),
            (Ok(i), Ok(Some(committed))) => match committed.segments.get_mut(i).and_then(Option::take) {
                Some(outcomes) => Ok(outcomes),
                None => Err(FlushFailure::storage(weft_meta::MetaError::ObjectFenced { key: key.clone() }.to_string())),
            },
            (Ok(_), Err(e)) => Err(e.clone()),
            (Ok(_), Ok(None)) => Err(FlushFailure::storage(format!("segment {key} was left out of its commit"))),
        };
        if outcome.is_err() {
            metrics::counter!("weft_flush_errors_total").increment(1);
        }
        tracing::debug!(key = %key, age_ms = cut_at.elapsed().as_secs_f64() * 1e3, ok = outcome.is_ok(), "segment answered");
        for w in waiters {
            let answer = match &outcome {
                Ok(outcomes) => Ok(outcomes.get(w.range.clone()).map(<[_]>::to_vec).unwrap_or_default()),
                Err(e) => Err(e.clone()),
            };
            let _ = w.tx.send(answer);
        }
    }
}

/// What the index tail needs of a segment's batches, kept while the segment itself goes to the metastore.
struct Shape {
    key: String,
    /// Per batch: topic, partition, offsets spanned, largest timestamp, first byte, length.
    batches: Vec<(uuid::Uuid, i32, i64, i64, u64, u32)>,
}

impl Shape {
    fn of(c: &SegmentCommit) -> Self {
        let batches = c
            .batches
            .iter()
            .map(|b| (b.topic_id, b.partition, b.offset_span, b.max_timestamp, b.byte_start, b.byte_len))
            .collect();
        Shape { key: c.object_key.clone(), batches }
    }

    /// The batches the commit stored (duplicates and refusals were not), with their offsets.
    fn stored<'a>(&'a self, outcomes: &'a [AppendOutcome]) -> impl Iterator<Item = TailBatch> + 'a {
        self.batches.iter().zip(outcomes).filter_map(|(&(topic_id, partition, span, max_timestamp, start, len), o)| {
            let AppendOutcome::Appended { base_offset, .. } = *o else { return None };
            // As the metastore stores it; a batch spanning no offset (never validated in) holds nothing to read.
            (span >= 1).then_some(TailBatch {
                topic_id,
                partition,
                base_offset,
                last_offset: base_offset + span - 1,
                max_timestamp,
                byte_start: start,
                byte_len: len,
            })
        })
    }
}

/// Longest wait for one group commit. The metastore bounds its own statements, but a connection whose peer
/// vanished without a FIN (host loss, failover) can leave a read waiting forever; past this the commit is
/// abandoned and its producers get an error, so the committer never wedges. (If the abandoned commit landed
/// after all, its records are stored unacknowledged, as after a Kafka request timeout; idempotent producers'
/// retries are then answered as duplicates.)
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn bounded_commit(meta: &dyn Log, commits: Vec<SegmentCommit>) -> Result<SegmentsCommitted, FlushFailure> {
    let first = commits.first().map(|c| c.object_key.clone()).unwrap_or_default();
    let segments = commits.len();
    match tokio::time::timeout(COMMIT_TIMEOUT, meta.commit_segments(commits)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => {
            tracing::warn!(key = %first, segments, error = %e, "segment commit failed");
            Err(FlushFailure::storage(e.to_string()))
        }
        Err(_) => {
            tracing::error!(key = %first, segments, timeout_s = COMMIT_TIMEOUT.as_secs(), "segment commit timed out; abandoned");
            Err(FlushFailure::storage(format!(
                "the metastore commit of {segments} segment(s) from {first} did not finish within {} s",
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
    use crate::buffer::FlushResult;
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

    async fn setup(dir: &std::path::Path) -> (Arc<SqlMetastore>, uuid::Uuid, CommitDeps) {
        let meta = Arc::new(SqlMetastore::open(&format!("sqlite://{}/m.db", dir.display())).await.unwrap());
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
            tail: Arc::new(IndexTail::new(Arc::new(ManualClock::default()), std::time::Duration::from_secs(2))),
            health: Arc::new(Health::default()),
            clock: Arc::new(ManualClock(AtomicI64::new(100_000))),
            deadline_ms: 30_000,
        };
        (meta, topic.id, deps)
    }

    fn flushed(
        key: &str,
        created_ms: i64,
        topic_id: uuid::Uuid,
    ) -> (Flushed, tokio::sync::oneshot::Receiver<FlushResult>) {
        let (wtx, wrx) = tokio::sync::oneshot::channel();
        let commit =
            SegmentCommit { object_key: key.into(), object_size: 10, created_ms, batches: vec![append(topic_id)] };
        let flushed = Flushed {
            commit,
            waiters: vec![Waiter { tx: wtx, range: 0..1 }],
            cut_at: Instant::now(),
            _permits: vec![],
        };
        (flushed, wrx)
    }

    /// Segments whose uploads are done when the committer takes them commit together, in flush order; a fenced
    /// one among them is refused alone, and a failed upload fails only its own producers.
    #[tokio::test]
    async fn ready_segments_commit_as_one_group_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, topic, deps) = setup(dir.path()).await;
        meta.fence_orphans(&["b".into()], 1).await.unwrap();
        let (tx, rx) = mpsc::channel(8);
        let mut answers = Vec::new();
        for key in ["a", "b", "c", "d"] {
            let upload = match key {
                "d" => tokio::spawn(async { Err(FlushFailure::storage("disk full")) }),
                _ => tokio::spawn(async { Ok(()) }),
            };
            let (flushed, answer) = flushed(key, 90_000, topic);
            tx.send((upload, flushed)).await.unwrap();
            answers.push(answer);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(tx);
        let tail = deps.tail.clone();
        committer(rx, deps).await;
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.unwrap());
        }
        let mut answers = results.into_iter();
        let base = |r: FlushResult| {
            let outcomes = r.expect("committed");
            match outcomes[..] {
                [weft_meta::AppendOutcome::Appended { base_offset, .. }] => base_offset,
                _ => panic!("{outcomes:?}"),
            }
        };
        assert_eq!(base(answers.next().unwrap()), 0);
        let fenced = answers.next().unwrap();
        assert!(fenced.as_ref().is_err_and(|e| e.message.contains("already recorded")), "{fenced:?}");
        assert_eq!(base(answers.next().unwrap()), 1, "after the first, the fenced one left no gap");
        let failed = answers.next().unwrap();
        assert!(failed.as_ref().is_err_and(|e| e.message == "disk full"), "{failed:?}");
        assert_eq!(meta.partition_offsets(topic, 0).await.unwrap().unwrap().next_offset, 2);
        // The index tail holds the stored batches only, where the metastore holds them.
        let rows = tail.read(topic, 0, 0, u64::MAX, 10).expect("the tail covers the committed offsets");
        assert_eq!(rows, meta.read_index(topic, 0, 0, u64::MAX, 10).await.unwrap());
        assert_eq!(rows.iter().map(|r| r.object_key.as_str()).collect::<Vec<_>>(), ["a", "c"]);
    }

    /// Two agents commit to one partition in turns, each with its own tail: whatever offset a reader asks,
    /// a tail that answers lists exactly the rows the metastore lists (never a row of the other agent's
    /// offsets missing, never a stale one).
    #[tokio::test]
    async fn a_tail_answers_as_the_metastore_when_two_agents_write_one_partition() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, topic, deps_a) = setup(dir.path()).await;
        let tail_of = || Arc::new(IndexTail::new(Arc::new(ManualClock::default()), std::time::Duration::from_secs(2)));
        let deps_b = CommitDeps { tail: tail_of(), partitions: Arc::new(PartitionWatch::default()), ..deps_a.clone() };
        let deps_a = CommitDeps { tail: tail_of(), ..deps_a };
        let (tail_a, tail_b) = (deps_a.tail.clone(), deps_b.tail.clone());
        // Agent A writes three segments, B one, A two, B two: runs restart at every switch of writer.
        let turns = ["a", "a", "a", "b", "a", "a", "b", "b"];
        for (i, who) in turns.iter().enumerate() {
            let (f, answer) = flushed(&format!("{who}{i}"), 90_000, topic);
            let group = vec![Ready { flushed: f, refused: None }];
            commit_group(if *who == "a" { &deps_a } else { &deps_b }, group).await;
            assert!(answer.await.unwrap().is_ok());
        }
        let end = meta.partition_offsets(topic, 0).await.unwrap().unwrap().next_offset;
        assert_eq!(end, turns.len() as i64);
        let (mut served_a, mut served_b) = (0, 0);
        for from in 0..=end {
            let stored = meta.read_index(topic, 0, from, u64::MAX, 100).await.unwrap();
            for (tail, served) in [(&tail_a, &mut served_a), (&tail_b, &mut served_b)] {
                if let Some(rows) = tail.read(topic, 0, from, u64::MAX, 100) {
                    *served += 1;
                    assert!(!rows.is_empty() && stored.starts_with(&rows), "from {from}: {rows:?} vs {stored:?}");
                }
            }
        }
        // A's last run is offsets 4-5, B's is 6-7: each answers for its own last run only.
        assert_eq!((served_a, served_b), (2, 2));
    }

    /// A segment whose upload finished after the commit deadline is refused: its producer gets an error and
    /// no offsets are assigned; a timely one commits.
    #[tokio::test]
    async fn a_segment_past_its_commit_deadline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, topic_id, deps) = setup(dir.path()).await;
        let (tx, rx) = mpsc::channel(4);
        let task = tokio::spawn(committer(rx, deps));
        let mut answers = Vec::new();
        for (key, created_ms) in [("late", 60_000), ("timely", 90_000)] {
            let (flushed, answer) = flushed(key, created_ms, topic_id);
            tx.send((tokio::spawn(async { Ok(()) }), flushed)).await.unwrap();
            answers.push(answer);
        }
        drop(tx);
        let late = answers.remove(0).await.unwrap();
        assert!(late.as_ref().is_err_and(|e| e.message.contains("past the commit deadline")), "{:?}", late.err());
        assert!(answers.remove(0).await.unwrap().is_ok(), "a timely segment commits");
        task.await.unwrap();
        assert_eq!(meta.partition_offsets(topic_id, 0).await.unwrap().unwrap().next_offset, 1, "one batch stored");
        assert_eq!(
            meta.unknown_objects(&["late".into()]).await.unwrap().len(),
            1,
            "the late object was never recorded"
        );
    }
}
