//! The segment commit: one metastore transaction assigns offsets to every batch of durable segment objects
//! (one, or a group the committer found ready at once), checks idempotent sequences and transaction
//! membership, and keeps each partition's open and aborted transaction ranges (the last stable offset and
//! Fetch's aborted lists), so the log and its transaction state never disagree.
//!
//! Across processes (PostgreSQL), the commit first locks the rows of every partition it touches, in sorted
//! order (so two commits never wait on each other in a cycle), and read-locks the transactions its
//! transactional batches and markers belong to, by producer id; offsets are then assigned from what it read
//! under those locks. Index rows are written in multi-row statements per segment ([`index`]), and partition
//! bounds are read and written per topic, once per group ([`bounds`]), and so are idempotent producers'
//! states ([`producers`]): a bounded number of round trips per flush. A COMMIT whose outcome is lost
//! with the connection is resolved in [`resolve`].

mod bounds;
pub(super) mod index;
mod producers;
mod resolve;

use super::{Backend, SqlMetastore, to_i32};
use crate::producer_state::ProducerState;
use crate::record_set::{self, SetDecision, SetState, TxnView};
use crate::{AppendOutcome, BatchAppend, BatchKind, Result, SegmentCommit, SegmentsCommitted, TxnState};
use sqlx::Row;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use uuid::Uuid;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Per-commit caches of rows read once and written back at the end.
#[derive(Default)]
struct Work {
    /// (topic, partition) -> Some((log_start, next_offset)), or None if the partition does not exist.
    bounds: HashMap<(Uuid, i32), Option<(i64, i64)>>,
    /// (producer, topic, partition) -> (state, changed)
    producers: HashMap<(i64, Uuid, i32), (Option<ProducerState>, bool)>,
    txns: HashMap<i64, Option<TxnView>>,
    /// Index rows of accepted batches, written together at the end.
    rows: Vec<index::Row>,
}

impl SqlMetastore {
    /// Commits `commits` in one transaction, in order, each seeing the ones before it (see
    /// [`crate::Log::commit_segments`]).
    pub(super) async fn commit_segments_impl(&self, commits: Vec<SegmentCommit>) -> Result<SegmentsCommitted> {
        let started = std::time::Instant::now();
        let _w = self.writer().await?;
        let locked = started.elapsed();
        let mut tx = self.begin_write().await?;
        // Each object's row is its fence: a key the collector already recorded as an orphan is refused alone,
        // and nothing of it is stored (see `Objects::fence_orphans`).
        let mut live = Vec::with_capacity(commits.len());
        for commit in &commits {
            live.push(insert_object(&mut tx, commit).await?);
        }
        if !live.contains(&true) {
            return Ok(SegmentsCommitted { segments: vec![None; commits.len()], partitions: Vec::new() });
        }
        let stored = || commits.iter().zip(&live).filter(|(_, l)| **l).map(|(c, _)| c);
        let mut work = Work::default();
        lock_rows(&mut tx, self.backend, &mut work, stored().flat_map(|c| &c.batches)).await?;
        let mut segments = Vec::with_capacity(commits.len());
        // Segments none of whose batches was stored (all refused or duplicates): dead from the start.
        let mut unused = Vec::new();
        for (commit, live) in commits.iter().zip(&live) {
            if !live {
                segments.push(None);
                continue;
            }
            let mut outcomes = Vec::with_capacity(commit.batches.len());
            for set in commit.batches.chunk_by(|a, b| a.record_set == b.record_set) {
                outcomes.extend(append_set(&mut tx, self.backend, &mut work, set).await?);
            }
            if work.rows.is_empty() {
                unused.push(&commit.object_key);
            }
            index::insert(&mut tx, &commit.object_key, &work.rows).await?;
            work.rows.clear();
            segments.push(Some(outcomes));
        }
        let partitions = bounds::store(&mut tx, &work.bounds).await?;
        let now_ms = stored().map(|c| c.created_ms).max().unwrap_or_default();
        let changed =
            work.producers.iter().filter_map(|(k, (s, dirty))| s.as_ref().filter(|_| *dirty).map(|s| (*k, s)));
        producers::store(&mut tx, changed.collect(), now_ms).await?;
        // Only segments without index rows can be dead, so a commit that stored something in each of its
        // segments spends no statement here (one round trip less per produce flush).
        super::objects::mark_dead(&mut tx, self.backend, unused, now_ms).await?;
        super::changes::notify(&mut tx, self.backend, &partitions).await?;
        let committed = SegmentsCommitted { segments, partitions };
        let written = started.elapsed();
        if let Err(e) = tx.commit().await {
            let Some(first) = stored().next() else { return Err(e.into()) };
            return self.resolve_commit(first, committed, e).await;
        }
        tracing::debug!(
            segments = commits.len(),
            writer_wait_ms = locked.as_secs_f64() * 1e3,
            statements_ms = (written - locked).as_secs_f64() * 1e3,
            commit_ms = (started.elapsed() - written).as_secs_f64() * 1e3,
            "segment commit transaction"
        );
        self.files.check().await?;
        Ok(committed)
    }
}

/// Inserts a segment's object row; `false` if the key is already known (fenced by the collector).
async fn insert_object(tx: &mut Tx<'_>, commit: &SegmentCommit) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO objects (object_key, size_bytes, created_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(&commit.object_key)
    .bind(commit.object_size as i64)
    .bind(commit.created_ms)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// Locks, in a fixed order, what the batches will change: first every partition they touch, sorted (so two
/// commits never wait on each other in a cycle), then the transactions of transactional batches and markers,
/// by producer id (as expiry takes them): a marker is checked against its transaction, which cannot complete
/// until this commit ends.
async fn lock_rows<'b>(
    tx: &mut Tx<'_>,
    backend: Backend,
    work: &mut Work,
    batches: impl Iterator<Item = &'b BatchAppend> + Clone,
) -> Result<()> {
    let mut keys: Vec<(Uuid, i32)> = batches.clone().map(|b| (b.topic_id, b.partition)).collect();
    keys.sort_unstable();
    keys.dedup();
    let found = bounds::load(tx, backend, &keys).await?;
    for key in keys {
        work.bounds.insert(key, found.get(&key).copied());
    }
    let states: Vec<producers::Key> =
        batches.clone().filter_map(|b| b.producer.as_ref().map(|p| (p.producer_id, b.topic_id, b.partition))).collect();
    for (key, state) in producers::load(tx, &states).await? {
        work.producers.insert(key, (state, false));
    }
    let mut producers: Vec<i64> =
        batches.filter(|b| needs_txn(b.kind)).filter_map(|b| b.producer.as_ref().map(|p| p.producer_id)).collect();
    producers.sort_unstable();
    producers.dedup();
    for producer_id in producers {
        let view = load_txn_view(tx, backend, producer_id).await?;
        work.txns.insert(producer_id, view);
    }
    Ok(())
}

/// Appends one record set all or none: the decision is taken on the loaded state before anything is written,
/// so a refused set leaves neither rows nor cached state behind.
async fn append_set(
    tx: &mut Tx<'_>,
    backend: Backend,
    work: &mut Work,
    set: &[BatchAppend],
) -> Result<Vec<AppendOutcome>> {
    let Some(first) = set.first() else { return Ok(Vec::new()) };
    let key = (first.topic_id, first.partition);
    if let Entry::Vacant(slot) = work.bounds.entry(key) {
        slot.insert(load_bounds(tx, backend, key).await?);
    }
    let Some(Some((log_start, next))) = work.bounds.get(&key).copied() else {
        return Ok(vec![AppendOutcome::UnknownPartition; set.len()]);
    };
    for b in set {
        let Some(pb) = &b.producer else { continue };
        let pkey = (pb.producer_id, key.0, key.1);
        if let Entry::Vacant(slot) = work.producers.entry(pkey) {
            // Loaded with the commit's other states by `lock_rows`; this is only a fallback.
            let loaded = producers::load(tx, &[pkey]).await?.remove(&pkey).flatten();
            slot.insert((loaded, false));
        }
        if needs_txn(b.kind)
            && let Entry::Vacant(slot) = work.txns.entry(pb.producer_id)
        {
            slot.insert(load_txn_view(tx, backend, pb.producer_id).await?);
        }
    }
    let producers = set
        .iter()
        .filter_map(|b| b.producer.as_ref())
        .map(|pb| {
            let state = work.producers.get(&(pb.producer_id, key.0, key.1)).and_then(|(s, _)| s.clone());
            (pb.producer_id, state)
        })
        .collect();
    let txns = set
        .iter()
        .filter_map(|b| b.producer.as_ref())
        .map(|pb| (pb.producer_id, work.txns.get(&pb.producer_id).cloned().flatten()))
        .collect();
    let refs: Vec<&BatchAppend> = set.iter().collect();
    let state = SetState { partition: key, next_offset: next, producers: &producers, txns: &txns };
    let (bases, states) = match record_set::decide(&refs, &state)? {
        SetDecision::Refuse(outcome) => return Ok(vec![outcome; set.len()]),
        SetDecision::Duplicate { base_offset } => {
            return Ok(vec![AppendOutcome::Duplicate { base_offset, log_start }; set.len()]);
        }
        SetDecision::Append { bases, producers } => (bases, producers),
    };
    let mut outcomes = Vec::with_capacity(set.len());
    let mut end = next;
    for (b, base) in set.iter().zip(bases) {
        end = write_batch(tx, &mut work.rows, b, base).await?;
        outcomes.push(AppendOutcome::Appended { base_offset: base, log_start });
    }
    if let Some(Some(bounds)) = work.bounds.get_mut(&key) {
        bounds.1 = end;
    }
    for (producer_id, s) in states {
        work.producers.insert((producer_id, key.0, key.1), (Some(s), true));
    }
    Ok(outcomes)
}

/// Whether a batch is checked against its producer's transaction (and read-locks it).
fn needs_txn(kind: BatchKind) -> bool {
    matches!(kind, BatchKind::Transactional | BatchKind::Marker { .. })
}

/// A partition's bounds, row-locked until the commit ends (on PostgreSQL).
async fn load_bounds(
    tx: &mut Tx<'_>,
    backend: Backend,
    (topic_id, partition): (Uuid, i32),
) -> Result<Option<(i64, i64)>> {
    let sql = format!(
        "SELECT log_start, next_offset FROM partitions WHERE topic_id = $1 AND partition_id = $2{}",
        backend.for_update()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => Ok(Some((r.try_get::<i64, _>("log_start")?, r.try_get::<i64, _>("next_offset")?))),
        None => Ok(None),
    }
}

/// Queues an accepted batch's index row and writes its transaction bookkeeping; returns the offset after it.
async fn write_batch(tx: &mut Tx<'_>, rows: &mut Vec<index::Row>, b: &BatchAppend, base: i64) -> Result<i64> {
    let last = base + b.offset_span - 1;
    rows.push(index::Row::of(b, base, last));
    if let Some(pb) = &b.producer {
        match b.kind {
            BatchKind::Plain => {}
            BatchKind::Transactional => {
                sqlx::query(
                    "INSERT INTO open_txns (topic_id, partition_id, producer_id, first_offset) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (topic_id, partition_id, producer_id) DO NOTHING",
                )
                .bind(b.topic_id.to_string())
                .bind(i64::from(b.partition))
                .bind(pb.producer_id)
                .bind(base)
                .execute(&mut **tx)
                .await?;
            }
            BatchKind::Marker { commit } => {
                let opened = sqlx::query(
                    "DELETE FROM open_txns WHERE topic_id = $1 AND partition_id = $2 AND producer_id = $3 \
                     RETURNING first_offset",
                )
                .bind(b.topic_id.to_string())
                .bind(i64::from(b.partition))
                .bind(pb.producer_id)
                .fetch_optional(&mut **tx)
                .await?;
                if let (Some(row), false) = (opened, commit) {
                    sqlx::query(
                        "INSERT INTO aborted_txns (topic_id, partition_id, producer_id, first_offset, last_offset) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(b.topic_id.to_string())
                    .bind(i64::from(b.partition))
                    .bind(pb.producer_id)
                    .bind(row.try_get::<i64, _>("first_offset")?)
                    .bind(base)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
    }
    Ok(last + 1)
}

/// The producer's transaction, read-locked so that it cannot end (or be prepared) while this commit adds
/// data or markers to it.
async fn load_txn_view(tx: &mut Tx<'_>, backend: Backend, producer_id: i64) -> Result<Option<TxnView>> {
    let sql = format!(
        "SELECT transactional_id, producer_epoch, state FROM transactions WHERE producer_id = $1{}",
        backend.for_share()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(producer_id).fetch_optional(&mut **tx).await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("transactional_id")?;
    // A placeholder row (a first update still running) is no transaction yet.
    let Some(state) = TxnState::parse(&row.try_get::<String, _>("state")?) else { return Ok(None) };
    let rows = sqlx::query("SELECT topic_id, partition_id FROM txn_partitions WHERE transactional_id = $1")
        .bind(&id)
        .fetch_all(&mut **tx)
        .await?;
    let mut partitions = Vec::with_capacity(rows.len());
    for r in rows {
        partitions.push((
            super::parse_uuid(&r.try_get::<String, _>("topic_id")?)?,
            to_i32(r.try_get("partition_id")?, "partition")?,
        ));
    }
    Ok(Some(TxnView { epoch: super::to_i16(row.try_get("producer_epoch")?, "producer epoch")?, state, partitions }))
}
