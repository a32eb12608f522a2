//! What goes over the wire besides errors: JSON request bodies read within [`MAX_BODY_BYTES`] whatever their
//! content type (Confluent's clients send `application/vnd.schemaregistry.v1+json`, others `application/json`
//! or `application/octet-stream`), and JSON replies in the registry's content type.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The largest request body read; larger ones are refused with 413.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The content type of every JSON reply.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A JSON object body of type `T`, read within [`MAX_BODY_BYTES`].
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        // Fails over the limit or when the connection breaks; a broken connection never sees the answer.
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::too_large(MAX_BODY_BYTES))?;
        // Every body is an object; serde would also read a struct from an array, positionally.
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(ApiError::bad_body)?;
        if !value.is_object() {
            return Err(ApiError::bad_body("the body is not a JSON object"));
        }
        serde_json::from_value(value).map(JsonBody).map_err(ApiError::bad_body)
    }
}

/// `value` as a JSON reply with status `status` in the registry's content type.
pub fn reply(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A 200 JSON reply.
pub fn ok(value: serde_json::Value) -> Response {
    reply(StatusCode::OK, &value)
}
