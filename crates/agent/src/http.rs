//! The admin HTTP listener: `/healthz` (the process is alive) and `/readyz` (metastore and object store answer).

use crate::Agent;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" })).route("/readyz", get(ready)).with_state(agent)
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
