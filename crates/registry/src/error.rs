//! The registry's API errors: Confluent's HTTP status and `error_code` pairs, answered as
//! `{"error_code": N, "message": "..."}`, so clients that branch on those codes work unchanged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One failed request: the HTTP status, Confluent's error code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} error {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

fn err(status: StatusCode, code: u32, message: String) -> ApiError {
    ApiError { status, code, message }
}

impl ApiError {
    pub fn subject_not_found(subject: &str) -> Self {
        err(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."))
    }
    pub fn version_not_found(version: i32) -> Self {
        err(StatusCode::NOT_FOUND, 40402, format!("Version {version} not found."))
    }
    pub fn schema_not_found() -> Self {
        err(StatusCode::NOT_FOUND, 40403, "Schema not found".into())
    }
    pub fn subject_soft_deleted(subject: &str) -> Self {
        let m = format!("Subject '{subject}' was soft deleted.Set permanent=true to delete permanently");
        err(StatusCode::NOT_FOUND, 40404, m)
    }
    pub fn subject_not_soft_deleted(subject: &str) -> Self {
        let m = format!("Subject '{subject}' was not deleted first before being permanently deleted");
        err(StatusCode::NOT_FOUND, 40405, m)
    }
    pub fn version_soft_deleted(subject: &str, version: i32) -> Self {
        let m =
            format!("Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently");
        err(StatusCode::NOT_FOUND, 40406, m)
    }
    pub fn version_not_soft_deleted(subject: &str, version: i32) -> Self {
        let m = format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted");
        err(StatusCode::NOT_FOUND, 40407, m)
    }
    pub fn compatibility_not_configured(subject: &str) -> Self {
        let m = format!("Subject '{subject}' does not have subject-level compatibility configured");
        err(StatusCode::NOT_FOUND, 40408, m)
    }
    pub fn mode_not_configured(subject: &str) -> Self {
        err(StatusCode::NOT_FOUND, 40409, format!("Subject '{subject}' does not have subject-level mode configured"))
    }
    pub fn incompatible(subject: &str, messages: &[String]) -> Self {
        let m = format!(
            "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
            messages.join(", ")
        );
        err(StatusCode::CONFLICT, 409, m)
    }
    pub fn invalid_schema(reason: impl std::fmt::Display) -> Self {
        err(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema: {reason}"))
    }
    pub fn invalid_version(given: &str) -> Self {
        let m = format!(
            "The specified version '{given}' is not a valid version id. Allowed values are between [1, 2^31-1] and \
             the string \"latest\""
        );
        err(StatusCode::UNPROCESSABLE_ENTITY, 42202, m)
    }
    pub fn invalid_compatibility(given: &str) -> Self {
        let m = format!(
            "Invalid compatibility level {given:?}. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, \
             FORWARD_TRANSITIVE, FULL and FULL_TRANSITIVE"
        );
        err(StatusCode::UNPROCESSABLE_ENTITY, 42203, m)
    }
    pub fn invalid_mode(given: &str) -> Self {
        let m = format!("Invalid mode {given:?}. Valid values are READWRITE, READONLY and IMPORT");
        err(StatusCode::UNPROCESSABLE_ENTITY, 42204, m)
    }
    pub fn not_permitted(reason: impl Into<String>) -> Self {
        err(StatusCode::UNPROCESSABLE_ENTITY, 42205, reason.into())
    }
    pub fn referenced(ids: &[i32]) -> Self {
        let m = format!("One or more references exist to the schema (referenced by schema ids {ids:?})");
        err(StatusCode::UNPROCESSABLE_ENTITY, 42206, m)
    }
    /// A store failure: the detail goes to the log only (it may name hosts, tables or SQL), the client is
    /// told what Confluent tells.
    pub fn store(e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "schema registry store error");
        err(StatusCode::INTERNAL_SERVER_ERROR, 50001, "Error in the backend data store".into())
    }
    pub fn busy(subject: &str) -> Self {
        let m = format!("Registration under subject '{subject}' kept racing other registrations; retry");
        err(StatusCode::INTERNAL_SERVER_ERROR, 50002, m)
    }
    pub fn bad_body(reason: impl std::fmt::Display) -> Self {
        err(StatusCode::BAD_REQUEST, 400, format!("Unparseable request body: {reason}"))
    }
    pub fn too_large(limit: usize) -> Self {
        err(StatusCode::PAYLOAD_TOO_LARGE, 42201, format!("Request body larger than {limit} bytes"))
    }
    pub fn not_found_route() -> Self {
        err(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found".into())
    }
    pub fn method_not_allowed() -> Self {
        err(StatusCode::METHOD_NOT_ALLOWED, 405, "HTTP 405 Method Not Allowed".into())
    }
}

impl From<weft_meta::MetaError> for ApiError {
    fn from(e: weft_meta::MetaError) -> Self {
        ApiError::store(e)
    }
}

impl IntoResponse for ApiError {
    /// The JSON body; a 413 also closes the connection, since the rest of the refused body is never read and
    /// a client reusing the connection would send its next request behind it.
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code, "message": self.message});
        let mut response = crate::body::reply(self.status, &body);
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
