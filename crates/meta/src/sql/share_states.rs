//! Share-group partition state on SQL: one row per (group, topic id, partition) with both epochs, the start
//! offset and the in-flight runs as a JSON array of `[first, last, state, count]` (bounded by the in-flight
//! limit, always read and written whole). A deleted state stays as a tombstone (start offset -1).

use super::{SqlMetastore, parse_uuid, to_i32};
use crate::{MetaError, Result, ShareEpochs, SharePartitionKey, ShareStartOffset, ShareStateBatch, ShareStateRecord};
use sqlx::Row;
use uuid::Uuid;

type BatchTuple = (i64, i64, i8, i16);

/// Deleting a state leaves a tombstone with the next state epoch, so epochs are never reused.
macro_rules! tombstone {
    ($filter:literal) => {
        concat!("UPDATE share_states SET state_epoch = state_epoch + 1, start_offset = -1, batches = '[]' ", $filter)
    };
}

fn encode_batches(batches: &[ShareStateBatch]) -> Result<String> {
    let tuples: Vec<BatchTuple> =
        batches.iter().map(|b| (b.first_offset, b.last_offset, b.delivery_state, b.delivery_count)).collect();
    serde_json::to_string(&tuples).map_err(|e| MetaError::Corrupt(format!("share state batches: {e}")))
}

fn decode_batches(text: &str, key: &SharePartitionKey) -> Result<Vec<ShareStateBatch>> {
    let tuples: Vec<BatchTuple> = serde_json::from_str(text).map_err(|e| {
        MetaError::Corrupt(format!("share state batches of {}/{}/{}: {e}", key.group, key.topic_id, key.partition))
    })?;
    Ok(tuples
        .into_iter()
        .map(|(first_offset, last_offset, delivery_state, delivery_count)| ShareStateBatch {
            first_offset,
            last_offset,
            delivery_state,
            delivery_count,
        })
        .collect())
}

impl SqlMetastore {
    async fn share_state_impl(&self, key: &SharePartitionKey) -> Result<Option<ShareStateRecord>> {
        let row = sqlx::query(
            "SELECT state_epoch, leader_epoch, start_offset, batches FROM share_states \
             WHERE group_id = $1 AND topic_id = $2 AND partition_id = $3",
        )
        .bind(&key.group)
        .bind(key.topic_id.to_string())
        .bind(i64::from(key.partition))
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(ShareStateRecord {
            key: key.clone(),
            state_epoch: to_i32(r.try_get("state_epoch")?, "share state epoch")?,
            leader_epoch: to_i32(r.try_get("leader_epoch")?, "share leader epoch")?,
            start_offset: r.try_get("start_offset")?,
            batches: decode_batches(&r.try_get::<String, _>("batches")?, key)?,
        }))
    }

    async fn write_share_state_impl(&self, record: &ShareStateRecord, expected: Option<ShareEpochs>) -> Result<bool> {
        let batches = encode_batches(&record.batches)?;
        let key = &record.key;
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        // One statement either way, so the epoch check and the write are atomic on both backends.
        let query = match expected {
            None => sqlx::query(
                "INSERT INTO share_states (group_id, topic_id, partition_id, state_epoch, leader_epoch, start_offset, \
                 batches) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (group_id, topic_id, partition_id) DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE share_states SET state_epoch = $4, leader_epoch = $5, start_offset = $6, batches = $7 \
                 WHERE group_id = $1 AND topic_id = $2 AND partition_id = $3 AND state_epoch = $8 AND leader_epoch = $9",
            ),
        };
        let mut query = query
            .bind(&key.group)
            .bind(key.topic_id.to_string())
            .bind(i64::from(key.partition))
            .bind(i64::from(record.state_epoch))
            .bind(i64::from(record.leader_epoch))
            .bind(record.start_offset)
            .bind(batches);
        if let Some(e) = expected {
            query = query.bind(i64::from(e.state_epoch)).bind(i64::from(e.leader_epoch));
        }
        let written = query.execute(&mut *tx).await?.rows_affected() == 1;
        self.commit(tx).await?;
        Ok(written)
    }

    async fn share_start_offsets_impl(&self, group: &str) -> Result<Vec<ShareStartOffset>> {
        let rows = sqlx::query(
            "SELECT topic_id, partition_id, start_offset, state_epoch FROM share_states WHERE group_id = $1 \
             AND start_offset >= 0 ORDER BY topic_id, partition_id",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShareStartOffset {
                    topic_id: parse_uuid(&r.try_get::<String, _>("topic_id")?)?,
                    partition: to_i32(r.try_get("partition_id")?, "partition")?,
                    start_offset: r.try_get("start_offset")?,
                    state_epoch: to_i32(r.try_get("state_epoch")?, "share state epoch")?,
                })
            })
            .collect()
    }

    async fn alter_share_start_offsets_impl(
        &self,
        group: &str,
        offsets: &[(Uuid, i32, i64)],
    ) -> Result<Vec<ShareEpochs>> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        // Rows in key order (no lock cycles on PostgreSQL); answers in the order given.
        let mut order: Vec<usize> = (0..offsets.len()).collect();
        order.sort_by_key(|&i| (offsets[i].0.to_string(), offsets[i].1));
        let mut epochs = vec![ShareEpochs { state_epoch: 0, leader_epoch: 0 }; offsets.len()];
        for i in order {
            let (topic_id, partition, start) = offsets[i];
            let row = sqlx::query(
                "INSERT INTO share_states (group_id, topic_id, partition_id, state_epoch, leader_epoch, start_offset, \
                 batches) VALUES ($1, $2, $3, 0, 0, $4, '[]') ON CONFLICT (group_id, topic_id, partition_id) DO UPDATE \
                 SET state_epoch = share_states.state_epoch + 1, start_offset = excluded.start_offset, batches = '[]' \
                 RETURNING state_epoch, leader_epoch",
            )
            .bind(group)
            .bind(topic_id.to_string())
            .bind(i64::from(partition))
            .bind(start)
            .fetch_one(&mut *tx)
            .await?;
            epochs[i] = ShareEpochs {
                state_epoch: to_i32(row.try_get("state_epoch")?, "share state epoch")?,
                leader_epoch: to_i32(row.try_get("leader_epoch")?, "share leader epoch")?,
            };
        }
        self.commit(tx).await?;
        Ok(epochs)
    }

    async fn delete_share_states_impl(&self, group: &str, partitions: Option<&[(Uuid, i32)]>) -> Result<u64> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let mut removed = 0;
        match partitions {
            None => {
                removed = sqlx::query(tombstone!("WHERE group_id = $1 AND start_offset >= 0"))
                    .bind(group)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            Some(list) => {
                let mut list: Vec<(String, i32)> = list.iter().map(|(t, p)| (t.to_string(), *p)).collect();
                list.sort();
                for (topic_id, partition) in list {
                    removed += sqlx::query(tombstone!(
                        "WHERE group_id = $1 AND topic_id = $2 AND partition_id = $3 AND start_offset >= 0"
                    ))
                    .bind(group)
                    .bind(topic_id)
                    .bind(i64::from(partition))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
        }
        self.commit(tx).await?;
        Ok(removed)
    }
}

#[async_trait::async_trait]
impl crate::ShareStates for SqlMetastore {
    async fn share_state(&self, key: &SharePartitionKey) -> Result<Option<ShareStateRecord>> {
        self.share_state_impl(key).await
    }

    async fn write_share_state(&self, record: &ShareStateRecord, expected: Option<ShareEpochs>) -> Result<bool> {
        super::timed("write_share_state", self.write_share_state_impl(record, expected)).await
    }

    async fn share_start_offsets(&self, group: &str) -> Result<Vec<ShareStartOffset>> {
        self.share_start_offsets_impl(group).await
    }

    async fn alter_share_start_offsets(&self, group: &str, offsets: &[(Uuid, i32, i64)]) -> Result<Vec<ShareEpochs>> {
        super::timed("alter_share_start_offsets", self.alter_share_start_offsets_impl(group, offsets)).await
    }

    async fn delete_share_states(&self, group: &str, partitions: Option<&[(Uuid, i32)]>) -> Result<u64> {
        super::timed("delete_share_states", self.delete_share_states_impl(group, partitions)).await
    }
}
