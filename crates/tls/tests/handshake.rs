//! The acceptor against a rustls client over an in-memory pipe: the principal of a client certificate
//! (subject through the mapping rules), `User:ANONYMOUS`'s `None` without one, refusals for a missing or
//! untrusted certificate when required, a certificate replaced on disk served to the next handshake, and
//! a stalled handshake closed at its timeout.

mod certs;

use certs::Certs;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_config::SslClientAuth;
use weft_tls::{HandshakeError, Tls, TlsSettings};

fn settings(c: &Certs, client_auth: SslClientAuth) -> TlsSettings {
    TlsSettings {
        keystore: c.path("server.pem"),
        key: Some(c.path("server.key")),
        truststore: Some(c.path("ca.pem")),
        client_auth,
        mapping_rules: "RULE:^CN=(.*?),OU=eng,.*$/$1/L,DEFAULT".into(),
        handshake_timeout: Duration::from_secs(5),
    }
}

fn client(c: &Certs, identity: Option<&str>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(c.path("ca.pem")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(name) => {
            let chain = vec![CertificateDer::from_pem_file(c.path(&format!("{name}.pem"))).unwrap()];
            let key = PrivateKeyDer::from_pem_file(c.path(&format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One handshake over a pipe: the server's outcome, and the certificate the client saw (if it completed).
async fn handshake(
    tls: &Tls,
    connector: tokio_rustls::TlsConnector,
) -> (Result<Option<String>, HandshakeError>, Option<Vec<u8>>) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = async {
        match tls.accept(a).await {
            Ok((mut stream, principal)) => {
                // One byte each way, so the client's view of the handshake (TLS 1.3 client auth) is final.
                let mut byte = [0u8; 1];
                let _ = stream.read_exact(&mut byte).await;
                let _ = stream.write_all(b"y").await;
                let _ = stream.flush().await;
                Ok(principal)
            }
            Err(e) => Err(e),
        }
    };
    let client = async {
        let mut s = connector.connect(ServerName::try_from("localhost").unwrap(), b).await.ok()?;
        s.write_all(b"x").await.ok()?;
        s.flush().await.ok()?;
        let mut byte = [0u8; 1];
        s.read_exact(&mut byte).await.ok()?;
        let cert = s.get_ref().1.peer_certificates()?.first()?.as_ref().to_vec();
        Some(cert)
    };
    tokio::join!(server, client)
}

#[tokio::test]
async fn a_client_certificate_becomes_the_mapped_principal() {
    let c = Certs::new();
    c.issue("ca", "alice", "/C=US/O=Acme/OU=eng/CN=Alice", None);
    c.issue("ca", "bob", "/C=US/O=Acme/OU=ops/CN=Bob", None);
    let tls = Tls::new(settings(&c, SslClientAuth::Requested)).unwrap();
    let (alice, seen) = handshake(&tls, client(&c, Some("alice"))).await;
    assert_eq!(alice.unwrap(), Some("User:alice".into()), "RULE maps CN=Alice,OU=eng,... to alice");
    assert!(seen.is_some());
    let (bob, _) = handshake(&tls, client(&c, Some("bob"))).await;
    assert_eq!(bob.unwrap(), Some("User:CN=Bob,OU=ops,O=Acme,C=US".into()), "DEFAULT keeps the RFC 2253 DN");
    let (anonymous, seen) = handshake(&tls, client(&c, None)).await;
    assert_eq!(anonymous.unwrap(), None, "requested: no certificate is User:ANONYMOUS");
    assert!(seen.is_some());
}

#[tokio::test]
async fn required_client_auth_refuses_missing_and_untrusted_certificates() {
    let c = Certs::new();
    c.issue("ca", "alice", "/CN=alice", None);
    c.issue("rogue-ca", "mallory", "/CN=mallory", None);
    let tls = Tls::new(settings(&c, SslClientAuth::Required)).unwrap();
    let (none, seen) = handshake(&tls, client(&c, None)).await;
    assert!(matches!(none, Err(HandshakeError::Failed(_))), "{none:?}");
    assert!(seen.is_none());
    let (rogue, seen) = handshake(&tls, client(&c, Some("mallory"))).await;
    assert!(matches!(rogue, Err(HandshakeError::Failed(_))), "{rogue:?}");
    assert!(seen.is_none());
    let (alice, _) = handshake(&tls, client(&c, Some("alice"))).await;
    assert_eq!(alice.unwrap(), Some("User:CN=alice".into()));
}

#[tokio::test]
async fn no_matching_rule_refuses_the_client() {
    let c = Certs::new();
    c.issue("ca", "alice", "/CN=alice", None);
    let tls = Tls::new(TlsSettings {
        mapping_rules: "RULE:^CN=(.*),O=Acme$/$1/".into(),
        ..settings(&c, SslClientAuth::Required)
    })
    .unwrap();
    let (outcome, _) = handshake(&tls, client(&c, Some("alice"))).await;
    let e = outcome.unwrap_err();
    assert!(e.to_string().contains("no rule applies to CN=alice"), "{e}");
}

#[tokio::test]
async fn a_replaced_certificate_is_served_to_the_next_handshake() {
    let c = Certs::new();
    let tls = Tls::new(settings(&c, SslClientAuth::None)).unwrap();
    let (_, first) = handshake(&tls, client(&c, None)).await;
    let first = first.expect("handshake");
    c.issue("ca", "server2", "/CN=localhost/O=renewed", Some("subjectAltName=DNS:localhost"));
    std::fs::rename(c.path("server2.key"), c.path("server.key")).unwrap();
    std::fs::rename(c.path("server2.pem"), c.path("server.pem")).unwrap();
    let (_, second) = handshake(&tls, client(&c, None)).await;
    let second = second.expect("handshake after the replacement");
    assert_ne!(first, second, "the new certificate is served without a restart");
    assert!(weft_tls::dn::subject_dn(&second).unwrap().contains("O=renewed"));
    // A broken replacement keeps the last good certificate serving.
    std::fs::write(c.path("server.pem"), "not a certificate").unwrap();
    let (_, third) = handshake(&tls, client(&c, None)).await;
    assert_eq!(third.expect("still served"), second);
}

#[tokio::test]
async fn a_stalled_handshake_ends_at_the_timeout() {
    let c = Certs::new();
    let tls =
        Tls::new(TlsSettings { handshake_timeout: Duration::from_millis(200), ..settings(&c, SslClientAuth::None) })
            .unwrap();
    let (a, _b) = tokio::io::duplex(1024);
    let started = std::time::Instant::now();
    let outcome = tls.accept(a).await;
    assert!(matches!(outcome, Err(HandshakeError::Timeout(_))));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn bad_settings_are_refused_at_start_with_the_reason() {
    let c = Certs::new();
    let no_trust = TlsSettings { truststore: None, ..settings(&c, SslClientAuth::Required) };
    assert!(Tls::new(no_trust).err().unwrap().to_string().contains("--ssl-truststore-location is required"));
    let wrong_key = TlsSettings { key: Some(c.path("ca.pem")), ..settings(&c, SslClientAuth::None) };
    assert!(Tls::new(wrong_key).err().unwrap().to_string().contains("no unencrypted private key"));
    let bad_rules = TlsSettings { mapping_rules: "RULE:x".into(), ..settings(&c, SslClientAuth::None) };
    assert!(Tls::new(bad_rules).err().unwrap().to_string().contains("ssl.principal.mapping.rules"));
    let mismatched = TlsSettings { key: Some(c.path("rogue-ca.key")), ..settings(&c, SslClientAuth::None) };
    assert!(Tls::new(mismatched).is_err(), "a key that is not the certificate's");
}
