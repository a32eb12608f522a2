//! The admin HTTP listener: `/healthz` (the process is alive), `/readyz` (metastore and object store answer)
//! and `/metrics` (Prometheus text exposition).

use crate::Agent;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(agent)
}

async fn ready(State(agent): State<Arc<Agent>>) -> (StatusCode, String) {
    if let Err(e) = agent.meta.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("metastore unavailable: {e}\n"));
    }
    if let Err(e) = agent.storage.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("object store unavailable: {e}\n"));
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
