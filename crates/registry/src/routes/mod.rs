//! The REST API, path for path as Confluent's Schema Registry: the router, the request and reply shapes the
//! handlers share, and the layer that turns every non-JSON error (unknown route, bad path) into Confluent's
//! error body and counts requests by route and status.

mod compatibility;
mod schemas;
mod settings;
mod subjects;

use crate::body::CONTENT_TYPE;
use crate::error::ApiError;
use crate::registry::{Registry, Submitted};
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use weft_meta::{SchemaReference, StoredSchema, SubjectVersion};
use weft_schema::SchemaType;

type Shared = axum::extract::State<Arc<Registry>>;
type Params = axum::extract::Query<HashMap<String, String>>;

/// The registry's routes over `registry`.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(|| async { crate::body::ok(json!({})) }))
        .route("/subjects", get(subjects::list))
        .route("/subjects/{subject}", post(subjects::lookup).delete(subjects::delete))
        .route("/subjects/{subject}/versions", get(subjects::versions).post(subjects::register))
        .route("/subjects/{subject}/versions/{version}", get(subjects::version).delete(subjects::delete_version))
        .route("/subjects/{subject}/versions/{version}/schema", get(subjects::raw))
        .route("/subjects/{subject}/versions/{version}/referencedby", get(subjects::referenced_by))
        .route("/schemas/types", get(schemas::types))
        .route("/schemas/ids/{id}", get(schemas::by_id))
        .route("/schemas/ids/{id}/schema", get(schemas::raw))
        .route("/schemas/ids/{id}/subjects", get(schemas::subjects))
        .route("/schemas/ids/{id}/versions", get(schemas::versions))
        .route("/config", get(settings::get_config).put(settings::put_config).delete(settings::delete_config))
        .route(
            "/config/{subject}",
            get(settings::get_subject_config).put(settings::put_subject_config).delete(settings::delete_subject_config),
        )
        .route("/mode", get(settings::get_mode).put(settings::put_mode).delete(settings::delete_mode))
        .route(
            "/mode/{subject}",
            get(settings::get_subject_mode).put(settings::put_subject_mode).delete(settings::delete_subject_mode),
        )
        .route("/compatibility/subjects/{subject}/versions/{version}", post(compatibility::against_version))
        .route("/compatibility/subjects/{subject}/versions", post(compatibility::against_all))
        .fallback(|| async { ApiError::not_found_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(registry)
        .layer(axum::middleware::from_fn(observe))
}

/// Counts each request by route and status, and gives errors that are not the registry's own (axum's path
/// and query rejections) Confluent's JSON body.
async fn observe(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let response = confluent_errors(request, next).await;
    let status = response.status();
    metrics::counter!("weft_schema_registry_requests_total", "route" => route, "status" => status.as_u16().to_string())
        .increment(1);
    response
}

/// A layer for everything in front of the registry (the listener's authentication and authorization too):
/// an error answered without the registry's JSON body gets one, `{"error_code", "message"}` with Confluent's
/// code (40101 for 401, 40301 for 403, else the status), keeping its headers (a 401's `WWW-Authenticate`), so
/// registry clients read every refusal alike.
pub async fn confluent_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let ours = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t == CONTENT_TYPE);
    if status.is_success() || ours {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut message = String::from_utf8_lossy(&body).trim().to_string();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_string();
    }
    let code = match status.as_u16() {
        401 => 40101,
        403 => 40301,
        other => u32::from(other),
    };
    let reply = ApiError { status, code, message }.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    let (reply_parts, reply_body) = reply.into_parts();
    parts.headers.extend(reply_parts.headers);
    Response::from_parts(parts, reply_body)
}

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn optional_flag(params: &HashMap<String, String>, name: &str) -> Option<bool> {
    params.get(name).map(|v| v.eq_ignore_ascii_case("true"))
}

/// A reference as requests and replies spell it.
#[derive(Debug, Deserialize)]
struct ReferenceBody {
    name: String,
    subject: String,
    version: i32,
}

/// The body of a registration, lookup or compatibility check.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: Option<String>,
    schema_type: Option<String>,
    references: Option<Vec<ReferenceBody>>,
    id: Option<i32>,
    version: Option<i32>,
}

impl SchemaBody {
    fn submitted(&self) -> Result<Submitted, ApiError> {
        let text = self.schema.clone().ok_or_else(|| ApiError::invalid_schema("empty schema"))?;
        let schema_type = match &self.schema_type {
            None => SchemaType::Avro,
            Some(t) => t.to_ascii_uppercase().parse().map_err(ApiError::invalid_schema)?,
        };
        let references = self.references.as_deref().unwrap_or_default();
        if references.len() > crate::registry::MAX_REFERENCES {
            return Err(ApiError::invalid_schema(format!("more than {} references", crate::registry::MAX_REFERENCES)));
        }
        let references = references
            .iter()
            .map(|r| SchemaReference { name: r.name.clone(), subject: r.subject.clone(), version: r.version })
            .collect();
        Ok(Submitted { text, schema_type, references })
    }
}

/// A schema's reply fields: `schema`, and `schemaType` and `references` when not the defaults (as Confluent).
fn schema_fields(stored: &StoredSchema) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("schema".into(), Value::String(stored.content.text.clone()));
    if stored.content.schema_type != SchemaType::Avro.as_str() {
        out.insert("schemaType".into(), Value::String(stored.content.schema_type.clone()));
    }
    if !stored.content.references.is_empty() {
        let refs: Vec<Value> = stored
            .content
            .references
            .iter()
            .map(|r| json!({"name": r.name, "subject": r.subject, "version": r.version}))
            .collect();
        out.insert("references".into(), Value::Array(refs));
    }
    out
}

/// A subject version's reply: subject, version, id and the schema's fields.
fn version_reply(version: &SubjectVersion, stored: &StoredSchema) -> Value {
    let mut out = Map::new();
    out.insert("subject".into(), json!(version.subject));
    out.insert("version".into(), json!(version.version));
    out.insert("id".into(), json!(version.schema_id));
    out.extend(schema_fields(stored));
    Value::Object(out)
}

/// `reply` with its `schema` in the form `?format=` asks for: `serialized` gives a Protobuf schema as
/// Confluent's base64 descriptor (what confluent-kafka's Protobuf deserializer reads); other formats and
/// values leave the text as stored, as Confluent does.
async fn in_format(
    registry: &Registry,
    params: &HashMap<String, String>,
    stored: &StoredSchema,
    mut reply: Value,
) -> Result<Value, ApiError> {
    if params.get("format").is_none_or(|f| f != "serialized")
        || stored.content.schema_type != SchemaType::Protobuf.as_str()
    {
        return Ok(reply);
    }
    let parsed = registry.parse_stored(stored).await?;
    if let (Some(text), Value::Object(map)) = (parsed.serialized(), &mut reply) {
        map.insert("schema".into(), Value::String(text));
    }
    Ok(reply)
}
