//! `/subjects/...`: listing subjects and versions, registering, looking up, reading and deleting versions.

use super::{Params, SchemaBody, Shared, flag, in_format, optional_flag, version_reply};
use crate::body::{JsonBody, ok};
use crate::error::ApiError;
use crate::registry::VersionRef;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use weft_meta::{Deletion, Placement};

type Result<T> = std::result::Result<T, ApiError>;

pub async fn list(registry: Shared, params: Params) -> Result<Response> {
    let mut subjects = registry.store().subjects(flag(&params, "deleted")).await?;
    if let Some(prefix) = params.get("subjectPrefix") {
        subjects.retain(|s| s.starts_with(prefix.as_str()));
    }
    Ok(ok(json!(subjects)))
}

pub async fn versions(registry: Shared, Path(subject): Path<String>, params: Params) -> Result<Response> {
    let deleted = flag(&params, "deleted");
    let versions = registry.store().subject_versions(&subject).await?;
    let shown: Vec<i32> = versions.iter().filter(|v| deleted || !v.deleted).map(|v| v.version).collect();
    if shown.is_empty() {
        return Err(ApiError::subject_not_found(&subject));
    }
    Ok(ok(json!(shown)))
}

pub async fn register(
    registry: Shared,
    Path(subject): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Result<Response> {
    let submitted = body.submitted()?;
    let import = registry.effective_mode(Some(&subject)).await? == crate::level::Mode::Import;
    // An explicit version counts in IMPORT mode only; elsewhere the next version is taken, as Confluent does.
    let placement = Placement { id: body.id.filter(|id| *id > 0), version: body.version.filter(|_| import) };
    let id = registry.register(&subject, &submitted, placement, optional_flag(&params, "normalize")).await?;
    Ok(ok(json!({"id": id})))
}

pub async fn lookup(
    registry: Shared,
    Path(subject): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Result<Response> {
    let submitted = body.submitted()?;
    let normalize = optional_flag(&params, "normalize");
    let (version, stored) = registry.lookup(&subject, &submitted, normalize, flag(&params, "deleted")).await?;
    Ok(ok(version_reply(&version, &stored)))
}

pub async fn version(registry: Shared, Path((subject, v)): Path<(String, String)>, params: Params) -> Result<Response> {
    let found = registry.find_version(&subject, VersionRef::parse(&v)?, flag(&params, "deleted")).await?;
    let stored = registry.schema(found.schema_id).await?;
    Ok(ok(in_format(&registry, &params, &stored, version_reply(&found, &stored)).await?))
}

pub async fn raw(registry: Shared, Path((subject, v)): Path<(String, String)>, params: Params) -> Result<Response> {
    let found = registry.find_version(&subject, VersionRef::parse(&v)?, flag(&params, "deleted")).await?;
    let stored = registry.schema(found.schema_id).await?;
    Ok(stored.content.text.into_response())
}

pub async fn referenced_by(registry: Shared, Path((subject, v)): Path<(String, String)>) -> Result<Response> {
    let found = registry.find_version(&subject, VersionRef::parse(&v)?, true).await?;
    Ok(ok(json!(registry.store().referenced_by(&subject, found.version).await?)))
}

pub async fn delete(registry: Shared, Path(subject): Path<String>, params: Params) -> Result<Response> {
    registry.writable(&subject).await?;
    match registry.store().delete_subject(&subject, flag(&params, "permanent")).await? {
        Deletion::Deleted(versions) => Ok(ok(json!(versions))),
        Deletion::NoSubject | Deletion::NoVersion => Err(ApiError::subject_not_found(&subject)),
        Deletion::AlreadySoftDeleted => Err(ApiError::subject_soft_deleted(&subject)),
        Deletion::NotSoftDeleted => Err(ApiError::subject_not_soft_deleted(&subject)),
        Deletion::Referenced(ids) => Err(ApiError::referenced(&ids)),
    }
}

pub async fn delete_version(
    registry: Shared,
    Path((subject, v)): Path<(String, String)>,
    params: Params,
) -> Result<Response> {
    registry.writable(&subject).await?;
    let permanent = flag(&params, "permanent");
    // `latest` is the latest live version (a permanent delete of it finds it soft-deleted only if none is live).
    let version = match VersionRef::parse(&v)? {
        VersionRef::Number(n) => n,
        VersionRef::Latest => registry.find_version(&subject, VersionRef::Latest, permanent).await?.version,
    };
    match registry.store().delete_schema_version(&subject, version, permanent).await? {
        Deletion::Deleted(_) => Ok(ok(json!(version))),
        Deletion::NoSubject => Err(ApiError::subject_not_found(&subject)),
        Deletion::NoVersion => Err(ApiError::version_not_found(version)),
        Deletion::AlreadySoftDeleted => Err(ApiError::version_soft_deleted(&subject, version)),
        Deletion::NotSoftDeleted => Err(ApiError::version_not_soft_deleted(&subject, version)),
        Deletion::Referenced(ids) => Err(ApiError::referenced(&ids)),
    }
}
