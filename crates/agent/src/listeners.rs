//! The agent's Kafka listeners: binding each configured listener (`--listeners`, or the one PLAINTEXT
//! listener of `--listen`), the endpoint each advertises to its clients, accepting on all of them, and
//! turning an accepted socket into a session: the TLS handshake on SSL and SASL_SSL listeners (the
//! principal of a client certificate becomes the session's), then `weft_listener::serve`.

use crate::Agent;
use crate::dispatch::KafkaApi;
use crate::server::StartError;
use futures::FutureExt;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use weft_config::{AgentConfig, ListenerSpec};
use weft_listener::{SecurityProtocol, Session, SessionLimits};
use weft_meta::AgentEndpoint;
use weft_tls::{Tls, TlsSettings};

/// One bound listener.
pub(crate) struct Bound {
    pub name: Arc<str>,
    pub protocol: SecurityProtocol,
    pub socket: TcpListener,
    pub addr: SocketAddr,
}

/// Binds every configured listener, in order.
pub(crate) async fn bind(specs: &[ListenerSpec]) -> Result<Vec<Bound>, StartError> {
    let mut bound = Vec::with_capacity(specs.len());
    for spec in specs {
        let host = if spec.host.is_empty() { "0.0.0.0" } else { spec.host.as_str() };
        let shown = format!("{}://{}:{}", spec.name, spec.host, spec.port);
        let socket = TcpListener::bind((host, spec.port))
            .await
            .map_err(|source| StartError::BindListener { listener: shown.clone(), source })?;
        let addr = socket.local_addr().map_err(|source| StartError::BindListener { listener: shown, source })?;
        bound.push(Bound { name: spec.name.as_str().into(), protocol: spec.protocol, socket, addr });
    }
    Ok(bound)
}

/// What each listener's clients are told: its advertised endpoint, else its bound address (127.0.0.1 for a
/// listener bound on every interface, so a local client can always connect).
pub(crate) fn advertised(specs: &[ListenerSpec], bound: &[(String, SocketAddr)]) -> Vec<AgentEndpoint> {
    specs
        .iter()
        .filter_map(|spec| {
            let addr = bound.iter().find(|(name, _)| *name == spec.name).map(|(_, a)| *a)?;
            let (host, port) = match &spec.advertised {
                Some((host, port)) => (host.clone(), i32::from(*port)),
                None if addr.ip().is_unspecified() => ("127.0.0.1".to_string(), i32::from(addr.port())),
                None => (addr.ip().to_string(), i32::from(addr.port())),
            };
            Some(AgentEndpoint { listener: spec.name.clone(), host, port })
        })
        .collect()
}

/// The TLS acceptor, when a listener or the admin listener serves TLS.
pub(crate) fn tls(config: &AgentConfig, specs: &[ListenerSpec]) -> Result<Option<Arc<Tls>>, StartError> {
    let needed = specs.iter().find(|s| s.protocol.uses_tls()).map(|s| format!("listener {}", s.name));
    let needed = needed.or_else(|| config.admin_ssl.then(|| "--admin-ssl".to_string()));
    let Some(needed) = needed else { return Ok(None) };
    let Some(keystore) = config.ssl_keystore_location.clone() else {
        return Err(StartError::NoKeystore { needed });
    };
    let settings = TlsSettings {
        keystore,
        key: config.ssl_key_location.clone(),
        truststore: config.ssl_truststore_location.clone(),
        client_auth: config.ssl_client_auth,
        mapping_rules: config.ssl_principal_mapping_rules.clone(),
        handshake_timeout: config.ssl_handshake_timeout,
    };
    Ok(Some(Tls::new(settings)?))
}

/// The next connection on any listener (never, without listeners), with the index of its listener.
pub(crate) async fn accept(listeners: &[Bound]) -> (usize, std::io::Result<(TcpStream, SocketAddr)>) {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    let each = listeners.iter().enumerate().map(|(i, l)| l.socket.accept().map(move |r| (i, r)).boxed());
    futures::future::select_all(each).await.0
}

/// Serves one accepted connection of listener `l`: TLS first where the protocol says, then Kafka.
pub(crate) async fn serve_connection(
    api: Arc<KafkaApi>,
    l: (Arc<str>, SecurityProtocol),
    (socket, peer): (TcpStream, SocketAddr),
    limits: SessionLimits,
    stop: watch::Receiver<bool>,
) {
    let _ = socket.set_nodelay(true);
    let (listener, protocol) = l;
    let agent: &Agent = &api.0;
    match (protocol.uses_tls(), &agent.tls) {
        (true, Some(tls)) => match tls.accept(socket).await {
            Ok((stream, principal)) => {
                let session = Session { peer, listener, protocol, principal, mute: Default::default() };
                serve_kafka(&api, session, tokio::io::split(stream), limits, stop).await;
            }
            Err(e) => tls.note_failure(peer, &listener, &e),
        },
        (true, None) => tracing::error!(%peer, %listener, "tls listener without tls settings; connection closed"),
        (false, _) => {
            let session = Session { peer, listener, protocol, principal: None, mute: Default::default() };
            serve_kafka(&api, session, socket.into_split(), limits, stop).await;
        }
    }
}

/// Serves Kafka requests on a connection (after TLS, if any): behind the SASL gate on SASL_* listeners,
/// whose principal then replaces any the certificate gave, as in Kafka.
async fn serve_kafka<R, W>(
    api: &Arc<KafkaApi>,
    session: Session,
    io: (R, W),
    limits: SessionLimits,
    stop: watch::Receiver<bool>,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let budget = api.0.request_budget.clone();
    if !session.protocol.uses_sasl() {
        return weft_listener::serve(&**api, session, io, limits, &budget, stop).await;
    }
    match api.0.sasl.clone() {
        Some(auth) => {
            let gate = crate::sasl::connection::SaslConnection::new(api.0.clone(), auth);
            gate.serve(session, io, limits, &budget, stop).await
        }
        None => {
            tracing::error!(peer = %session.peer, listener = %session.listener, "sasl listener without an authenticator; connection closed")
        }
    }
}
