//! Transaction coordinator state: atomic read-modify-write of one transactional id, and the read paths of
//! the transaction admin APIs and read_committed fetches.
//!
//! On PostgreSQL the read-modify-write holds the transactional id's row lock. An id without a row has
//! nothing to lock, so a placeholder row (state [`PLACEHOLDER`]) is inserted first: of two agents starting
//! the same new id, the second waits on the first's insert and then reads what it committed. The placeholder
//! is overwritten by the write, or rolled back with a refused update; it is never committed.

use super::{Backend, SqlMetastore, parse_uuid, to_i16, to_i32};
use crate::{
    AbortedTxn, CommittedOffset, MetaError, PendingOffset, Refused, Result, TransactionMeta, TxnPartition, TxnState,
    TxnUpdate,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

macro_rules! txn_columns {
    () => {
        "transactional_id, producer_id, producer_epoch, last_producer_epoch, state, timeout_ms, start_ms, updated_ms"
    };
}

/// The state of a row that only holds the lock of a new transactional id (read as no row).
const PLACEHOLDER: &str = "";

/// Clears what belongs to one transaction besides its row.
const CLEAR_MEMBERS: [&str; 3] = [
    "DELETE FROM txn_partitions WHERE transactional_id = $1",
    "DELETE FROM txn_groups WHERE transactional_id = $1",
    "DELETE FROM txn_offsets WHERE transactional_id = $1",
];

fn txn_from_row(r: &AnyRow) -> Result<TransactionMeta> {
    let state: String = r.try_get("state")?;
    Ok(TransactionMeta {
        transactional_id: r.try_get("transactional_id")?,
        producer_id: r.try_get("producer_id")?,
        producer_epoch: to_i16(r.try_get("producer_epoch")?, "producer epoch")?,
        last_producer_epoch: to_i16(r.try_get("last_producer_epoch")?, "producer epoch")?,
        state: TxnState::parse(&state).ok_or_else(|| MetaError::Corrupt(format!("transaction state {state:?}")))?,
        timeout_ms: to_i32(r.try_get("timeout_ms")?, "transaction timeout")?,
        start_ms: r.try_get("start_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        partitions: Vec::new(),
        groups: Vec::new(),
        pending_offsets: Vec::new(),
    })
}

/// One transactional id with its partitions, groups and pending offsets.
pub(super) async fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<TransactionMeta>> {
    let row = sqlx::query(concat!("SELECT ", txn_columns!(), " FROM transactions WHERE transactional_id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<String, _>("state")? == PLACEHOLDER {
        return Ok(None);
    }
    let mut meta = txn_from_row(&row)?;
    let rows = sqlx::query(
        "SELECT topic, topic_id, partition_id FROM txn_partitions WHERE transactional_id = $1 ORDER BY topic, partition_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        meta.partitions.push(TxnPartition {
            topic: r.try_get("topic")?,
            topic_id: parse_uuid(&r.try_get::<String, _>("topic_id")?)?,
            partition: to_i32(r.try_get("partition_id")?, "partition")?,
        });
    }
    let rows = sqlx::query("SELECT group_id FROM txn_groups WHERE transactional_id = $1 ORDER BY group_id")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        meta.groups.push(r.try_get("group_id")?);
    }
    let rows = sqlx::query(
        "SELECT group_id, topic, partition_id, committed_offset, leader_epoch, metadata, commit_ms FROM txn_offsets \
         WHERE transactional_id = $1 ORDER BY group_id, topic, partition_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        meta.pending_offsets.push(PendingOffset {
            group: r.try_get("group_id")?,
            offset: CommittedOffset {
                topic: r.try_get("topic")?,
                partition: to_i32(r.try_get("partition_id")?, "partition")?,
                offset: r.try_get("committed_offset")?,
                leader_epoch: to_i32(r.try_get("leader_epoch")?, "leader epoch")?,
                metadata: r.try_get("metadata")?,
                commit_ms: r.try_get("commit_ms")?,
            },
        });
    }
    Ok(Some(meta))
}

/// Row-locks `id`'s transaction row, inserting a placeholder first if it has none (PostgreSQL).
async fn lock(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO transactions (",
        txn_columns!(),
        ") VALUES ($1, -1, -1, -1, $2, 0, 0, 0) ON CONFLICT (transactional_id) DO NOTHING"
    ))
    .bind(id)
    .bind(PLACEHOLDER)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT transactional_id FROM transactions WHERE transactional_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

async fn store(conn: &mut AnyConnection, m: &TransactionMeta) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO transactions (",
        txn_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (transactional_id) DO UPDATE SET producer_id = excluded.producer_id, \
         producer_epoch = excluded.producer_epoch, last_producer_epoch = excluded.last_producer_epoch, \
         state = excluded.state, timeout_ms = excluded.timeout_ms, start_ms = excluded.start_ms, \
         updated_ms = excluded.updated_ms"
    ))
    .bind(&m.transactional_id)
    .bind(m.producer_id)
    .bind(i64::from(m.producer_epoch))
    .bind(i64::from(m.last_producer_epoch))
    .bind(m.state.as_str())
    .bind(i64::from(m.timeout_ms))
    .bind(m.start_ms)
    .bind(m.updated_ms)
    .execute(&mut *conn)
    .await?;
    for sql in CLEAR_MEMBERS {
        sqlx::query(sql).bind(&m.transactional_id).execute(&mut *conn).await?;
    }
    for p in &m.partitions {
        sqlx::query(
            "INSERT INTO txn_partitions (transactional_id, topic, topic_id, partition_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (transactional_id, topic_id, partition_id) DO NOTHING",
        )
        .bind(&m.transactional_id)
        .bind(&p.topic)
        .bind(p.topic_id.to_string())
        .bind(i64::from(p.partition))
        .execute(&mut *conn)
        .await?;
    }
    for g in &m.groups {
        sqlx::query(
            "INSERT INTO txn_groups (transactional_id, group_id) VALUES ($1, $2) \
             ON CONFLICT (transactional_id, group_id) DO NOTHING",
        )
        .bind(&m.transactional_id)
        .bind(g)
        .execute(&mut *conn)
        .await?;
    }
    for p in &m.pending_offsets {
        let o = &p.offset;
        sqlx::query(
            "INSERT INTO txn_offsets (transactional_id, group_id, topic, partition_id, committed_offset, leader_epoch, \
             metadata, commit_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (transactional_id, group_id, topic, partition_id) DO UPDATE SET \
             committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch, \
             metadata = excluded.metadata, commit_ms = excluded.commit_ms",
        )
        .bind(&m.transactional_id)
        .bind(&p.group)
        .bind(&o.topic)
        .bind(i64::from(o.partition))
        .bind(o.offset)
        .bind(i64::from(o.leader_epoch))
        .bind(o.metadata.clone())
        .bind(o.commit_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl SqlMetastore {
    pub(super) async fn update_transaction_impl(
        &self,
        transactional_id: &str,
        update: TxnUpdate<'_>,
    ) -> Result<std::result::Result<TransactionMeta, Refused>> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            lock(&mut tx, transactional_id).await?;
        }
        let current = load(&mut tx, transactional_id).await?;
        let write = match update(current.clone()) {
            Ok(w) => w,
            Err(refused) => return Ok(Err(refused)),
        };
        if write.meta.transactional_id != transactional_id {
            return Err(MetaError::Corrupt(format!(
                "transaction update for {transactional_id:?} returned {:?}",
                write.meta.transactional_id
            )));
        }
        if current.as_ref() != Some(&write.meta) {
            store(&mut tx, &write.meta).await?;
        }
        let mut publish: Vec<&PendingOffset> = write.publish_offsets.iter().collect();
        publish.sort_by(|a, b| {
            (&a.group, &a.offset.topic, a.offset.partition).cmp(&(&b.group, &b.offset.topic, b.offset.partition))
        });
        // In key order, as every writer of group offsets takes their rows (no lock cycles on PostgreSQL).
        for p in publish {
            super::groups::upsert_offset(&mut tx, &p.group, &p.offset).await?;
        }
        self.commit(tx).await?;
        Ok(Ok(write.meta))
    }

    pub(super) async fn list_transactions_impl(&self, states: Option<&[TxnState]>) -> Result<Vec<TransactionMeta>> {
        let rows = match states {
            None => {
                sqlx::query(concat!("SELECT ", txn_columns!(), " FROM transactions ORDER BY transactional_id"))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some([]) => return Ok(Vec::new()),
            Some(states @ [first, ..]) => {
                // The filter runs in SQL (the periodic timeout check asks for open transactions only); the
                // six placeholders cover every distinct state, padded by repeating the first.
                let mut distinct: Vec<TxnState> = Vec::with_capacity(TxnState::ALL.len());
                for s in states {
                    if !distinct.contains(s) {
                        distinct.push(*s);
                    }
                }
                let mut query = sqlx::query(concat!(
                    "SELECT ",
                    txn_columns!(),
                    " FROM transactions WHERE state IN ($1, $2, $3, $4, $5, $6) ORDER BY transactional_id"
                ));
                for i in 0..TxnState::ALL.len() {
                    query = query.bind(distinct.get(i).unwrap_or(first).as_str());
                }
                query.fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(txn_from_row).collect()
    }

    pub(super) async fn expire_transactions_impl(&self, older_than_ms: i64) -> Result<u64> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT transactional_id FROM transactions WHERE updated_ms < $1 \
             AND state IN ('Empty', 'CompleteCommit', 'CompleteAbort') ORDER BY producer_id",
        )
        .bind(older_than_ms)
        .fetch_all(&mut *tx)
        .await?;
        let mut expired = 0;
        for r in &rows {
            let id: String = r.try_get("transactional_id")?;
            // Checked again as it is deleted: another agent may have reused the id since the SELECT.
            let gone = sqlx::query(
                "DELETE FROM transactions WHERE transactional_id = $1 AND updated_ms < $2 \
                 AND state IN ('Empty', 'CompleteCommit', 'CompleteAbort')",
            )
            .bind(&id)
            .bind(older_than_ms)
            .execute(&mut *tx)
            .await?;
            if gone.rows_affected() == 0 {
                continue;
            }
            expired += 1;
            for sql in CLEAR_MEMBERS {
                sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
            }
        }
        self.commit(tx).await?;
        Ok(expired)
    }

    pub(super) async fn aborted_transactions_impl(
        &self,
        topic_id: Uuid,
        partition: i32,
        from_offset: i64,
        to_offset: i64,
    ) -> Result<Vec<AbortedTxn>> {
        let rows = sqlx::query(
            "SELECT producer_id, first_offset, last_offset FROM aborted_txns WHERE topic_id = $1 AND partition_id = $2 \
             AND last_offset >= $3 AND first_offset < $4 ORDER BY first_offset",
        )
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .bind(from_offset)
        .bind(to_offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AbortedTxn {
                    producer_id: r.try_get("producer_id")?,
                    first_offset: r.try_get("first_offset")?,
                    last_offset: r.try_get("last_offset")?,
                })
            })
            .collect()
    }

    pub(super) async fn pending_txn_offsets_impl(&self, group: &str) -> Result<Vec<(String, i32)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT topic, partition_id FROM txn_offsets WHERE group_id = $1 ORDER BY topic, partition_id",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("topic")?, to_i32(r.try_get("partition_id")?, "partition")?))).collect()
    }
}

#[async_trait::async_trait]
impl crate::Transactions for SqlMetastore {
    async fn update_transaction(
        &self,
        transactional_id: &str,
        update: TxnUpdate<'_>,
    ) -> Result<std::result::Result<TransactionMeta, Refused>> {
        super::timed("update_transaction", self.update_transaction_impl(transactional_id, update)).await
    }

    async fn transaction(&self, transactional_id: &str) -> Result<Option<TransactionMeta>> {
        let mut conn = self.pool.acquire().await?;
        super::txn::load(&mut conn, transactional_id).await
    }

    async fn list_transactions(&self, states: Option<&[TxnState]>) -> Result<Vec<TransactionMeta>> {
        self.list_transactions_impl(states).await
    }

    async fn expire_transactions(&self, older_than_ms: i64) -> Result<u64> {
        self.expire_transactions_impl(older_than_ms).await
    }
}
