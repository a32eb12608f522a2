//! This agent's part in zone-shared object reads (`weft-peer`): binding the peer listener and naming its
//! endpoint for the registry, giving the read cache the zone's owners, and serving peers until shutdown.
//!
//! With `--peer-ssl` both sides use the agent's certificate and trust store: the listener requires a
//! client certificate (whatever `--ssl-client-auth` says for Kafka clients), the client presents it and
//! checks the owner's, and the endpoint is registered as `https://HOST:PORT`. With `--authorizer acl` the
//! reader's principal (`User:ANONYMOUS` without a certificate) needs CLUSTER_ACTION on the cluster, as
//! Kafka asks of brokers talking to each other; a denied read is 403 and audited, and the reader falls back
//! to the store.

use crate::Agent;
use crate::config::AgentConfig;
use crate::server::StartError;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_cluster::Membership;
use weft_config::SslClientAuth;
use weft_peer::{HTTPS, PeerAccess, PeerClient, PeerClientOptions, PeerSecurity, ServerLimits, ZonePeers};
use weft_storage::ObjectStorage;
use weft_tls::{ClientFiles, Tls, TlsSettings};

/// How long a peer connection may take to send a request head (also its keep-alive idle time).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The bound peer listener and the endpoint registered for it.
pub(crate) struct PeerListener {
    listener: TcpListener,
    pub addr: SocketAddr,
    pub endpoint: String,
    /// The mutual TLS acceptor, with `--peer-ssl`.
    tls: Option<Arc<Tls>>,
}

/// Binds the peer listener, unless it is off or the agent serves no Kafka clients (only brokers own
/// objects). The endpoint is `--peer-advertised`, else the advertised Kafka host with the bound port, after
/// `https://` with `--peer-ssl`.
pub(crate) async fn bind(config: &AgentConfig, advertised_host: &str) -> Result<Option<PeerListener>, StartError> {
    let Some(addr) = config.peer_listen_addr().filter(|_| config.roles.kafka) else {
        return Ok(None);
    };
    let tls = server_tls(config)?;
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    let endpoint = match &config.peer_advertised {
        Some(endpoint) => checked(endpoint)?,
        None if advertised_host.contains(':') => format!("[{advertised_host}]:{}", bound.port()),
        None => format!("{advertised_host}:{}", bound.port()),
    };
    let endpoint = if tls.is_some() { format!("{HTTPS}{endpoint}") } else { endpoint };
    Ok(Some(PeerListener { listener, addr: bound, endpoint, tls }))
}

/// The files of `--peer-ssl`: the agent's certificate and key, and the trust store.
fn files(config: &AgentConfig) -> Result<Option<ClientFiles<'_>>, StartError> {
    if !config.peer_ssl {
        return Ok(None);
    }
    let Some(keystore) = config.ssl_keystore_location.as_deref() else {
        return Err(StartError::NoKeystore { needed: "--peer-ssl".into() });
    };
    let Some(truststore) = config.ssl_truststore_location.as_deref() else {
        return Err(StartError::NoPeerTruststore);
    };
    Ok(Some(ClientFiles { keystore, key: config.ssl_key_location.as_deref(), truststore }))
}

/// The listener's acceptor with `--peer-ssl`: the agent's certificate, client certificates required.
fn server_tls(config: &AgentConfig) -> Result<Option<Arc<Tls>>, StartError> {
    let Some(files) = files(config)? else { return Ok(None) };
    let settings = TlsSettings {
        keystore: files.keystore.to_path_buf(),
        key: files.key.map(|k| k.to_path_buf()),
        truststore: Some(files.truststore.to_path_buf()),
        client_auth: SslClientAuth::Required,
        mapping_rules: config.ssl_principal_mapping_rules.clone(),
        handshake_timeout: config.ssl_handshake_timeout,
    };
    Ok(Some(Tls::new(settings)?))
}

/// `HOST:PORT` with a non-empty host and a numeric port.
fn checked(endpoint: &str) -> Result<String, StartError> {
    let bad = || StartError::PeerAdvertised { value: endpoint.to_string() };
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(endpoint.to_string())
}

/// `storage` reading misses from the owners of this agent's zone first.
pub(crate) fn attach(
    storage: ObjectStorage,
    membership: Arc<Membership>,
    config: &AgentConfig,
) -> Result<ObjectStorage, StartError> {
    let tls = match files(config)? {
        Some(files) => Some(weft_tls::client_config(files)?),
        None => None,
    };
    let client = PeerClient::new(PeerClientOptions::with_timeout(config.peer_read_timeout), tls)
        .map_err(|e| StartError::Peer { reason: e.to_string() })?;
    Ok(storage.with_peers(Arc::new(ZonePeers::new(membership, client))))
}

/// Serves peers until shutdown.
pub(crate) fn spawn(peer: PeerListener, agent: &Arc<Agent>, shutdown: watch::Receiver<bool>) {
    let limits = ServerLimits { max_connections: agent.config.peer_max_connections, header_timeout: HEADER_TIMEOUT };
    let security = PeerSecurity { tls: peer.tls, access: access(agent) };
    tokio::spawn(weft_peer::serve(agent.storage.clone(), peer.listener, limits, security, shutdown));
}

/// With an ACL authorizer: the reader needs CLUSTER_ACTION on the cluster (denials audited).
fn access(agent: &Arc<Agent>) -> Option<PeerAccess> {
    let authorizer = agent.authorizer.clone()?;
    if !agent.config.peer_ssl {
        tracing::warn!(
            "--authorizer acl without --peer-ssl: peers read as User:ANONYMOUS, which needs CLUSTER_ACTION on the cluster, else every peer read falls back to the store"
        );
    }
    let audit = agent.audit.clone();
    Some(Arc::new(move |c: &weft_http::Connection| {
        let principal = c.principal.as_deref().unwrap_or("User:ANONYMOUS");
        crate::http::auth::cluster_allows(&authorizer, &audit, principal, c, weft_acl::AclOperation::ClusterAction)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_config::PeerListen;

    fn config() -> AgentConfig {
        AgentConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() }
    }

    #[tokio::test]
    async fn the_endpoint_is_the_advertised_host_with_the_bound_port_unless_given() {
        let peer = bind(&config(), "10.0.0.7").await.unwrap().unwrap();
        assert_eq!(peer.endpoint, format!("10.0.0.7:{}", peer.addr.port()));
        assert!(peer.addr.ip().is_loopback() && peer.addr.port() != 0, "the --listen host, a free port");
        let peer = bind(&config(), "::1").await.unwrap().unwrap();
        assert_eq!(peer.endpoint, format!("[::1]:{}", peer.addr.port()));
        let given = AgentConfig { peer_advertised: Some("agent-1.internal:9095".into()), ..config() };
        assert_eq!(bind(&given, "10.0.0.7").await.unwrap().unwrap().endpoint, "agent-1.internal:9095");
    }

    #[tokio::test]
    async fn off_or_without_the_kafka_role_there_is_no_listener() {
        let off = AgentConfig { peer_listen: PeerListen::Off, ..config() };
        assert!(bind(&off, "10.0.0.7").await.unwrap().is_none());
        let jobs = AgentConfig { roles: weft_config::Roles::parse("jobs").unwrap(), ..config() };
        assert!(bind(&jobs, "10.0.0.7").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_bad_advertised_endpoint_is_refused() {
        for bad in ["", "host", ":9095", "host:", "host:port", "host:70000", "a/b:1"] {
            let c = AgentConfig { peer_advertised: Some(bad.into()), ..config() };
            assert!(matches!(bind(&c, "h").await, Err(StartError::PeerAdvertised { .. })), "{bad:?}");
        }
    }
}
