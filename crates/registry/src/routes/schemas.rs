//! `/schemas/...`: schemas by global id, where each is used, and the types served.

use super::{Params, Shared, flag, in_format, schema_fields};
use crate::body::ok;
use crate::error::ApiError;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use weft_meta::SubjectVersion;

type Result<T> = std::result::Result<T, ApiError>;

fn id_of(text: &str) -> Result<i32> {
    text.parse().map_err(|_| ApiError::schema_not_found())
}

async fn usages(registry: &Shared, id: i32, deleted: bool) -> Result<Vec<SubjectVersion>> {
    let all = registry.store().schema_usages(id).await?;
    Ok(all.into_iter().filter(|u| deleted || !u.deleted).collect())
}

pub async fn types() -> Response {
    ok(json!(["JSON", "PROTOBUF", "AVRO"]))
}

pub async fn by_id(registry: Shared, Path(id): Path<String>, params: Params) -> Result<Response> {
    // `?subject=` narrows nothing when the id is not under that subject: Confluent falls back to the id (a
    // consumer's default subject need not be the one the producer registered under).
    let stored = registry.schema(id_of(&id)?).await?;
    Ok(ok(in_format(&registry, &params, &stored, Value::Object(schema_fields(&stored))).await?))
}

pub async fn raw(registry: Shared, Path(id): Path<String>) -> Result<Response> {
    Ok(registry.schema(id_of(&id)?).await?.content.text.into_response())
}

pub async fn subjects(registry: Shared, Path(id): Path<String>, params: Params) -> Result<Response> {
    let id = id_of(&id)?;
    registry.schema(id).await?;
    let mut subjects: Vec<String> =
        usages(&registry, id, flag(&params, "deleted")).await?.into_iter().map(|u| u.subject).collect();
    subjects.dedup();
    Ok(ok(json!(subjects)))
}

pub async fn versions(registry: Shared, Path(id): Path<String>, params: Params) -> Result<Response> {
    let id = id_of(&id)?;
    registry.schema(id).await?;
    let used = usages(&registry, id, flag(&params, "deleted")).await?;
    let out: Vec<Value> = used.iter().map(|u| json!({"subject": u.subject, "version": u.version})).collect();
    Ok(ok(json!(out)))
}
