//! The peer listener: serves object bytes to the agents of this zone, `GET /v1/objects/<key>` with an
//! optional `Range: bytes=<first>-<last>`, from this agent's cache or the store (single-flight with its own
//! reads), never from another peer, so agents whose views of an owner differ cannot pass a read around.
//!
//! Only keys the storage `keys` module makes for data objects are served (anything else is 400 before the
//! store is touched), and no answer is larger than [`MAX_OBJECT_BYTES`]. The listener is a bounded
//! `weft-http` listener (connection limit, header timeout, maximum connection age); with [`PeerSecurity`]
//! it serves mutual TLS and asks its access rule about each request's client principal (403 when refused,
//! which the reading agent treats as any peer failure: it reads the store).

use crate::{MAX_OBJECT_BYTES, range};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_http::{Connection, HttpLimits};
use weft_storage::{ObjectStorage, StorageError, keys};
use weft_tls::Tls;

/// The listener's bounds.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Whether a client may read objects, from its connection (address and certificate principal).
pub type PeerAccess = Arc<dyn Fn(&Connection) -> bool + Send + Sync>;

/// The listener's transport and access rule; the default is plain HTTP open to whoever connects.
#[derive(Clone, Default)]
pub struct PeerSecurity {
    /// Serve over TLS with this acceptor (the agent makes it require client certificates).
    pub tls: Option<Arc<Tls>>,
    /// Asked for every request; `None` allows all.
    pub access: Option<PeerAccess>,
}

fn router(storage: ObjectStorage, access: Option<PeerAccess>) -> Router {
    let app = Router::new().route("/v1/objects/{*key}", get(object)).with_state(Arc::new(storage));
    match access {
        Some(access) => app.route_layer(axum::middleware::from_fn_with_state(access, allowed)),
        None => app,
    }
}

/// Accepts peer connections until shutdown, never more than `limits.max_connections` at once.
pub async fn serve(
    storage: ObjectStorage,
    listener: TcpListener,
    limits: ServerLimits,
    security: PeerSecurity,
    shutdown: watch::Receiver<bool>,
) {
    let app = router(storage, security.access);
    let limits = HttpLimits {
        name: "peer",
        max_connections: limits.max_connections,
        header_timeout: limits.header_timeout,
        tls: security.tls,
    };
    weft_http::serve(listener, app, limits, shutdown).await
}

/// Refuses a request whose connection the access rule does not allow (403).
async fn allowed(
    State(access): State<PeerAccess>,
    connection: Option<Extension<Connection>>,
    request: Request,
    next: Next,
) -> Response {
    match connection {
        Some(Extension(c)) if access(&c) => next.run(request).await,
        _ => refused("forbidden", StatusCode::FORBIDDEN, "not allowed to read objects"),
    }
}

/// One object, or a range of it.
async fn object(State(storage): State<Arc<ObjectStorage>>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    if !keys::is_data_key(&key) {
        return refused("bad_request", StatusCode::BAD_REQUEST, "not a data object key");
    }
    let range = match headers.get(header::RANGE).map(|v| v.to_str().ok().and_then(range::parse)) {
        None => None,
        Some(Some(range)) => Some(range),
        Some(None) => return refused("bad_request", StatusCode::BAD_REQUEST, "expected Range: bytes=<first>-<last>"),
    };
    if range.as_ref().is_some_and(|r| r.end - r.start > MAX_OBJECT_BYTES) {
        return refused("too_large", StatusCode::PAYLOAD_TOO_LARGE, "range too large");
    }
    let data = match storage.read_for_peer(&key, range.clone()).await {
        Ok(data) => data,
        Err(StorageError::NotFound { .. }) => return refused("not_found", StatusCode::NOT_FOUND, "no such object"),
        Err(StorageError::BadRange { .. }) => {
            return refused("bad_range", StatusCode::RANGE_NOT_SATISFIABLE, "range outside the object");
        }
        Err(e) => {
            tracing::debug!(key, error = %e, "reading an object for a peer failed");
            return refused("error", StatusCode::BAD_GATEWAY, "object store read failed");
        }
    };
    if data.len() as u64 > MAX_OBJECT_BYTES {
        return refused("too_large", StatusCode::PAYLOAD_TOO_LARGE, "object too large");
    }
    metrics::counter!("weft_peer_served_total", "result" => "ok").increment(1);
    metrics::counter!("weft_peer_served_bytes_total").increment(data.len() as u64);
    match range {
        None => (StatusCode::OK, data).into_response(),
        Some(r) => {
            // The object's size may be unknown here (a range read from the store); `*` says so.
            let content_range = format!("bytes {}-{}/*", r.start, r.end.saturating_sub(1));
            let value = HeaderValue::from_str(&content_range).unwrap_or(HeaderValue::from_static("bytes */*"));
            (StatusCode::PARTIAL_CONTENT, [(header::CONTENT_RANGE, value)], data).into_response()
        }
    }
}

/// A refusal, counted by `result`.
fn refused(result: &'static str, status: StatusCode, message: &'static str) -> Response {
    metrics::counter!("weft_peer_served_total", "result" => result).increment(1);
    (status, message).into_response()
}
