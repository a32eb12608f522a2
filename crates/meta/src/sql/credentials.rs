//! SCRAM credentials on SQL: one row per (user, mechanism); key material as lowercase hex text, which both
//! backends store and compare alike. Every write is one statement, atomic on any backend.

use super::SqlMetastore;
use crate::{Credentials, MetaError, Result, ScramCredential};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! select {
    ($tail:literal) => {
        concat!("SELECT user_name, mechanism, salt, stored_key, server_key, iterations FROM scram_credentials", $tail)
    };
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str, what: &str) -> Result<Vec<u8>> {
    let bad = || MetaError::Corrupt(format!("scram credential {what} is not hex: {text:?}"));
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()).ok_or_else(bad))
        .collect()
}

fn credential_from_row(row: &AnyRow) -> Result<ScramCredential> {
    Ok(ScramCredential {
        user: row.try_get("user_name")?,
        mechanism: row.try_get("mechanism")?,
        salt: unhex(&row.try_get::<String, _>("salt")?, "salt")?,
        stored_key: unhex(&row.try_get::<String, _>("stored_key")?, "stored key")?,
        server_key: unhex(&row.try_get::<String, _>("server_key")?, "server key")?,
        iterations: super::to_i32(row.try_get("iterations")?, "scram iterations")?,
    })
}

impl SqlMetastore {
    async fn put_scram_credential_impl(&self, c: &ScramCredential) -> Result<()> {
        let _w = self.writer().await?;
        sqlx::query(
            "INSERT INTO scram_credentials (user_name, mechanism, salt, stored_key, server_key, iterations) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_name, mechanism) DO UPDATE SET \
             salt = excluded.salt, stored_key = excluded.stored_key, server_key = excluded.server_key, \
             iterations = excluded.iterations",
        )
        .bind(&c.user)
        .bind(&c.mechanism)
        .bind(hex(&c.salt))
        .bind(hex(&c.stored_key))
        .bind(hex(&c.server_key))
        .bind(i64::from(c.iterations))
        .execute(&self.pool)
        .await?;
        self.files.check().await
    }

    async fn delete_scram_credential_impl(&self, user: &str, mechanism: &str) -> Result<bool> {
        let _w = self.writer().await?;
        let done = sqlx::query("DELETE FROM scram_credentials WHERE user_name = $1 AND mechanism = $2")
            .bind(user)
            .bind(mechanism)
            .execute(&self.pool)
            .await?;
        self.files.check().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn scram_credentials_of(&self, user: &str) -> Result<Vec<ScramCredential>> {
        let sql = select!(" WHERE user_name = $1 ORDER BY mechanism");
        let rows = sqlx::query(sql).bind(user).fetch_all(&self.pool).await?;
        rows.iter().map(credential_from_row).collect()
    }
}

#[async_trait]
impl Credentials for SqlMetastore {
    async fn scram_credential(&self, user: &str, mechanism: &str) -> Result<Option<ScramCredential>> {
        let sql = select!(" WHERE user_name = $1 AND mechanism = $2");
        let row = sqlx::query(sql).bind(user).bind(mechanism).fetch_optional(&self.pool).await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    async fn scram_credentials(&self, users: Option<&[String]>) -> Result<Vec<ScramCredential>> {
        match users {
            None => {
                let sql = select!(" ORDER BY user_name, mechanism");
                let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
                rows.iter().map(credential_from_row).collect()
            }
            Some(users) => {
                let mut sorted: Vec<&String> = users.iter().collect();
                sorted.sort();
                sorted.dedup();
                let mut out = Vec::new();
                for user in sorted {
                    out.extend(self.scram_credentials_of(user).await?);
                }
                Ok(out)
            }
        }
    }

    async fn put_scram_credential(&self, credential: &ScramCredential) -> Result<()> {
        super::timed("put_scram_credential", self.put_scram_credential_impl(credential)).await
    }

    async fn delete_scram_credential(&self, user: &str, mechanism: &str) -> Result<bool> {
        super::timed("delete_scram_credential", self.delete_scram_credential_impl(user, mechanism)).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(super::unhex(&super::hex(&bytes), "t").unwrap(), bytes);
        assert!(super::unhex("abc", "t").is_err());
        assert!(super::unhex("zz", "t").is_err());
        assert!(super::unhex("é1", "t").is_err());
    }
}
