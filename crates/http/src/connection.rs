//! One HTTP/1 connection of a bounded listener, and what handlers learn about it.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;

/// A connection is closed (after its current response) once this old.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);
/// How long a connection may take to finish its response once asked to close.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The connection a request came on, in the request's extensions when [`crate::serve`] accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// The listener's name (`admin`, `peer`, ...).
    pub listener: &'static str,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// `User:<name>` from the client certificate (through `--ssl-principal-mapping-rules`), when the
    /// client sent one.
    pub principal: Option<String>,
}

/// Serves one HTTP/1 connection: the header timeout, closed after its current response once
/// [`MAX_CONNECTION_AGE`] old or at shutdown, with [`CLOSE_GRACE`] to finish. `what` names the listener in
/// the log.
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
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
