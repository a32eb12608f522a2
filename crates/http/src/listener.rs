//! The accept loop of a bounded HTTP listener: the connection limit, the optional TLS handshake, and the
//! [`Connection`] each request carries.

use crate::connection::{Connection, serve_connection, stopped};
use axum::{Extension, Router};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use weft_listener::AcceptErrors;
use weft_tls::Tls;

/// A listener's bounds and transport.
#[derive(Clone)]
pub struct HttpLimits {
    /// Names the listener in logs, metrics (`listener` label) and [`Connection::listener`].
    pub name: &'static str,
    /// Connections open at once at most; the loop stops accepting at the limit.
    pub max_connections: usize,
    /// A request head must arrive within this of connecting or of the previous response.
    pub header_timeout: Duration,
    /// Serve HTTPS with this acceptor (its handshake timeout and client-certificate rules).
    pub tls: Option<Arc<Tls>>,
}

/// How often the "at its connection limit" warning is logged at most.
const FULL_LOG_EVERY: Duration = Duration::from_secs(5);

/// Accepts connections until shutdown, never more than `limits.max_connections` at once, and serves
/// `app` on each.
pub async fn serve(listener: TcpListener, app: Router, limits: HttpLimits, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut errors = AcceptErrors::default();
    let mut full_logged: Option<tokio::time::Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if full_logged.is_none_or(|at| at.elapsed() > FULL_LOG_EVERY) {
                    let (listener, limit) = (limits.name, limits.max_connections);
                    tracing::warn!(
                        listener,
                        limit,
                        "http listener at its connection limit; not accepting until one closes"
                    );
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
                    metrics::counter!("weft_http_accept_errors_total", "listener" => limits.name).increment(1);
                    errors.note(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
        };
        let _ = socket.set_nodelay(true);
        let connection = Connection { peer, listener: limits.name, tls: limits.tls.is_some(), principal: None };
        tokio::spawn(accepted(socket, connection, app.clone(), limits.clone(), shutdown.clone(), slot));
    }
}

/// One accepted connection: the TLS handshake if the listener has TLS, then HTTP until it ends; its slot is
/// released when it closes.
async fn accepted(
    socket: TcpStream,
    mut connection: Connection,
    app: Router,
    limits: HttpLimits,
    stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let (name, timeout) = (limits.name, limits.header_timeout);
    match &limits.tls {
        Some(tls) => match tls.accept(socket).await {
            Ok((stream, principal)) => {
                connection.principal = principal;
                serve_connection(stream, app.layer(Extension(connection)), timeout, stop, name).await
            }
            Err(e) => {
                metrics::counter!("weft_http_tls_failures_total", "listener" => name, "reason" => e.reason())
                    .increment(1);
                tls.note_failure(connection.peer, name, &e);
            }
        },
        None => serve_connection(socket, app.layer(Extension(connection)), timeout, stop, name).await,
    }
}
