//! Reading the PEM files TLS is built from (certificate chain, private key, trusted CAs), shared by the
//! server acceptor and the peer client.

use crate::TlsError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

fn read_err(path: &Path) -> impl Fn(rustls_pki_types::pem::Error) -> TlsError + '_ {
    move |source| TlsError::Read { path: path.to_path_buf(), source }
}

/// The crypto provider of every configuration (aws-lc-rs, as the workspace's rustls is built).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The certificate chain in `path` (at least one certificate).
pub(crate) fn chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(read_err(path))?
        .collect::<Result<_, _>>()
        .map_err(read_err(path))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_path_buf() });
    }
    Ok(chain)
}

/// The unencrypted private key in `path`.
pub(crate) fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|_| TlsError::NoKey { path: path.to_path_buf() })
}

/// The trust anchors in `path` (at least one).
pub(crate) fn roots(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(read_err(path))? {
        let cert = cert.map_err(read_err(path))?;
        roots.add(cert).map_err(|_| TlsError::NoTrustAnchor { path: path.to_path_buf() })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoTrustAnchor { path: path.to_path_buf() });
    }
    Ok(roots)
}
