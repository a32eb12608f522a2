//! The TLS side of a listener: the server configuration built from PEM files (certificate chain, key, and
//! for mTLS the trusted CAs), rebuilt when a file changes so the next connection gets the new certificate
//! without a restart, and the handshake itself, bounded in time, counted and logged when it fails, with the
//! client's principal (`User:<mapped subject>`, or none for a client without a certificate).
//!
//! Each accept compares the files' modification time, size and inode with the last load (three `stat`
//! calls); a change rebuilds the configuration. A file that cannot be used (half written, wrong key) keeps
//! the previous configuration serving and is logged once per change.

use crate::dn::subject_dn;
use crate::mapping::{PrincipalMapper, RulesError};
use crate::pem;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use weft_config::SslClientAuth;

/// What TLS needs, from the agent's options.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain (and the key, unless `key` is given).
    pub keystore: PathBuf,
    pub key: Option<PathBuf>,
    /// PEM CA certificates for client certificates.
    pub truststore: Option<PathBuf>,
    pub client_auth: SslClientAuth,
    /// `ssl.principal.mapping.rules`.
    pub mapping_rules: String,
    pub handshake_timeout: Duration,
}

/// Why TLS cannot be set up (at start) or reloaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: rustls_pki_types::pem::Error },
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM; encrypted keys are not supported)")]
    NoKey { path: PathBuf },
    #[error("{path} holds no CA certificate usable as a trust anchor")]
    NoTrustAnchor { path: PathBuf },
    #[error("--ssl-truststore-location is required: --ssl-client-auth {0} checks client certificates")]
    NoTruststore(&'static str),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Rules(#[from] RulesError),
}

/// Why one handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("tls handshake did not complete within {0:?}")]
    Timeout(Duration),
    #[error("tls handshake failed: {0}")]
    Failed(#[from] std::io::Error),
    #[error("client certificate refused: {0}")]
    Principal(String),
}

impl HandshakeError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Failed(_) => "handshake",
            Self::Principal(_) => "principal",
        }
    }
}

/// Modification time, size and inode of each file, to notice a replacement.
type Stamp = Vec<Option<(SystemTime, u64, u64)>>;

struct Loaded {
    config: Arc<ServerConfig>,
    stamp: Stamp,
}

/// A reloading TLS acceptor shared by the listeners of an agent.
pub struct Tls {
    settings: TlsSettings,
    mapper: PrincipalMapper,
    loaded: Mutex<Loaded>,
    /// When a failed handshake was last logged, and how many failed since without a line.
    logged: Mutex<(Option<std::time::Instant>, u64)>,
}

/// At most one log line about failed handshakes per this long.
const LOG_EVERY: Duration = Duration::from_secs(5);

impl Tls {
    /// Loads the files once; any problem is an error (the agent does not start).
    pub fn new(settings: TlsSettings) -> Result<Arc<Tls>, TlsError> {
        if settings.client_auth != SslClientAuth::None && settings.truststore.is_none() {
            return Err(TlsError::NoTruststore(settings.client_auth.name()));
        }
        let mapper = PrincipalMapper::parse(&settings.mapping_rules)?;
        let stamp = stamp(&settings);
        let config = build(&settings)?;
        Ok(Arc::new(Tls { settings, mapper, loaded: Mutex::new(Loaded { config, stamp }), logged: Mutex::default() }))
    }

    /// The configuration for the next connection, rebuilt first if a file changed since the last build.
    pub fn config(&self) -> Arc<ServerConfig> {
        let now = stamp(&self.settings);
        // The lock guards no invariant a panic could break: a poisoned one is used as it is.
        let mut loaded = self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if loaded.stamp != now {
            loaded.stamp = now;
            match build(&self.settings) {
                Ok(config) => {
                    loaded.config = config;
                    metrics::counter!("weft_tls_reloads_total").increment(1);
                    tracing::info!(keystore = %self.settings.keystore.display(), "tls certificate files changed: reloaded");
                }
                Err(e) => {
                    metrics::counter!("weft_tls_reload_failures_total").increment(1);
                    tracing::warn!(error = %e, "tls certificate files changed but cannot be used; still serving the previous ones");
                }
            }
        }
        loaded.config.clone()
    }

    /// Runs the server handshake on `io` within the handshake timeout. Returns the stream and the client's
    /// principal (`User:<name>`), `None` when the client sent no certificate.
    pub async fn accept<IO>(&self, io: IO) -> Result<(TlsStream<IO>, Option<String>), HandshakeError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config());
        let timeout = self.settings.handshake_timeout;
        let stream = tokio::time::timeout(timeout, acceptor.accept(io))
            .await
            .map_err(|_| HandshakeError::Timeout(timeout))??;
        let principal = match stream.get_ref().1.peer_certificates().and_then(|c| c.first()) {
            None => None,
            Some(cert) => {
                let dn = subject_dn(cert.as_ref()).map_err(|e| HandshakeError::Principal(e.to_string()))?;
                let name = self.mapper.name(&dn).ok_or_else(|| {
                    HandshakeError::Principal(format!("no rule applies to {dn}, rules {}", self.mapper.describe()))
                })?;
                Some(format!("User:{name}"))
            }
        };
        Ok((stream, principal))
    }

    /// Counts a failed handshake and logs it, at most one line every few seconds (a client retrying
    /// without a valid certificate must not flood the log), with how many were not logged.
    pub fn note_failure(&self, peer: std::net::SocketAddr, listener: &str, e: &HandshakeError) {
        metrics::counter!("weft_tls_handshake_failures_total", "reason" => e.reason()).increment(1);
        let mut last = self.logged.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = std::time::Instant::now();
        if last.0.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
            last.1 += 1;
            return;
        }
        tracing::warn!(%peer, listener, error = %e, suppressed = last.1, "tls handshake failed; connection closed");
        *last = (Some(now), 0);
    }
}

fn stamp(settings: &TlsSettings) -> Stamp {
    let files = [Some(&settings.keystore), settings.key.as_ref(), settings.truststore.as_ref()];
    files
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(f?).ok()?;
            Some((m.modified().ok()?, m.len(), inode(&m)))
        })
        .collect()
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// Builds the server configuration from the files (TLS 1.2 and 1.3).
fn build(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = pem::chain(&settings.keystore)?;
    let key = pem::key(settings.key.as_ref().unwrap_or(&settings.keystore))?;
    let provider = pem::provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match (&settings.truststore, settings.client_auth) {
        (Some(path), auth) if auth != SslClientAuth::None => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(pem::roots(path)?), provider);
            let verifier = match auth {
                SslClientAuth::Requested => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| TlsError::Config(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}
