//! Consumer group offsets and coordinator state on SQL.

use super::{SqlMetastore, to_i32};
use crate::{CommittedOffset, GroupStateRecord, LeaseFence, Result};
use sqlx::Row;

impl SqlMetastore {
    pub(super) async fn commit_offsets_impl(
        &self,
        group: &str,
        offsets: &[CommittedOffset],
        fence: Option<&LeaseFence>,
    ) -> Result<bool> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        if !lease_held(&mut tx, self.backend, fence).await? {
            return Ok(false);
        }
        // In key order, as every writer of group offsets takes their rows (no lock cycles on PostgreSQL).
        let mut sorted: Vec<&CommittedOffset> = offsets.iter().collect();
        sorted.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        for o in sorted {
            upsert_offset(&mut tx, group, o).await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    pub(super) async fn committed_offsets_impl(
        &self,
        group: &str,
        topics: Option<&[String]>,
    ) -> Result<Vec<CommittedOffset>> {
        let rows = sqlx::query(
            "SELECT topic, partition_id, committed_offset, leader_epoch, metadata, commit_ms FROM group_offsets \
             WHERE group_id = $1 ORDER BY topic, partition_id",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let topic: String = r.try_get("topic")?;
            if topics.is_some_and(|t| !t.contains(&topic)) {
                continue;
            }
            out.push(CommittedOffset {
                topic,
                partition: to_i32(r.try_get("partition_id")?, "partition")?,
                offset: r.try_get("committed_offset")?,
                leader_epoch: to_i32(r.try_get("leader_epoch")?, "leader epoch")?,
                metadata: r.try_get("metadata")?,
                commit_ms: r.try_get("commit_ms")?,
            });
        }
        Ok(out)
    }

    pub(super) async fn groups_with_offsets_impl(&self) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT DISTINCT group_id FROM group_offsets ORDER BY group_id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("group_id")?)).collect()
    }

    pub(super) async fn delete_offsets_impl(&self, group: &str, partitions: Option<&[(String, i32)]>) -> Result<u64> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let mut removed = 0;
        match partitions {
            None => {
                removed += sqlx::query("DELETE FROM group_offsets WHERE group_id = $1")
                    .bind(group)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            Some(list) => {
                // In key order, as commits take the rows (no lock cycles on PostgreSQL).
                let mut list: Vec<&(String, i32)> = list.iter().collect();
                list.sort();
                for (topic, partition) in list {
                    removed += sqlx::query(
                        "DELETE FROM group_offsets WHERE group_id = $1 AND topic = $2 AND partition_id = $3",
                    )
                    .bind(group)
                    .bind(topic)
                    .bind(i64::from(*partition))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
        }
        self.commit(tx).await?;
        Ok(removed)
    }

    pub(super) async fn expire_offsets_impl(&self, older_than_ms: i64, active_groups: &[String]) -> Result<u64> {
        let _w = self.writer().await?;
        let rows = sqlx::query("SELECT DISTINCT group_id FROM group_offsets WHERE commit_ms < $1")
            .bind(older_than_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut removed = 0;
        for r in rows {
            let group: String = r.try_get("group_id")?;
            if active_groups.contains(&group) {
                continue;
            }
            removed += sqlx::query("DELETE FROM group_offsets WHERE group_id = $1 AND commit_ms < $2")
                .bind(&group)
                .bind(older_than_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        self.remove_empty_states(active_groups).await?;
        self.files.check().await?;
        Ok(removed)
    }

    /// Deletes the stored state of groups stored as Empty that have no offsets left (not `active_groups`).
    async fn remove_empty_states(&self, active_groups: &[String]) -> Result<()> {
        let rows = sqlx::query(
            "SELECT group_id FROM group_state WHERE state = 'Empty' \
             AND NOT EXISTS (SELECT 1 FROM group_offsets o WHERE o.group_id = group_state.group_id)",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let group: String = r.try_get("group_id")?;
            if active_groups.contains(&group) {
                continue;
            }
            sqlx::query(
                "DELETE FROM group_state WHERE group_id = $1 AND state = 'Empty' \
                 AND NOT EXISTS (SELECT 1 FROM group_offsets o WHERE o.group_id = $1)",
            )
            .bind(&group)
            .execute(&self.pool)
            .await?;
            tracing::debug!(group = %group, "removed the state of an empty group without offsets");
        }
        Ok(())
    }

    pub(super) async fn store_group_state_impl(
        &self,
        g: &GroupStateRecord,
        fence: Option<&LeaseFence>,
    ) -> Result<bool> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        if !lease_held(&mut tx, self.backend, fence).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO group_state (group_id, kind, protocol_type, state, document) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (group_id) DO UPDATE SET kind = excluded.kind, protocol_type = excluded.protocol_type, \
             state = excluded.state, document = excluded.document",
        )
        .bind(&g.group)
        .bind(&g.kind)
        .bind(&g.protocol_type)
        .bind(&g.state)
        .bind(&g.document)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    pub(super) async fn load_group_state_impl(&self, group: &str) -> Result<Option<GroupStateRecord>> {
        let row =
            sqlx::query("SELECT group_id, kind, protocol_type, state, document FROM group_state WHERE group_id = $1")
                .bind(group)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| state_from_row(&r, true)).transpose()
    }

    pub(super) async fn delete_group_state_impl(&self, group: &str) -> Result<bool> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM group_state WHERE group_id = $1")
            .bind(group)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit(tx).await?;
        Ok(removed > 0)
    }

    pub(super) async fn list_group_states_impl(&self) -> Result<Vec<GroupStateRecord>> {
        let rows = sqlx::query("SELECT group_id, kind, protocol_type, state FROM group_state ORDER BY group_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| state_from_row(r, false)).collect()
    }
}

fn state_from_row(r: &sqlx::any::AnyRow, with_document: bool) -> Result<GroupStateRecord> {
    Ok(GroupStateRecord {
        group: r.try_get("group_id")?,
        kind: r.try_get("kind")?,
        protocol_type: r.try_get("protocol_type")?,
        state: r.try_get("state")?,
        document: if with_document { r.try_get("document")? } else { String::new() },
    })
}

/// Stores one committed offset, replacing an earlier commit of the same partition.
pub(super) async fn upsert_offset(conn: &mut sqlx::AnyConnection, group: &str, o: &CommittedOffset) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_offsets (group_id, topic, partition_id, committed_offset, leader_epoch, metadata, commit_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (group_id, topic, partition_id) DO UPDATE SET \
         committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch, \
         metadata = excluded.metadata, commit_ms = excluded.commit_ms",
    )
    .bind(group)
    .bind(&o.topic)
    .bind(i64::from(o.partition))
    .bind(o.offset)
    .bind(i64::from(o.leader_epoch))
    .bind(o.metadata.clone())
    .bind(o.commit_ms)
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl crate::Groups for SqlMetastore {
    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[CommittedOffset],
        fence: Option<&LeaseFence>,
    ) -> Result<bool> {
        super::timed("commit_offsets", self.commit_offsets_impl(group, offsets, fence)).await
    }

    async fn committed_offsets(&self, group: &str, topics: Option<&[String]>) -> Result<Vec<CommittedOffset>> {
        self.committed_offsets_impl(group, topics).await
    }

    async fn groups_with_offsets(&self) -> Result<Vec<String>> {
        self.groups_with_offsets_impl().await
    }

    async fn delete_offsets(&self, group: &str, partitions: Option<&[(String, i32)]>) -> Result<u64> {
        self.delete_offsets_impl(group, partitions).await
    }

    async fn expire_offsets(&self, older_than_ms: i64, active_groups: &[String]) -> Result<u64> {
        self.expire_offsets_impl(older_than_ms, active_groups).await
    }

    async fn pending_txn_offsets(&self, group: &str) -> Result<Vec<(String, i32)>> {
        self.pending_txn_offsets_impl(group).await
    }

    async fn store_group_state(&self, record: &GroupStateRecord, fence: Option<&LeaseFence>) -> Result<bool> {
        super::timed("store_group_state", self.store_group_state_impl(record, fence)).await
    }

    async fn load_group_state(&self, group: &str) -> Result<Option<GroupStateRecord>> {
        self.load_group_state_impl(group).await
    }

    async fn delete_group_state(&self, group: &str) -> Result<bool> {
        super::timed("delete_group_state", self.delete_group_state_impl(group)).await
    }

    async fn list_group_states(&self) -> Result<Vec<GroupStateRecord>> {
        self.list_group_states_impl().await
    }
}

/// Whether `fence`'s lease is held by its holder, unexpired (true without a fence). Share-locked, so the next
/// holder's takeover (an update of the lease row) waits for the transaction that checked.
async fn lease_held(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: super::backend::Backend,
    fence: Option<&LeaseFence>,
) -> Result<bool> {
    let Some(f) = fence else { return Ok(true) };
    let held = format!(
        "SELECT 1 AS one FROM leases WHERE name = $1 AND holder = $2 AND expires_ms > $3{}",
        backend.for_share()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(held.as_str()))
        .bind(&f.name)
        .bind(&f.holder)
        .bind(f.now_ms)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}
