//! The registry's listener: the admin listener's bounds (connections, request-head timeout, connection age)
//! around the REST router.

use crate::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use weft_listener::AcceptErrors;
use weft_peer::serve_connection;

/// How the listener bounds its clients.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at most; the accept loop pauses at the limit.
    pub max_connections: usize,
    /// A request head must arrive within this of connecting or of the previous response.
    pub header_timeout: Duration,
}

/// Accepts registry connections until shutdown, never more than `limits.max_connections` at once.
pub async fn serve(
    registry: Arc<Registry>,
    listener: TcpListener,
    limits: ServeLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = crate::routes::router(registry);
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
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    metrics::counter!("weft_schema_registry_accept_errors_total").increment(1);
                    errors.note(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
        };
        let app = app.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            serve_connection(socket, app, limits.header_timeout, stop, "schema-registry").await;
            drop(slot);
        });
    }
}

/// Resolves once shutdown is asked for.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
