//! [`GroupConfigs`] on SQL: one row per group in `group_configs` (schema v14) holding the group's configs as a
//! JSON object and a version. Every write is one conditional statement on that row (insert if absent, update
//! or delete if the version still matches), so compare-and-set needs no lock on either backend.

use super::{SqlMetastore, timed};
use crate::{GroupConfigs, MetaError, Result, StoredGroupConfigs};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

fn from_row(r: &AnyRow) -> Result<(String, StoredGroupConfigs)> {
    let group: String = r.try_get("group_id")?;
    let text: String = r.try_get("configs")?;
    let configs = serde_json::from_str::<BTreeMap<String, String>>(&text)
        .map_err(|e| MetaError::Corrupt(format!("configs of group {group:?} are not readable: {e}")))?;
    Ok((group, StoredGroupConfigs { configs, version: r.try_get("version")? }))
}

fn encode(configs: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(configs).map_err(|e| MetaError::Corrupt(format!("group configs not encodable: {e}")))
}

impl SqlMetastore {
    async fn replace_group_configs_impl(
        &self,
        group: &str,
        expected: i64,
        configs: &BTreeMap<String, String>,
    ) -> Result<Option<i64>> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let changed = match (expected, configs.is_empty()) {
            (0, true) => {
                // Nothing to remove: the compare holds while no row exists.
                let row = sqlx::query("SELECT version FROM group_configs WHERE group_id = $1")
                    .bind(group)
                    .fetch_optional(&mut *tx)
                    .await?;
                row.is_none()
            }
            (0, false) => {
                sqlx::query(
                    "INSERT INTO group_configs (group_id, configs, version) VALUES ($1, $2, 1) \
                     ON CONFLICT (group_id) DO NOTHING",
                )
                .bind(group)
                .bind(encode(configs)?)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
            (_, true) => {
                sqlx::query("DELETE FROM group_configs WHERE group_id = $1 AND version = $2")
                    .bind(group)
                    .bind(expected)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1
            }
            (_, false) => {
                sqlx::query(
                    "UPDATE group_configs SET configs = $2, version = version + 1 \
                     WHERE group_id = $1 AND version = $3",
                )
                .bind(group)
                .bind(encode(configs)?)
                .bind(expected)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
        };
        if !changed {
            return Ok(None);
        }
        self.commit(tx).await?;
        Ok(Some(if configs.is_empty() { 0 } else { expected + 1 }))
    }

    async fn delete_group_configs_impl(&self, group: &str) -> Result<bool> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM group_configs WHERE group_id = $1")
            .bind(group)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit(tx).await?;
        Ok(removed > 0)
    }
}

#[async_trait]
impl GroupConfigs for SqlMetastore {
    async fn group_configs(&self, group: &str) -> Result<StoredGroupConfigs> {
        let row = sqlx::query("SELECT group_id, configs, version FROM group_configs WHERE group_id = $1")
            .bind(group)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => from_row(&r)?.1,
            None => StoredGroupConfigs::default(),
        })
    }

    async fn replace_group_configs(
        &self,
        group: &str,
        expected_version: i64,
        configs: &BTreeMap<String, String>,
    ) -> Result<Option<i64>> {
        timed("replace_group_configs", self.replace_group_configs_impl(group, expected_version, configs)).await
    }

    async fn all_group_configs(&self) -> Result<Vec<(String, StoredGroupConfigs)>> {
        let rows = sqlx::query("SELECT group_id, configs, version FROM group_configs ORDER BY group_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn delete_group_configs(&self, group: &str) -> Result<bool> {
        timed("delete_group_configs", self.delete_group_configs_impl(group)).await
    }
}
