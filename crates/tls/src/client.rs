//! The client side of mutual TLS between agents (peer reads): this agent's certificate presented to the
//! server, the server's checked against the trust store (chain and host name, as any TLS client does).

use crate::{TlsError, pem};
use std::path::Path;

/// The files a client identity is made of, from the agent's options.
#[derive(Debug, Clone, Copy)]
pub struct ClientFiles<'a> {
    /// PEM certificate chain (and the key, unless `key` is given).
    pub keystore: &'a Path,
    pub key: Option<&'a Path>,
    /// PEM CA certificates the server's certificate must chain to.
    pub truststore: &'a Path,
}

/// A TLS 1.2/1.3 client configuration presenting `files`' certificate and trusting only `files`' CAs.
pub fn client_config(files: ClientFiles<'_>) -> Result<rustls::ClientConfig, TlsError> {
    let chain = pem::chain(files.keystore)?;
    let key = pem::key(files.key.unwrap_or(files.keystore))?;
    let roots = pem::roots(files.truststore)?;
    rustls::ClientConfig::builder_with_provider(pem::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))
}
