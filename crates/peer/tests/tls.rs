//! The peer listener over mutual TLS, on an in-memory store, with certificates made by the test: a client
//! with the agent certificate reads; a client with no certificate, one from an untrusted CA, or a plain
//! client never gets the bytes; the access rule sees the client's principal and refuses with 403.

#[path = "../../tls/tests/certs/mod.rs"]
mod certs;

use bytes::Bytes;
use certs::Certs;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use weft_config::SslClientAuth;
use weft_peer::{PeerAccess, PeerClient, PeerClientOptions, PeerSecurity, ServerLimits};
use weft_storage::{ObjectStorage, Peer, PeerFailure, keys};
use weft_tls::{ClientFiles, Tls, TlsSettings};

struct Served {
    storage: ObjectStorage,
    endpoint: String,
    _stop: watch::Sender<bool>,
}

async fn served(c: &Certs, access: Option<PeerAccess>) -> Served {
    let storage = ObjectStorage::open("memory://", 1 << 20).expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tls = Tls::new(TlsSettings {
        keystore: c.path("server.pem"),
        key: Some(c.path("server.key")),
        truststore: Some(c.path("ca.pem")),
        client_auth: SslClientAuth::Required,
        mapping_rules: "RULE:^CN=(.*)$/$1/,DEFAULT".into(),
        handshake_timeout: Duration::from_secs(2),
    })
    .expect("tls");
    let (stop, stopped) = watch::channel(false);
    let limits = ServerLimits { max_connections: 4, header_timeout: Duration::from_secs(2) };
    let security = PeerSecurity { tls: Some(tls), access };
    tokio::spawn(weft_peer::serve(storage.clone(), listener, limits, security, stopped));
    Served { storage, endpoint: format!("https://localhost:{port}"), _stop: stop }
}

fn client(c: &Certs, identity: Option<&str>) -> PeerClient {
    let options = PeerClientOptions::with_timeout(Duration::from_secs(2));
    let tls = identity.map(|name| {
        let (cert, key) = (c.path(&format!("{name}.pem")), c.path(&format!("{name}.key")));
        let files = ClientFiles { keystore: &cert, key: Some(&key), truststore: &c.path("ca.pem") };
        weft_tls::client_config(files).expect("client tls")
    });
    PeerClient::new(options, tls).expect("client")
}

async fn object(s: &Served) -> String {
    let key = keys::segment_key(1_700_000_000_000, 7);
    s.storage.put_durable(&key, Bytes::from_static(b"hello world")).await.expect("put");
    key
}

#[tokio::test]
async fn agents_with_trusted_certificates_read_over_mutual_tls() {
    let c = Certs::new();
    let s = served(&c, None).await;
    let key = object(&s).await;
    let peer = Peer { node_id: 1, endpoint: s.endpoint.clone() };
    assert_eq!(&client(&c, Some("server")).read(&peer, &key, None).await.expect("whole")[..], b"hello world");
    assert_eq!(&client(&c, Some("server")).read(&peer, &key, Some(6..11)).await.expect("range")[..], b"world");
}

#[tokio::test]
async fn clients_without_a_trusted_certificate_get_nothing() {
    let c = Certs::new();
    c.issue("rogue-ca", "rogue", "/CN=localhost", Some("subjectAltName=DNS:localhost"));
    let s = served(&c, None).await;
    let key = object(&s).await;
    let peer = Peer { node_id: 1, endpoint: s.endpoint.clone() };
    let e = client(&c, Some("rogue")).read(&peer, &key, None).await.expect_err("untrusted client certificate");
    assert!(!matches!(e, PeerFailure::Status(_)), "refused in the handshake, not by a status: {e:?}");
    // A reqwest client with the CA but no certificate of its own.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(c.path("ca.pem")).unwrap()).unwrap();
    let bare = reqwest::Client::builder().tls_certs_only([ca]).build().unwrap();
    let url = format!("{}/v1/objects/{key}", s.endpoint);
    assert!(bare.get(&url).send().await.is_err(), "no client certificate, no answer");
    // A plain client is told the peer serves TLS without trying; plain HTTP to the TLS port gets nothing.
    let plain = PeerClient::new(PeerClientOptions::with_timeout(Duration::from_secs(2)), None).unwrap();
    assert!(matches!(plain.read(&peer, &key, None).await, Err(PeerFailure::Other(_))));
    let http = s.endpoint.replace("https://", "");
    assert!(reqwest::get(format!("http://{http}/v1/objects/{key}")).await.is_err_or_not_ok());
}

#[tokio::test]
async fn the_access_rule_sees_the_principal_and_refuses_with_403() {
    let c = Certs::new();
    c.issue("ca", "reader", "/CN=reader", None);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let access: PeerAccess = Arc::new(move |conn: &weft_http::Connection| {
        log.lock().unwrap().push(conn.principal.clone());
        conn.principal.as_deref() == Some("User:localhost")
    });
    let s = served(&c, Some(access)).await;
    let key = object(&s).await;
    let peer = Peer { node_id: 1, endpoint: s.endpoint.clone() };
    assert_eq!(&client(&c, Some("server")).read(&peer, &key, None).await.expect("allowed")[..], b"hello world");
    let e = client(&c, Some("reader")).read(&peer, &key, None).await.expect_err("refused");
    assert!(matches!(e, PeerFailure::Status(403)), "{e:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [Some("User:localhost".to_string()), Some("User:reader".to_string())]);
}

/// A plain-HTTP attempt on a TLS port fails or gets no success.
trait NotOk {
    fn is_err_or_not_ok(&self) -> bool;
}

impl NotOk for Result<reqwest::Response, reqwest::Error> {
    fn is_err_or_not_ok(&self) -> bool {
        self.as_ref().map_or(true, |r| !r.status().is_success())
    }
}
