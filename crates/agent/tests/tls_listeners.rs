//! Named listeners and TLS on a real agent, with a rustls client: a PLAINTEXT and an SSL listener side by
//! side, each answering Metadata, DescribeCluster and FindCoordinator with its own advertised endpoint; mTLS
//! required refuses a client without a certificate; the admin listener serves HTTPS with `--admin-ssl`.

#[path = "../../tls/tests/certs/mod.rs"]
mod certs;

use bytes::{Buf, Bytes, BytesMut};
use certs::Certs;
use kafka_protocol::messages::{
    DescribeClusterRequest, FindCoordinatorRequest, MetadataRequest, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_agent::config::SslClientAuth;

async fn call<S: AsyncRead + AsyncWrite + Unpin, R: Request>(s: &mut S, version: i16, req: &R) -> R::Response {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("tls-test")));
    let mut buf = BytesMut::new();
    header.encode(&mut buf, R::header_version(version)).unwrap();
    req.encode(&mut buf, version).unwrap();
    s.write_u32(buf.len() as u32).await.unwrap();
    s.write_all(&buf).await.unwrap();
    s.flush().await.unwrap();
    let len = s.read_u32().await.unwrap();
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body).await.unwrap();
    let mut body = Bytes::from(body);
    let h = ResponseHeader::decode(&mut body, R::Response::header_version(version)).unwrap();
    assert_eq!(h.correlation_id, 7);
    let resp = R::Response::decode(&mut body, version).unwrap();
    assert!(!body.has_remaining());
    resp
}

fn connector(c: &Certs, identity: Option<&str>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(c.path("ca.pem")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(name) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_file(c.path(&format!("{name}.pem"))).unwrap()],
                PrivateKeyDer::from_pem_file(c.path(&format!("{name}.key"))).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn agent(c: &Certs, client_auth: SslClientAuth) -> (tempfile::TempDir, weft_agent::RunningAgent) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listeners = Some("PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0".into());
    config.advertised_listeners = Some("SSL://localhost:19093".into());
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.schema_registry_listen = None;
    config.admin_ssl = true;
    config.ssl_keystore_location = Some(c.path("server.pem"));
    config.ssl_key_location = Some(c.path("server.key"));
    config.ssl_truststore_location = Some(c.path("ca.pem"));
    config.ssl_client_auth = client_auth;
    let agent = weft_agent::start(config).await.expect("agent starts");
    (dir, agent)
}

fn addr(agent: &weft_agent::RunningAgent, name: &str) -> std::net::SocketAddr {
    agent.listeners.iter().find(|(n, _)| n == name).map(|(_, a)| *a).expect("listener bound")
}

#[tokio::test]
async fn each_listener_advertises_its_own_endpoint() {
    let c = Certs::new();
    let (_dir, agent) = agent(&c, SslClientAuth::Requested).await;
    let plain_addr = addr(&agent, "PLAINTEXT");
    assert_eq!(agent.kafka_addr, plain_addr, "the first listener is kafka_addr");
    let mut plain = TcpStream::connect(plain_addr).await.unwrap();
    let tcp = TcpStream::connect(addr(&agent, "SSL")).await.unwrap();
    let mut tls = connector(&c, None).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();

    let meta = MetadataRequest::default().with_topics(Some(vec![]));
    let on_plain = call(&mut plain, 12, &meta).await;
    let on_tls = call(&mut tls, 12, &meta).await;
    let endpoint =
        |b: &kafka_protocol::messages::metadata_response::MetadataResponseBroker| (b.host.to_string(), b.port);
    assert_eq!(
        on_plain.brokers.iter().map(endpoint).collect::<Vec<_>>(),
        vec![("127.0.0.1".into(), i32::from(plain_addr.port()))]
    );
    assert_eq!(on_tls.brokers.iter().map(endpoint).collect::<Vec<_>>(), vec![("localhost".into(), 19093)]);

    let cluster = call(&mut tls, 0, &DescribeClusterRequest::default()).await;
    assert_eq!(
        cluster.brokers.iter().map(|b| (b.host.to_string(), b.port)).collect::<Vec<_>>(),
        vec![("localhost".into(), 19093)]
    );
    let find = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let coordinator = call(&mut tls, 3, &find).await;
    assert_eq!(
        (coordinator.error_code, coordinator.host.to_string(), coordinator.port),
        (0, "localhost".into(), 19093)
    );
    let coordinator = call(&mut plain, 3, &find).await;
    assert_eq!((coordinator.error_code, coordinator.port), (0, i32::from(plain_addr.port())));

    // With a client certificate (requested) the session works the same.
    c.issue("ca", "alice", "/CN=alice", None);
    let tcp = TcpStream::connect(addr(&agent, "SSL")).await.unwrap();
    let mut alice =
        connector(&c, Some("alice")).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    assert_eq!(call(&mut alice, 12, &meta).await.brokers.len(), 1);
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test]
async fn required_client_auth_refuses_a_client_without_a_certificate() {
    let c = Certs::new();
    c.issue("ca", "alice", "/CN=alice", None);
    let (_dir, agent) = agent(&c, SslClientAuth::Required).await;
    let tcp = TcpStream::connect(addr(&agent, "SSL")).await.unwrap();
    // TLS 1.3: the client learns of the refusal on its first read.
    let refused = async {
        let mut s = connector(&c, None).connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
        s.write_all(&[0, 0, 0, 1, 0]).await?;
        s.flush().await?;
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.map(|_| ())
    };
    assert!(refused.await.is_err(), "the agent closes a client without a certificate");
    let tcp = TcpStream::connect(addr(&agent, "SSL")).await.unwrap();
    let mut alice =
        connector(&c, Some("alice")).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let meta = MetadataRequest::default().with_topics(Some(vec![]));
    assert_eq!(call(&mut alice, 12, &meta).await.brokers.len(), 1);
    // The admin listener is HTTPS and asks for the same client certificate.
    let admin = agent.admin_addr.expect("admin listener");
    let tcp = TcpStream::connect(admin).await.unwrap();
    let mut https =
        connector(&c, Some("alice")).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    https.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut reply = String::new();
    https.read_to_string(&mut reply).await.ok();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok\n"), "{reply}");
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test]
async fn tls_without_a_keystore_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listeners = Some("SSL://127.0.0.1:0".into());
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let e = weft_agent::start(config).await.err().expect("refused").to_string();
    assert!(e.contains("--ssl-keystore-location is required: listener SSL serves TLS"), "{e}");
}
