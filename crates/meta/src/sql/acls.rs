//! ACL bindings on SQL: one row per binding (its seven fields are the key, so a binding is stored once) and a
//! one-row version, bumped in the same transaction as every change. On PostgreSQL the version row's lock
//! orders concurrent changes; on SQLite the writer lock does.

use super::{SqlMetastore, to_i16};
use crate::{AclRecord, AclSnapshot, MetaError, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

fn to_i8(v: i64, what: &str) -> Result<i8> {
    i8::try_from(to_i16(v, what)?).map_err(|_| MetaError::Corrupt(format!("{what} {v} out of range")))
}

fn acl_from_row(r: &AnyRow) -> Result<AclRecord> {
    Ok(AclRecord {
        resource_type: to_i8(r.try_get("resource_type")?, "acl resource type")?,
        resource_name: r.try_get("resource_name")?,
        pattern_type: to_i8(r.try_get("pattern_type")?, "acl pattern type")?,
        principal: r.try_get("principal")?,
        host: r.try_get("host")?,
        operation: to_i8(r.try_get("operation")?, "acl operation")?,
        permission: to_i8(r.try_get("permission")?, "acl permission")?,
    })
}

/// Binds the seven fields of `a` as `$1`..`$7`.
fn bind_acl<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    a: &'q AclRecord,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(i64::from(a.resource_type))
        .bind(a.resource_name.as_str())
        .bind(i64::from(a.pattern_type))
        .bind(a.principal.as_str())
        .bind(a.host.as_str())
        .bind(i64::from(a.operation))
        .bind(i64::from(a.permission))
}

const DELETE: &str = "DELETE FROM acls WHERE resource_type = $1 AND resource_name = $2 AND pattern_type = $3 \
                      AND principal = $4 AND host = $5 AND operation = $6 AND permission = $7";

async fn version(tx: &mut Tx<'_>) -> Result<i64> {
    let row = sqlx::query("SELECT version FROM acl_version WHERE singleton = 1").fetch_one(&mut **tx).await?;
    Ok(row.try_get("version")?)
}

async fn bump(tx: &mut Tx<'_>) -> Result<()> {
    sqlx::query("UPDATE acl_version SET version = version + 1 WHERE singleton = 1").execute(&mut **tx).await?;
    Ok(())
}

impl SqlMetastore {
    async fn create_acls_impl(&self, acls: &[AclRecord]) -> Result<i64> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let mut created = 0;
        for a in acls {
            let sql = "INSERT INTO acls (resource_type, resource_name, pattern_type, principal, host, operation, \
                       permission) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
            created += bind_acl(sqlx::query(sql), a).execute(&mut *tx).await?.rows_affected();
        }
        if created > 0 {
            bump(&mut tx).await?;
        }
        let v = version(&mut tx).await?;
        self.commit(tx).await?;
        Ok(v)
    }

    async fn delete_acls_impl(&self, acls: &[AclRecord]) -> Result<Vec<AclRecord>> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let mut removed = Vec::new();
        for a in acls {
            if bind_acl(sqlx::query(DELETE), a).execute(&mut *tx).await?.rows_affected() > 0 {
                removed.push(a.clone());
            }
        }
        if !removed.is_empty() {
            bump(&mut tx).await?;
        }
        self.commit(tx).await?;
        Ok(removed)
    }

    async fn acl_version_impl(&self) -> Result<i64> {
        let row = sqlx::query("SELECT version FROM acl_version WHERE singleton = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get("version")?)
    }

    async fn acls_impl(&self) -> Result<AclSnapshot> {
        // The version first: a change landing in between shows in the rows and moves the version again.
        let version = self.acl_version_impl().await?;
        let rows = sqlx::query(
            "SELECT resource_type, resource_name, pattern_type, principal, host, operation, permission FROM acls \
             ORDER BY resource_type, resource_name, pattern_type, principal, host, operation, permission",
        )
        .fetch_all(&self.pool)
        .await?;
        let acls = rows.iter().map(acl_from_row).collect::<Result<Vec<_>>>()?;
        Ok(AclSnapshot { version, acls })
    }
}

#[async_trait::async_trait]
impl crate::Acls for SqlMetastore {
    async fn create_acls(&self, acls: &[AclRecord]) -> Result<i64> {
        super::timed("create_acls", self.create_acls_impl(acls)).await
    }

    async fn delete_acls(&self, acls: &[AclRecord]) -> Result<Vec<AclRecord>> {
        super::timed("delete_acls", self.delete_acls_impl(acls)).await
    }

    async fn acls(&self) -> Result<AclSnapshot> {
        self.acls_impl().await
    }

    async fn acl_version(&self) -> Result<i64> {
        self.acl_version_impl().await
    }
}
