//! The peer listener: serves object bytes to the agents of this zone, `GET /v1/objects/<key>` with an
//! optional `Range: bytes=<first>-<last>`, from this agent's cache or the store (single-flight with its own
//! reads), never from another peer, so agents whose views of an owner differ cannot pass a read around.
//!
//! Only keys the storage `keys` module makes for data objects are served (anything else is 400 before the
//! store is touched), and no answer is larger than [`MAX_OBJECT_BYTES`]. Bounded like the admin listener: at
//! most `max_connections` open (the accept loop waits at the limit), a request head must arrive within
//! `header_timeout` of connecting or of the previous response (also the keep-alive idle timeout), and a
//! connection is closed after its current response once [`MAX_CONNECTION_AGE`] old, which bounds a peer that
//! stalls reading a body.

use crate::{MAX_OBJECT_BYTES, range};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use weft_listener::AcceptErrors;
use weft_storage::{ObjectStorage, StorageError, keys};

/// A connection is closed (after its current response) once this old.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);
/// How long a connection may take to finish its response once asked to close.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The listener's bounds.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

fn router(storage: ObjectStorage) -> Router {
    Router::new().route("/v1/objects/{*key}", get(object)).with_state(Arc::new(storage))
}

/// Accepts peer connections until shutdown, never more than `limits.max_connections` at once.
pub async fn serve(
    storage: ObjectStorage,
    listener: TcpListener,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(storage);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut errors = AcceptErrors::default();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            _ = stopped(&mut shutdown) => return,
        };
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    metrics::counter!("weft_peer_accept_errors_total").increment(1);
                    errors.note(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
        };
        let _ = socket.set_nodelay(true);
        let (app, stop) = (app.clone(), shutdown.clone());
        tokio::spawn(async move {
            serve_connection(socket, app, limits.header_timeout, stop, "peer").await;
            drop(slot);
        });
    }
}

/// Serves one HTTP/1 connection of a bounded listener (this one, and the agent's admin listener): the
/// header timeout, closed after its current response once [`MAX_CONNECTION_AGE`] old or at shutdown, with
/// [`CLOSE_GRACE`] to finish. `what` names the listener in the log.
pub async fn serve_connection<IO>(
    socket: IO,
    app: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(socket), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let too_old = tokio::time::sleep(MAX_CONNECTION_AGE);
    tokio::pin!(too_old);
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(error = %e, listener = what, "http connection ended");
            }
            return;
        }
        _ = &mut too_old => {}
        _ = stopped(&mut stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
}

/// Resolves once shutdown is asked for (the watch guard is dropped inside, so the future stays `Send`).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
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
