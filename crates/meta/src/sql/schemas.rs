//! [`Schemas`] on SQL (schema v13): `registry_schemas` by global id (with `registry_references`),
//! `registry_versions` per subject, `registry_settings` per scope ('' is global), and `registry_state`, whose one
//! row holds the next id. Every registration and deletion first locks that row (`FOR UPDATE` on PostgreSQL; the
//! writer lock on SQLite), so registry writers of all agents take turns; the unique keys (id, fingerprint,
//! subject and version) are the backstop.

use super::{SqlMetastore, timed, to_i32};
use crate::{
    Deletion, Placement, Registration, RegistryConfig, Result, SchemaContent, SchemaReference, Schemas, StoredSchema,
    SubjectVersion,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

fn scope(subject: Option<&str>) -> &str {
    subject.unwrap_or("")
}

fn version_from_row(row: &AnyRow) -> Result<SubjectVersion> {
    Ok(SubjectVersion {
        subject: row.try_get("subject")?,
        version: to_i32(row.try_get("version")?, "schema version")?,
        schema_id: to_i32(row.try_get("schema_id")?, "schema id")?,
        deleted: row.try_get::<i32, _>("deleted")? != 0,
    })
}

async fn versions_in(tx: &mut Tx<'_>, subject: &str) -> Result<Vec<SubjectVersion>> {
    let rows = sqlx::query(
        "SELECT subject, version, schema_id, deleted FROM registry_versions WHERE subject = $1 ORDER BY version",
    )
    .bind(subject)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(version_from_row).collect()
}

async fn referrers_in(tx: &mut Tx<'_>, subject: &str, versions: &[i32]) -> Result<Vec<i32>> {
    let mut ids = Vec::new();
    for version in versions {
        let rows = sqlx::query(
            "SELECT DISTINCT schema_id FROM registry_references WHERE ref_subject = $1 AND ref_version = $2",
        )
        .bind(subject)
        .bind(i64::from(*version))
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            ids.push(to_i32(row.try_get("schema_id")?, "schema id")?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Removes the schema `id` (and its references) once no version uses it.
async fn drop_if_unused(tx: &mut Tx<'_>, id: i32) -> Result<()> {
    for sql in [
        "DELETE FROM registry_references WHERE schema_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM registry_versions WHERE schema_id = $1)",
        "DELETE FROM registry_schemas WHERE schema_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM registry_versions WHERE schema_id = $1)",
    ] {
        sqlx::query(sql).bind(i64::from(id)).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_schema(tx: &mut Tx<'_>, id: i32, content: &SchemaContent) -> Result<()> {
    sqlx::query(
        "INSERT INTO registry_schemas (schema_id, schema_type, schema_text, fingerprint) VALUES ($1, $2, $3, $4)",
    )
    .bind(i64::from(id))
    .bind(&content.schema_type)
    .bind(&content.text)
    .bind(&content.fingerprint)
    .execute(&mut **tx)
    .await?;
    for (position, r) in content.references.iter().enumerate() {
        sqlx::query(
            "INSERT INTO registry_references (schema_id, position, ref_name, ref_subject, ref_version) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(i64::from(id))
        .bind(position as i64)
        .bind(&r.name)
        .bind(&r.subject)
        .bind(i64::from(r.version))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn id_of_fingerprint(executor: impl sqlx::AnyExecutor<'_>, fingerprint: &str) -> Result<Option<i32>> {
    let row = sqlx::query("SELECT schema_id FROM registry_schemas WHERE fingerprint = $1")
        .bind(fingerprint)
        .fetch_optional(executor)
        .await?;
    row.map(|r| to_i32(r.try_get("schema_id")?, "schema id")).transpose()
}

/// The id a registration uses: the explicit one (if it clashes with nothing), that of equal content, or the next.
fn choose_id(
    placement: Placement,
    existing: Option<i32>,
    explicit_holder: Option<&str>,
    content: &SchemaContent,
    next_id: i32,
) -> std::result::Result<i32, String> {
    match placement.id {
        Some(id) => {
            if let Some(fingerprint) = explicit_holder
                && fingerprint != content.fingerprint
            {
                return Err(format!("schema id {id} is already used by a different schema"));
            }
            match existing {
                Some(other) if other != id => Err(format!("this schema is already registered with id {other}")),
                _ => Ok(id),
            }
        }
        None => Ok(existing.unwrap_or(next_id)),
    }
}

impl SqlMetastore {
    /// Starts a registry write: the writer lock (SQLite) and the `registry_state` row lock (PostgreSQL).
    async fn registry_tx(&self) -> Result<(Tx<'_>, i32)> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT next_id FROM registry_state WHERE singleton = 1{}", self.backend.for_update());
        let next: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).fetch_one(&mut *tx).await?;
        Ok((tx, to_i32(next, "next schema id")?))
    }

    async fn register_schema_impl(
        &self,
        subject: &str,
        content: &SchemaContent,
        placement: Placement,
        expect_latest: Option<Option<i32>>,
    ) -> Result<Registration> {
        let _w = self.writer().await?;
        let (mut tx, next_id) = self.registry_tx().await?;
        let versions = versions_in(&mut tx, subject).await?;
        let existing = id_of_fingerprint(&mut *tx, &content.fingerprint).await?;
        if let Some(id) = existing
            && placement.id.is_none_or(|p| p == id)
            && let Some(v) = versions.iter().find(|v| !v.deleted && v.schema_id == id)
            && placement.version.is_none_or(|p| p == v.version)
        {
            return Ok(Registration::Existing { id, version: v.version });
        }
        let latest = versions.iter().filter(|v| !v.deleted).map(|v| v.version).max();
        if let Some(expected) = expect_latest
            && expected != latest
        {
            return Ok(Registration::Stale { latest });
        }
        let holder = match placement.id {
            Some(id) => {
                sqlx::query_scalar::<_, String>("SELECT fingerprint FROM registry_schemas WHERE schema_id = $1")
                    .bind(i64::from(id))
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let id = match choose_id(placement, existing, holder.as_deref(), content, next_id) {
            Ok(id) => id,
            Err(reason) => return Ok(Registration::Conflict { reason }),
        };
        let version = match placement.version {
            Some(v) if versions.iter().any(|x| x.version == v) => {
                return Ok(Registration::Conflict { reason: format!("version {v} of subject {subject:?} exists") });
            }
            Some(v) => v,
            None => versions.iter().map(|v| v.version).max().unwrap_or(0) + 1,
        };
        if existing.is_none() && holder.is_none() {
            insert_schema(&mut tx, id, content).await?;
        }
        sqlx::query("UPDATE registry_state SET next_id = $1 WHERE singleton = 1 AND next_id < $1")
            .bind(i64::from(id) + 1)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO registry_versions (subject, version, schema_id, deleted) VALUES ($1, $2, $3, 0)")
            .bind(subject)
            .bind(i64::from(version))
            .bind(i64::from(id))
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(Registration::Registered { id, version })
    }

    async fn delete_version_impl(&self, subject: &str, version: i32, permanent: bool) -> Result<Deletion> {
        let _w = self.writer().await?;
        let (mut tx, _) = self.registry_tx().await?;
        let versions = versions_in(&mut tx, subject).await?;
        if versions.is_empty() {
            return Ok(Deletion::NoSubject);
        }
        let Some(row) = versions.iter().find(|v| v.version == version) else { return Ok(Deletion::NoVersion) };
        match (permanent, row.deleted) {
            (false, true) => return Ok(Deletion::AlreadySoftDeleted),
            (true, false) => return Ok(Deletion::NotSoftDeleted),
            _ => {}
        }
        let referrers = referrers_in(&mut tx, subject, &[version]).await?;
        if !referrers.is_empty() {
            return Ok(Deletion::Referenced(referrers));
        }
        self.remove_versions(&mut tx, subject, std::slice::from_ref(row), permanent).await?;
        self.commit(tx).await?;
        Ok(Deletion::Deleted(vec![version]))
    }

    async fn delete_subject_impl(&self, subject: &str, permanent: bool) -> Result<Deletion> {
        let _w = self.writer().await?;
        let (mut tx, _) = self.registry_tx().await?;
        let versions = versions_in(&mut tx, subject).await?;
        if versions.is_empty() {
            return Ok(Deletion::NoSubject);
        }
        let live: Vec<SubjectVersion> = versions.iter().filter(|v| !v.deleted).cloned().collect();
        let targets = match permanent {
            false if live.is_empty() => return Ok(Deletion::AlreadySoftDeleted),
            false => live,
            true if !live.is_empty() => return Ok(Deletion::NotSoftDeleted),
            true => versions,
        };
        let numbers: Vec<i32> = targets.iter().map(|v| v.version).collect();
        let referrers = referrers_in(&mut tx, subject, &numbers).await?;
        if !referrers.is_empty() {
            return Ok(Deletion::Referenced(referrers));
        }
        self.remove_versions(&mut tx, subject, &targets, permanent).await?;
        if permanent {
            sqlx::query("DELETE FROM registry_settings WHERE scope = $1").bind(subject).execute(&mut *tx).await?;
        }
        self.commit(tx).await?;
        Ok(Deletion::Deleted(numbers))
    }

    async fn remove_versions(
        &self,
        tx: &mut Tx<'_>,
        subject: &str,
        rows: &[SubjectVersion],
        permanent: bool,
    ) -> Result<()> {
        for row in rows {
            let sql = if permanent {
                "DELETE FROM registry_versions WHERE subject = $1 AND version = $2"
            } else {
                "UPDATE registry_versions SET deleted = 1 WHERE subject = $1 AND version = $2"
            };
            sqlx::query(sql).bind(subject).bind(i64::from(row.version)).execute(&mut **tx).await?;
            if permanent {
                drop_if_unused(tx, row.schema_id).await?;
            }
        }
        Ok(())
    }

    async fn set_settings(
        &self,
        subject: Option<&str>,
        columns: &str,
        values: (Option<String>, Option<i64>),
    ) -> Result<()> {
        let _w = self.writer().await?;
        let mut tx = self.begin_write().await?;
        let sql = match columns {
            "config" => {
                "INSERT INTO registry_settings (scope, compatibility, normalize) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope) DO UPDATE SET compatibility = excluded.compatibility, normalize = excluded.normalize"
            }
            _ => {
                "INSERT INTO registry_settings (scope, mode) VALUES ($1, $2) \
                 ON CONFLICT (scope) DO UPDATE SET mode = excluded.mode"
            }
        };
        let query = sqlx::query(sql).bind(scope(subject)).bind(values.0);
        let query = if columns == "config" { query.bind(values.1) } else { query };
        query.execute(&mut *tx).await?;
        sqlx::query(
            "DELETE FROM registry_settings WHERE scope = $1 \
             AND compatibility IS NULL AND normalize IS NULL AND mode IS NULL",
        )
        .bind(scope(subject))
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await
    }

    async fn settings_row(&self, subject: Option<&str>) -> Result<Option<AnyRow>> {
        Ok(sqlx::query("SELECT compatibility, normalize, mode FROM registry_settings WHERE scope = $1")
            .bind(scope(subject))
            .fetch_optional(&self.pool)
            .await?)
    }
}

#[async_trait]
impl Schemas for SqlMetastore {
    async fn register_schema(
        &self,
        subject: &str,
        content: &SchemaContent,
        placement: Placement,
        expect_latest: Option<Option<i32>>,
    ) -> Result<Registration> {
        timed("register_schema", self.register_schema_impl(subject, content, placement, expect_latest)).await
    }

    async fn schema_by_id(&self, id: i32) -> Result<Option<StoredSchema>> {
        let row =
            sqlx::query("SELECT schema_type, schema_text, fingerprint FROM registry_schemas WHERE schema_id = $1")
                .bind(i64::from(id))
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let refs = sqlx::query(
            "SELECT ref_name, ref_subject, ref_version FROM registry_references WHERE schema_id = $1 ORDER BY position",
        )
        .bind(i64::from(id))
        .fetch_all(&self.pool)
        .await?;
        let references = refs
            .iter()
            .map(|r| {
                Ok(SchemaReference {
                    name: r.try_get("ref_name")?,
                    subject: r.try_get("ref_subject")?,
                    version: to_i32(r.try_get("ref_version")?, "referenced version")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let content = SchemaContent {
            schema_type: row.try_get("schema_type")?,
            text: row.try_get("schema_text")?,
            references,
            fingerprint: row.try_get("fingerprint")?,
        };
        Ok(Some(StoredSchema { id, content }))
    }

    async fn schema_id_by_fingerprint(&self, fingerprint: &str) -> Result<Option<i32>> {
        id_of_fingerprint(&self.pool, fingerprint).await
    }

    async fn subjects(&self, include_deleted: bool) -> Result<Vec<String>> {
        let sql = if include_deleted {
            "SELECT DISTINCT subject FROM registry_versions ORDER BY subject"
        } else {
            "SELECT DISTINCT subject FROM registry_versions WHERE deleted = 0 ORDER BY subject"
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("subject")?)).collect()
    }

    async fn subject_versions(&self, subject: &str) -> Result<Vec<SubjectVersion>> {
        let rows = sqlx::query(
            "SELECT subject, version, schema_id, deleted FROM registry_versions WHERE subject = $1 ORDER BY version",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn schema_usages(&self, id: i32) -> Result<Vec<SubjectVersion>> {
        let rows = sqlx::query(
            "SELECT subject, version, schema_id, deleted FROM registry_versions WHERE schema_id = $1 \
             ORDER BY subject, version",
        )
        .bind(i64::from(id))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn referenced_by(&self, subject: &str, version: i32) -> Result<Vec<i32>> {
        let rows = sqlx::query(
            "SELECT DISTINCT schema_id FROM registry_references WHERE ref_subject = $1 AND ref_version = $2 \
             ORDER BY schema_id",
        )
        .bind(subject)
        .bind(i64::from(version))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| to_i32(r.try_get("schema_id")?, "schema id")).collect()
    }

    async fn delete_schema_version(&self, subject: &str, version: i32, permanent: bool) -> Result<Deletion> {
        timed("delete_schema_version", self.delete_version_impl(subject, version, permanent)).await
    }

    async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Deletion> {
        timed("delete_subject", self.delete_subject_impl(subject, permanent)).await
    }

    async fn registry_config(&self, subject: Option<&str>) -> Result<RegistryConfig> {
        let Some(row) = self.settings_row(subject).await? else { return Ok(RegistryConfig::default()) };
        Ok(RegistryConfig {
            compatibility: row.try_get("compatibility")?,
            normalize: row.try_get::<Option<i32>, _>("normalize")?.map(|n| n != 0),
        })
    }

    async fn set_registry_config(&self, subject: Option<&str>, config: &RegistryConfig) -> Result<()> {
        let values = (config.compatibility.clone(), config.normalize.map(i64::from));
        timed("set_registry_config", self.set_settings(subject, "config", values)).await
    }

    async fn registry_mode(&self, subject: Option<&str>) -> Result<Option<String>> {
        let Some(row) = self.settings_row(subject).await? else { return Ok(None) };
        Ok(row.try_get("mode")?)
    }

    async fn set_registry_mode(&self, subject: Option<&str>, mode: Option<&str>) -> Result<()> {
        timed("set_registry_mode", self.set_settings(subject, "mode", (mode.map(str::to_string), None))).await
    }
}
