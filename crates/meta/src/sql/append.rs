//! The segment commit: one metastore transaction assigns offsets to every batch of a durable segment object,
//! checks idempotent sequences and transaction membership, and keeps each partition's open and aborted
//! transaction ranges (the last stable offset and Fetch's aborted lists), so the log and its transaction
//! state never disagree.
//!
//! Across processes (PostgreSQL), the commit first locks the rows of every partition it touches, in sorted
//! order (so two commits never wait on each other in a cycle), and read-locks the transactions its
//! transactional batches and markers belong to, by producer id; offsets are then assigned from what it read under those locks. Index
//! rows are written in multi-row statements at the end ([`index`]), a bounded number of round trips per
//! flush. A COMMIT whose outcome is lost with the connection is resolved in [`resolve`].

pub(super) mod index;
mod resolve;

use super::{Backend, SqlMetastore, to_i32};
use crate::producer_state::ProducerState;
use crate::record_set::{self, SetDecision, SetState, TxnView};
use crate::{
    AppendOutcome, BatchAppend, BatchKind, MetaError, PartitionOffsets, Result, SegmentCommit, SegmentCommitted,
    TxnState,
};
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
    pub(super) async fn commit_segment_impl(&self, commit: SegmentCommit) -> Result<SegmentCommitted> {
        let _w = self.writer().await?;
        let mut tx = self.pool.begin().await?;
        // The object's row is the fence: if the collector already recorded this key as an orphan, the
        // commit fails and nothing is acknowledged (see `Objects::fence_orphans`).
        let inserted = sqlx::query(
            "INSERT INTO objects (object_key, size_bytes, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (object_key) DO NOTHING",
        )
        .bind(&commit.object_key)
        .bind(commit.object_size as i64)
        .bind(commit.created_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(MetaError::ObjectFenced { key: commit.object_key });
        }
        let mut work = Work::default();
        let mut keys: Vec<(Uuid, i32)> = commit.batches.iter().map(|b| (b.topic_id, b.partition)).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let bounds = load_bounds(&mut tx, self.backend, key).await?;
            work.bounds.insert(key, bounds);
        }
        // Then the transactions of its transactional batches and markers, by producer id (as expiry takes
        // them): a marker is checked against its transaction, which cannot complete until this commit ends.
        let mut producers: Vec<i64> = commit
            .batches
            .iter()
            .filter(|b| needs_txn(b.kind))
            .filter_map(|b| b.producer.as_ref().map(|p| p.producer_id))
            .collect();
        producers.sort_unstable();
        producers.dedup();
        for producer_id in producers {
            let view = load_txn_view(&mut tx, self.backend, producer_id).await?;
            work.txns.insert(producer_id, view);
        }
        let mut outcomes = Vec::with_capacity(commit.batches.len());
        for set in commit.batches.chunk_by(|a, b| a.record_set == b.record_set) {
            let outcome = append_set(&mut tx, self.backend, &mut work, set).await?;
            outcomes.extend(outcome);
        }
        index::insert(&mut tx, &commit.object_key, &work.rows).await?;
        let mut partitions = Vec::with_capacity(work.bounds.len());
        for ((topic_id, partition), bounds) in &work.bounds {
            let Some((log_start, next)) = bounds else { continue };
            sqlx::query("UPDATE partitions SET next_offset = $1 WHERE topic_id = $2 AND partition_id = $3")
                .bind(*next)
                .bind(topic_id.to_string())
                .bind(i64::from(*partition))
                .execute(&mut *tx)
                .await?;
            let row =
                sqlx::query("SELECT MIN(first_offset) AS lso FROM open_txns WHERE topic_id = $1 AND partition_id = $2")
                    .bind(topic_id.to_string())
                    .bind(i64::from(*partition))
                    .fetch_one(&mut *tx)
                    .await?;
            let last_stable = row.try_get::<Option<i64>, _>("lso")?.unwrap_or(*next);
            partitions.push((
                *topic_id,
                *partition,
                PartitionOffsets { log_start: *log_start, next_offset: *next, last_stable },
            ));
        }
        for ((producer_id, topic_id, partition), (pstate, dirty)) in &work.producers {
            if let (Some(s), true) = (pstate, dirty) {
                store_producer_state(&mut tx, (*producer_id, *topic_id, *partition), s, commit.created_ms).await?;
            }
        }
        // A segment none of whose batches was stored (all refused) is dead from the start.
        super::objects::mark_dead(&mut tx, self.backend, [&commit.object_key], commit.created_ms).await?;
        super::changes::notify(&mut tx, self.backend, &partitions).await?;
        let committed = SegmentCommitted { outcomes, partitions };
        if let Err(e) = tx.commit().await {
            return self.resolve_commit(&commit, committed, e).await;
        }
        self.files.check().await?;
        Ok(committed)
    }
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
            slot.insert((load_producer_state(tx, pkey).await?, false));
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

async fn load_producer_state(
    tx: &mut Tx<'_>,
    (producer_id, topic_id, partition): (i64, Uuid, i32),
) -> Result<Option<ProducerState>> {
    let row = sqlx::query(
        "SELECT epoch, last_sequence, recent FROM producer_state WHERE producer_id = $1 AND topic_id = $2 AND partition_id = $3",
    )
    .bind(producer_id)
    .bind(topic_id.to_string())
    .bind(i64::from(partition))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let recent: String = r.try_get("recent")?;
    Ok(Some(ProducerState {
        epoch: super::to_i16(r.try_get("epoch")?, "producer epoch")?,
        last_sequence: to_i32(r.try_get("last_sequence")?, "sequence")?,
        recent: serde_json::from_str(&recent).map_err(|e| MetaError::Corrupt(format!("producer state: {e}")))?,
    }))
}

async fn store_producer_state(
    tx: &mut Tx<'_>,
    (producer_id, topic_id, partition): (i64, Uuid, i32),
    s: &ProducerState,
    now_ms: i64,
) -> Result<()> {
    let recent = serde_json::to_string(&s.recent).map_err(|e| MetaError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO producer_state (producer_id, topic_id, partition_id, epoch, last_sequence, recent, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (producer_id, topic_id, partition_id) DO UPDATE SET \
         epoch = excluded.epoch, last_sequence = excluded.last_sequence, recent = excluded.recent, \
         updated_ms = excluded.updated_ms",
    )
    .bind(producer_id)
    .bind(topic_id.to_string())
    .bind(i64::from(partition))
    .bind(i64::from(s.epoch))
    .bind(i64::from(s.last_sequence))
    .bind(recent)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
