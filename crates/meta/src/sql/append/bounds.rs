//! Partition bounds as a commit reads and writes them: per topic, one statement for every partition it
//! touches, instead of one per partition. A produce commit usually touches one topic's partitions, so it reads
//! their bounds (row-locked on PostgreSQL) in one statement and writes their ends, reading back their last
//! stable offsets, in one more; before, 12 partitions cost 36 statements, each a round trip (to SQLite through sqlx's
//! worker thread), most of a busy commit's statement time.

use super::Tx;
use crate::sql::{Backend, bulk, to_i32};
use crate::{PartitionOffsets, Result};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Partitions by topic, in a fixed order (topics by id, partitions by number): the order locks are taken in,
/// so two commits never wait on each other in a cycle.
fn by_topic<'a>(keys: impl IntoIterator<Item = &'a (Uuid, i32)>) -> BTreeMap<Uuid, Vec<i32>> {
    let mut topics: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in keys {
        topics.entry(*topic).or_default().push(*partition);
    }
    for partitions in topics.values_mut() {
        partitions.sort_unstable();
        partitions.dedup();
    }
    topics
}

/// `(log_start, next_offset)` of each partition in `keys` that exists (row-locked until the commit ends, on
/// PostgreSQL); a missing partition has no entry.
pub(super) async fn load(
    tx: &mut Tx<'_>,
    backend: Backend,
    keys: &[(Uuid, i32)],
) -> Result<HashMap<(Uuid, i32), (i64, i64)>> {
    let mut found = HashMap::with_capacity(keys.len());
    for (topic, partitions) in by_topic(keys) {
        for chunk in partitions.chunks(bulk::CHUNK) {
            let sql = format!(
                "SELECT partition_id, log_start, next_offset FROM partitions WHERE topic_id = $1 \
                 AND partition_id IN ({}) ORDER BY partition_id{}",
                bulk::placeholders(2, chunk.len()),
                backend.for_update()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(topic.to_string());
            for p in chunk {
                q = q.bind(i64::from(*p));
            }
            for r in q.fetch_all(&mut **tx).await? {
                let partition = to_i32(r.try_get("partition_id")?, "partition")?;
                found.insert(
                    (topic, partition),
                    (r.try_get::<i64, _>("log_start")?, r.try_get::<i64, _>("next_offset")?),
                );
            }
        }
    }
    Ok(found)
}

/// Writes each partition's new end and returns the bounds it is left with: the last stable offset is the
/// first offset of its oldest open transaction, or the end.
pub(super) async fn store(
    tx: &mut Tx<'_>,
    ends: &HashMap<(Uuid, i32), Option<(i64, i64)>>,
) -> Result<Vec<(Uuid, i32, PartitionOffsets)>> {
    let known: HashMap<(Uuid, i32), (i64, i64)> = ends.iter().filter_map(|(k, b)| b.map(|b| (*k, b))).collect();
    let mut out = Vec::with_capacity(known.len());
    for (topic, partitions) in by_topic(known.keys()) {
        for chunk in partitions.chunks(bulk::CHUNK) {
            let ends: Vec<(i32, i64, i64)> =
                chunk.iter().filter_map(|p| known.get(&(topic, *p)).map(|(start, next)| (*p, *start, *next))).collect();
            let open = write_ends(tx, topic, &ends).await?;
            for (partition, log_start, next) in ends {
                let last_stable = open.get(&partition).copied().flatten().unwrap_or(next);
                out.push((topic, partition, PartitionOffsets { log_start, next_offset: next, last_stable }));
            }
        }
    }
    Ok(out)
}

/// `UPDATE ... SET next_offset = CASE partition_id WHEN .. THEN .. END` for one topic's partitions, returning
/// the first offset of each one's oldest open transaction (`None` without one) in the same statement: the
/// open ranges this commit added or closed are already written, and one round trip less per topic matters
/// on SQLite, where each is a hop to sqlx's worker thread.
async fn write_ends(tx: &mut Tx<'_>, topic: Uuid, ends: &[(i32, i64, i64)]) -> Result<HashMap<i32, Option<i64>>> {
    let mut cases = String::with_capacity(ends.len() * 24);
    for i in 0..ends.len() {
        cases.push_str(&format!(" WHEN ${} THEN ${}", 2 + 2 * i, 3 + 2 * i));
    }
    let sql = format!(
        "UPDATE partitions SET next_offset = CASE partition_id{cases} END WHERE topic_id = $1 AND partition_id IN ({}) \
         RETURNING partition_id, (SELECT MIN(o.first_offset) FROM open_txns o WHERE o.topic_id = partitions.topic_id \
         AND o.partition_id = partitions.partition_id) AS lso",
        bulk::placeholders(2 + 2 * ends.len(), ends.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(topic.to_string());
    for (partition, _, next) in ends {
        q = q.bind(i64::from(*partition)).bind(*next);
    }
    for (partition, _, _) in ends {
        q = q.bind(i64::from(*partition));
    }
    let mut open = HashMap::with_capacity(ends.len());
    for r in q.fetch_all(&mut **tx).await? {
        open.insert(to_i32(r.try_get("partition_id")?, "partition")?, r.try_get::<Option<i64>, _>("lso")?);
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_grouped_by_topic_in_lock_order() {
        let (a, b) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let topics = super::by_topic(&[(b, 3), (a, 7), (b, 1), (a, 7), (a, 0)]);
        assert_eq!(topics.into_iter().collect::<Vec<_>>(), vec![(a, vec![0, 7]), (b, vec![1, 3])]);
    }
}
