//! [`Quotas`] on SQL: one row per (entity, key) in `client_quotas` (schema v8).

use super::{SqlMetastore, timed};
use crate::quota::{decode_part, encode_part};
use crate::{MetaError, QuotaEntity, QuotaRecord, Quotas, Result};
use async_trait::async_trait;
use sqlx::Row;

impl SqlMetastore {
    async fn alter_client_quotas_impl(&self, entity: &QuotaEntity, changes: &[(String, Option<f64>)]) -> Result<()> {
        let (user, client) = (encode_part(&entity.user), encode_part(&entity.client_id));
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        for (key, value) in changes {
            match value {
                Some(value) => {
                    // One statement per key: concurrent writers of one key take turns on its row.
                    sqlx::query(
                        "INSERT INTO client_quotas (user_part, client_part, quota_key, quota_value) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (user_part, client_part, quota_key) \
                         DO UPDATE SET quota_value = excluded.quota_value",
                    )
                    .bind(&user)
                    .bind(&client)
                    .bind(key)
                    .bind(*value)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM client_quotas WHERE user_part = $1 AND client_part = $2 AND quota_key = $3",
                    )
                    .bind(&user)
                    .bind(&client)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        self.commit(tx).await?;
        Ok(())
    }
}

#[async_trait]
impl Quotas for SqlMetastore {
    async fn client_quotas(&self) -> Result<Vec<QuotaRecord>> {
        let rows = sqlx::query(
            "SELECT user_part, client_part, quota_key, quota_value FROM client_quotas \
             ORDER BY user_part, client_part, quota_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let (user, client): (String, String) = (r.try_get("user_part")?, r.try_get("client_part")?);
                let bad = || MetaError::Corrupt(format!("quota entity ({user:?}, {client:?}) is not readable"));
                let entity = QuotaEntity {
                    user: decode_part(&user).ok_or_else(bad)?,
                    client_id: decode_part(&client).ok_or_else(bad)?,
                };
                Ok(QuotaRecord { entity, key: r.try_get("quota_key")?, value: r.try_get("quota_value")? })
            })
            .collect()
    }

    async fn alter_client_quotas(&self, entity: &QuotaEntity, changes: &[(String, Option<f64>)]) -> Result<()> {
        timed("alter_client_quotas", self.alter_client_quotas_impl(entity, changes)).await
    }
}
