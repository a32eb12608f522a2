//! The admin HTTP listener: `/healthz` (the process is alive), `/readyz` (writes to the metastore and the
//! object store work), `/metrics` (Prometheus text exposition) and `/v1/clients` (per-client-id produce
//! observations, JSON, for `weft advise`), served by `weft-http`'s bounded listener
//! (`--admin-max-connections`, `--admin-header-timeout-ms`, a maximum connection age).
//!
//! With `--admin-ssl` it serves HTTPS with the Kafka listeners' certificate, reloaded like theirs, and their
//! `--ssl-client-auth`; the handshake is bounded by `--ssl-handshake-timeout-ms` and counted. `--admin-auth`
//! ([`auth`]) guards every route but the probes: `/healthz` and `/readyz` carry no data and must answer a
//! kubelet or load balancer that has no credentials.

pub mod auth;
pub mod basic;
pub mod registry_access;

use crate::Agent;
use auth::HttpAuth;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_http::HttpLimits;

pub fn router(agent: Arc<Agent>, auth: Arc<HttpAuth>) -> Router {
    let guarded = Router::new().route("/metrics", get(metrics)).route("/v1/clients", get(clients));
    let guarded = auth::cluster_describe_required(guarded, auth.clone());
    let guarded = auth::authenticated(guarded, auth);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .merge(guarded)
        .with_state(agent)
}

/// Accepts admin connections until shutdown, never more than the configured number at once.
pub async fn serve(agent: Arc<Agent>, auth: Arc<HttpAuth>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
    let limits = HttpLimits {
        name: "admin",
        max_connections: agent.config.admin_max_connections,
        header_timeout: agent.config.admin_header_timeout,
        tls: agent.tls.clone().filter(|_| agent.config.admin_ssl),
    };
    weft_http::serve(listener, router(agent, auth), limits, shutdown).await
}

/// Serves the schema registry (`--schema-registry-listen`) with the admin listener's bounds, TLS
/// (`--admin-ssl`) and authentication (`--admin-auth`), so registry clients present the same credentials as
/// admin clients; with the ACL authorizer, [`registry_access`] decides who may read and who may change.
pub async fn serve_registry(
    agent: Arc<Agent>,
    auth: Arc<HttpAuth>,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) {
    let limits = HttpLimits {
        name: "schema-registry",
        max_connections: agent.config.admin_max_connections,
        header_timeout: agent.config.admin_header_timeout,
        tls: agent.tls.clone().filter(|_| agent.config.admin_ssl),
    };
    let app = weft_registry::router(Arc::new(weft_registry::Registry::new(agent.meta.clone())));
    let app = registry_access::registry_access_required(app, auth.clone());
    let app = auth::authenticated(app, auth);
    // Outermost, so the shared authentication's plain-text 401 is answered as Confluent's 40101 body too.
    let app = app.layer(axum::middleware::from_fn(weft_registry::confluent_errors));
    weft_http::serve(listener, app, limits, shutdown).await
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

async fn clients(State(agent): State<Arc<Agent>>) -> (StatusCode, [(axum::http::HeaderName, &'static str); 1], String) {
    let content_type = (axum::http::header::CONTENT_TYPE, "application/json");
    match serde_json::to_string(&agent.client_traffic.snapshot(agent.clock.now_ms())) {
        Ok(body) => (StatusCode::OK, [content_type], body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, [content_type], format!("{{\"error\":\"{e}\"}}")),
    }
}
