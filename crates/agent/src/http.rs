//! The admin HTTP listener: `/healthz` (the process is alive), `/readyz` (writes to the metastore and the
//! object store work) and `/metrics` (Prometheus text exposition).
//!
//! The listener is bounded on its own so that it can never starve the Kafka listener of file descriptors:
//! at most `admin_max_connections` are open (the accept loop stops accepting at the limit; further
//! connections wait in the kernel backlog), a request head must arrive within `admin_header_timeout` of
//! connecting or of the previous response (hyper's header read timeout, which also closes idle keep-alive
//! connections), and a connection is closed after its current response once it is `weft_peer::MAX_CONNECTION_AGE`
//! old, which bounds clients that stall inside a request.
//!
//! With `--admin-ssl` it serves HTTPS with the Kafka listeners' certificate, reloaded like theirs, and their
//! `--ssl-client-auth` (with `required`, only clients with a trusted certificate reach it); the handshake is
//! bounded by `--ssl-handshake-timeout-ms` and counted like the Kafka listeners'.

use crate::Agent;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use weft_listener::AcceptErrors;
use weft_peer::serve_connection;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(agent)
}

/// Accepts admin connections until shutdown, never more than the configured number at once.
pub async fn serve(agent: Arc<Agent>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let app = router(agent.clone());
    let limit = agent.config.admin_max_connections.max(1);
    let slots = Arc::new(Semaphore::new(limit));
    let header_timeout = agent.config.admin_header_timeout;
    let mut errors = AcceptErrors::default();
    let mut full_logged: Option<tokio::time::Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if full_logged.is_none_or(|at| at.elapsed() > Duration::from_secs(5)) {
                    tracing::warn!(limit, "admin listener at its connection limit; not accepting until one closes");
                    full_logged = Some(tokio::time::Instant::now());
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => return,
                    },
                    _ = stopped(&mut shutdown) => return,
                }
            }
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    metrics::counter!("weft_admin_accept_errors_total").increment(1);
                    errors.note(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
        };
        let app = app.clone();
        let stop = shutdown.clone();
        let tls = agent.tls.clone().filter(|_| agent.config.admin_ssl);
        tokio::spawn(async move {
            match tls {
                Some(tls) => match tls.accept(socket).await {
                    Ok((stream, _)) => serve_connection(stream, app, header_timeout, stop, "admin").await,
                    Err(e) => tls.note_failure(peer, "admin", &e),
                },
                None => serve_connection(socket, app, header_timeout, stop, "admin").await,
            }
            drop(slot);
        });
    }
}

/// Resolves once shutdown is asked for (the watch guard is dropped inside, so the future stays `Send`).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn ready(State(agent): State<Arc<Agent>>) -> (StatusCode, String) {
    if let Err(reason) = agent.health.status() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n"));
    }
    if let Err(e) = agent.meta.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: metastore unavailable: {e}\n"));
    }
    if let Err(e) = agent.storage.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: object store unavailable: {e}\n"));
    }
    (StatusCode::OK, "ready\n".into())
}

async fn metrics(State(agent): State<Arc<Agent>>) -> (StatusCode, [(axum::http::HeaderName, &'static str); 1], String) {
    let content_type = (axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    match crate::metrics::render(&agent).await {
        Some(text) => (StatusCode::OK, [content_type], text),
        None => (StatusCode::SERVICE_UNAVAILABLE, [content_type], "metrics recorder not installed\n".into()),
    }
}
