//! Idempotent producers' states as a commit reads and writes them: per topic, one statement loads the state
//! of every (producer, partition) the commit's batches name, and one multi-row upsert writes back those that
//! changed. One statement per state each way cost an idempotent producer writing to 12 partitions 24 round
//! trips per commit (through sqlx's worker thread on SQLite), three times the rest of the commit.

use super::Tx;
use crate::producer_state::ProducerState;
use crate::sql::{bulk, to_i16, to_i32};
use crate::{MetaError, Result};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// (producer id, topic, partition).
pub(super) type Key = (i64, Uuid, i32);

/// Columns of one upserted row.
const COLUMNS: usize = 7;

/// The stored state of each of `keys` (`None` for a producer new to the partition).
pub(super) async fn load(tx: &mut Tx<'_>, keys: &[Key]) -> Result<HashMap<Key, Option<ProducerState>>> {
    let mut out: HashMap<Key, Option<ProducerState>> = keys.iter().map(|k| (*k, None)).collect();
    let mut topics: BTreeMap<Uuid, (Vec<i64>, Vec<i32>)> = BTreeMap::new();
    for (producer, topic, partition) in keys {
        let (producers, partitions) = topics.entry(*topic).or_default();
        producers.push(*producer);
        partitions.push(*partition);
    }
    for (topic, (mut producers, mut partitions)) in topics {
        producers.sort_unstable();
        producers.dedup();
        partitions.sort_unstable();
        partitions.dedup();
        for ps in producers.chunks(bulk::CHUNK) {
            for parts in partitions.chunks(bulk::CHUNK) {
                // The producers x partitions product may name rows no batch asked for: those are skipped.
                let sql = format!(
                    "SELECT producer_id, partition_id, epoch, last_sequence, recent FROM producer_state \
                     WHERE topic_id = $1 AND producer_id IN ({}) AND partition_id IN ({})",
                    bulk::placeholders(2, ps.len()),
                    bulk::placeholders(2 + ps.len(), parts.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(topic.to_string());
                for p in ps {
                    q = q.bind(*p);
                }
                for p in parts {
                    q = q.bind(i64::from(*p));
                }
                for r in q.fetch_all(&mut **tx).await? {
                    let key = (r.try_get("producer_id")?, topic, to_i32(r.try_get("partition_id")?, "partition")?);
                    if let Some(slot) = out.get_mut(&key) {
                        *slot = Some(parse(&r)?);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn parse(r: &sqlx::any::AnyRow) -> Result<ProducerState> {
    let recent: String = r.try_get("recent")?;
    Ok(ProducerState {
        epoch: to_i16(r.try_get("epoch")?, "producer epoch")?,
        last_sequence: to_i32(r.try_get("last_sequence")?, "sequence")?,
        recent: serde_json::from_str(&recent).map_err(|e| MetaError::Corrupt(format!("producer state: {e}")))?,
    })
}

/// Writes `states` (each key once), in key order, [`bulk::CHUNK`] rows per statement.
pub(super) async fn store(tx: &mut Tx<'_>, mut states: Vec<(Key, &ProducerState)>, now_ms: i64) -> Result<()> {
    states.sort_unstable_by_key(|(k, _)| *k);
    for chunk in states.chunks(bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO producer_state (producer_id, topic_id, partition_id, epoch, last_sequence, recent, \
             updated_ms) VALUES {} ON CONFLICT (producer_id, topic_id, partition_id) DO UPDATE SET \
             epoch = excluded.epoch, last_sequence = excluded.last_sequence, recent = excluded.recent, \
             updated_ms = excluded.updated_ms",
            bulk::value_rows(1, chunk.len(), COLUMNS)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for ((producer_id, topic_id, partition), s) in chunk {
            let recent = serde_json::to_string(&s.recent).map_err(|e| MetaError::Corrupt(e.to_string()))?;
            q = q
                .bind(*producer_id)
                .bind(topic_id.to_string())
                .bind(i64::from(*partition))
                .bind(i64::from(s.epoch))
                .bind(i64::from(s.last_sequence))
                .bind(recent)
                .bind(now_ms);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
