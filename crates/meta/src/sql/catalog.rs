//! The catalog on SQL: the cluster id, topics and partitions, topic and cluster configs.

use super::{Backend, SqlMetastore, timed, topic_columns, topic_from_row};
use crate::{Catalog, MetaError, NewTopic, Result, Topic};
use async_trait::async_trait;
use sqlx::Row;
use std::collections::BTreeMap;
use uuid::Uuid;

impl SqlMetastore {
    async fn set_topic_configs_impl(&self, name: &str, configs: BTreeMap<String, String>) -> Result<Topic> {
        let _w = self.writer().await?;
        let json = serde_json::to_string(&configs).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE topics SET configs = $1 WHERE name = $2")
            .bind(json)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::UnknownTopic { name: name.into() });
        }
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE name = $1"))
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        let topic = topic_from_row(&row)?;
        self.commit(tx).await?;
        Ok(topic)
    }

    async fn cluster_configs_impl(&self) -> Result<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT name, value FROM cluster_configs").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("value")?))).collect()
    }

    async fn set_cluster_configs_impl(&self, configs: BTreeMap<String, String>) -> Result<()> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        // The cluster row stands for the whole set: concurrent replacements take turns.
        let lock = format!("SELECT cluster_id FROM cluster WHERE singleton = 1{}", self.backend.for_update());
        sqlx::query(sqlx::AssertSqlSafe(lock.as_str())).fetch_one(&mut *tx).await?;
        sqlx::query("DELETE FROM cluster_configs").execute(&mut *tx).await?;
        for (name, value) in &configs {
            sqlx::query("INSERT INTO cluster_configs (name, value) VALUES ($1, $2)")
                .bind(name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }
}

#[async_trait]
impl Catalog for SqlMetastore {
    async fn cluster_id(&self) -> Result<String> {
        let row = sqlx::query("SELECT cluster_id FROM cluster WHERE singleton = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get("cluster_id")?)
    }

    async fn create_topic(&self, spec: NewTopic) -> Result<Topic> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let configs = serde_json::to_string(&spec.configs).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        // One statement decides between concurrent creations of one name (the loser waits, then conflicts).
        let created = sqlx::query(concat!(
            "INSERT INTO topics (",
            topic_columns!(),
            ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING"
        ))
        .bind(&spec.name)
        .bind(spec.id.to_string())
        .bind(i64::from(spec.partitions))
        .bind(configs)
        .bind(spec.created_ms)
        .execute(&mut *tx)
        .await?;
        if created.rows_affected() == 0 {
            return Err(MetaError::TopicExists { name: spec.name });
        }
        for p in 0..spec.partitions {
            insert_partition(&mut tx, spec.id, p).await?;
        }
        self.commit(tx).await?;
        Ok(Topic {
            name: spec.name,
            id: spec.id,
            partitions: spec.partitions,
            configs: spec.configs,
            created_ms: spec.created_ms,
        })
    }

    async fn delete_topic(&self, name: &str, now_ms: i64) -> Result<Topic> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let topic = topic_in(&mut tx, self.backend, name).await?;
        let id = topic.id.to_string();
        // The partition rows, locked in the order commits lock them, so no commit adds rows in between.
        let lock = format!(
            "SELECT partition_id FROM partitions WHERE topic_id = $1 ORDER BY partition_id{}",
            self.backend.for_update()
        );
        sqlx::query(sqlx::AssertSqlSafe(lock.as_str())).bind(&id).fetch_all(&mut *tx).await?;
        // Batch rows go with the topic; their objects are marked dead once nothing else references them, and
        // the garbage collector deletes them after its grace period.
        let keys: Vec<String> = sqlx::query("SELECT DISTINCT object_key FROM batches WHERE topic_id = $1")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("object_key"))
            .collect::<std::result::Result<_, _>>()?;
        for sql in [
            "DELETE FROM batches WHERE topic_id = $1",
            "DELETE FROM open_txns WHERE topic_id = $1",
            "DELETE FROM aborted_txns WHERE topic_id = $1",
            "DELETE FROM producer_state WHERE topic_id = $1",
            // Share-partition state is keyed by topic id: a topic re-created under the name starts fresh.
            "DELETE FROM share_states WHERE topic_id = $1",
        ] {
            sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM partitions WHERE topic_id = $1").bind(&id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM topics WHERE name = $1").bind(name).execute(&mut *tx).await?;
        super::objects::mark_dead(&mut tx, self.backend, &keys, now_ms).await?;
        self.commit(tx).await?;
        Ok(topic)
    }

    async fn topic(&self, name: &str) -> Result<Option<Topic>> {
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(topic_from_row).transpose()
    }

    async fn topic_by_id(&self, id: Uuid) -> Result<Option<Topic>> {
        let row = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics WHERE topic_id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(topic_from_row).transpose()
    }

    async fn list_topics(&self) -> Result<Vec<Topic>> {
        let rows = sqlx::query(concat!("SELECT ", topic_columns!(), " FROM topics ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(topic_from_row).collect()
    }

    async fn add_partitions(&self, name: &str, total: i32) -> Result<Topic> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let mut topic = topic_in(&mut tx, self.backend, name).await?;
        if total <= topic.partitions {
            return Err(MetaError::BadPartitionCount {
                name: name.into(),
                current: topic.partitions,
                requested: total,
            });
        }
        for p in topic.partitions..total {
            insert_partition(&mut tx, topic.id, p).await?;
        }
        sqlx::query("UPDATE topics SET partitions = $1 WHERE name = $2")
            .bind(i64::from(total))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        topic.partitions = total;
        Ok(topic)
    }

    async fn set_topic_configs(&self, name: &str, configs: BTreeMap<String, String>) -> Result<Topic> {
        timed("set_topic_configs", self.set_topic_configs_impl(name, configs)).await
    }

    async fn cluster_configs(&self) -> Result<BTreeMap<String, String>> {
        self.cluster_configs_impl().await
    }

    async fn set_cluster_configs(&self, configs: BTreeMap<String, String>) -> Result<()> {
        timed("set_cluster_configs", self.set_cluster_configs_impl(configs)).await
    }
}

/// The topic named `name`, read and row-locked inside `tx`; UNKNOWN_TOPIC if there is none.
async fn topic_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, backend: Backend, name: &str) -> Result<Topic> {
    let sql = format!(concat!("SELECT ", topic_columns!(), " FROM topics WHERE name = $1{}"), backend.for_update());
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| MetaError::UnknownTopic { name: name.into() })?;
    topic_from_row(&row)
}

async fn insert_partition(tx: &mut sqlx::Transaction<'_, sqlx::Any>, topic_id: Uuid, partition: i32) -> Result<()> {
    sqlx::query("INSERT INTO partitions (topic_id, partition_id, log_start, next_offset) VALUES ($1, $2, 0, 0)")
        .bind(topic_id.to_string())
        .bind(i64::from(partition))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
