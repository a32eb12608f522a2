//! SASL on a real agent (127.0.0.1:0, SASL_PLAINTEXT): the gate before authentication, SCRAM-SHA-256/512
//! and PLAIN over SaslAuthenticate and over the unframed (SaslHandshake v0) flow, failed logins, session
//! expiry and re-authentication (KIP-368), the authentication timeout, and the SCRAM credential APIs.
//! Real clients (librdkafka, kafka-python, kcat) are in tests/clients/test_sasl.py.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{Conn, put_user};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_agent::config::SaslMechanisms;
use weft_sasl::scram::ScramMechanism;

impl Conn {
    async fn connect(addr: std::net::SocketAddr) -> Conn {
        Conn::open(addr, "sasl-test").await
    }

    async fn handshake(&mut self, version: i16, mechanism: &str) -> SaslHandshakeResponse {
        self.call(version, &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into())))
            .await
    }

    async fn authenticate(&mut self, version: i16, token: &[u8]) -> SaslAuthenticateResponse {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token));
        self.call(version, &req).await
    }

    /// The whole SCRAM exchange over SaslAuthenticate; returns the final response.
    async fn scram(&mut self, m: ScramMechanism, user: &str, password: &str) -> SaslAuthenticateResponse {
        assert_eq!(self.handshake(1, m.name()).await.error_code, 0);
        let client = ScramClient::new(m, user, password);
        let first = self.authenticate(2, client.first().as_bytes()).await;
        if first.error_code != 0 {
            return first;
        }
        let last = client.last(&first.auth_bytes);
        let resp = self.authenticate(2, last.as_bytes()).await;
        if resp.error_code == 0 {
            assert_eq!(resp.auth_bytes.as_ref(), client.server_final(&first.auth_bytes).as_bytes());
        }
        resp
    }

    async fn metadata(&mut self) -> Option<MetadataResponse> {
        self.try_call(12, &MetadataRequest::default().with_topics(Some(vec![]))).await
    }
}

/// The client side of SCRAM, as the RFC computes it.
struct ScramClient {
    m: ScramMechanism,
    user: String,
    password: String,
    nonce: String,
}

impl ScramClient {
    fn new(m: ScramMechanism, user: &str, password: &str) -> ScramClient {
        ScramClient { m, user: user.into(), password: password.into(), nonce: "fyko+d2lbbFgONRv9qkxdawL".into() }
    }

    fn first(&self) -> String {
        format!("n,,n={},r={}", self.user, self.nonce)
    }

    fn parts(&self, server_first: &[u8]) -> (Vec<u8>, String, String) {
        let server_first = std::str::from_utf8(server_first).expect("utf-8");
        let field = |k: &str| server_first.split(',').find_map(|f| f.strip_prefix(k)).expect("field").to_string();
        let salt = STANDARD.decode(field("s=")).expect("salt");
        let iterations: i32 = field("i=").parse().expect("iterations");
        let salted = self.m.salted_password(self.password.as_bytes(), &salt, iterations);
        let without_proof = format!("c=biws,r={}", field("r="));
        let auth = format!("n={},r={},{server_first},{without_proof}", self.user, self.nonce);
        (salted, without_proof, auth)
    }

    fn last(&self, server_first: &[u8]) -> String {
        let (salted, without_proof, auth) = self.parts(server_first);
        let client_key = self.m.hmac(&salted, &[b"Client Key"]);
        let signature = self.m.hmac(&self.m.hash(&client_key), &[auth.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", STANDARD.encode(proof))
    }

    fn server_final(&self, server_first: &[u8]) -> String {
        let (salted, _, auth) = self.parts(server_first);
        let server_key = self.m.hmac(&salted, &[b"Server Key"]);
        format!("v={}", STANDARD.encode(self.m.hmac(&server_key, &[auth.as_bytes()])))
    }
}

struct Setup {
    agent: weft_agent::RunningAgent,
    _dir: tempfile::TempDir,
}

async fn sasl_agent(tune: impl FnOnce(&mut weft_agent::AgentConfig)) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.listeners = Some("SASL_PLAINTEXT://127.0.0.1:0".into());
    config.sasl_enabled_mechanisms = SaslMechanisms::parse("SCRAM-SHA-256,SCRAM-SHA-512,PLAIN").expect("list");
    config.connection_failed_authentication_delay = Duration::from_millis(10);
    tune(&mut config);
    let meta = weft_meta::open(&config.metastore_url()).await.expect("metastore");
    put_user(&*meta, ScramMechanism::Sha256, "alice", "alice-secret").await;
    put_user(&*meta, ScramMechanism::Sha512, "alice", "alice-secret").await;
    let clock = Arc::new(weft_agent::clock::SystemClock);
    let ids = Arc::new(weft_agent::clock::RandomIds);
    let agent = weft_agent::start_on(config, meta, clock, ids).await.expect("agent starts");
    Setup { agent, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_frame_over_the_sasl_receive_size_is_refused_on_its_length() {
    let s = sasl_agent(|_| {}).await;
    let mut raw = TcpStream::connect(s.agent.kafka_addr).await.expect("connect");
    // 10 MB announced, nothing more sent: the agent must close at the prefix, not wait for (or reserve) it.
    raw.write_all(&10_000_000i32.to_be_bytes()).await.expect("write");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), raw.read(&mut buf)).await.expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "connection closed: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_logins_succeed_and_carry_on() {
    let s = sasl_agent(|c| c.connections_max_reauth = Duration::from_secs(3600)).await;
    for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        let mut c = Conn::connect(s.agent.kafka_addr).await;
        let versions = c.call(3, &ApiVersionsRequest::default()).await;
        let listed: Vec<i16> = versions.api_keys.iter().map(|k| k.api_key).collect();
        for api in [ApiKey::SaslHandshake, ApiKey::SaslAuthenticate, ApiKey::DescribeUserScramCredentials] {
            assert!(listed.contains(&(api as i16)), "{api:?} advertised");
        }
        let done = c.scram(m, "alice", "alice-secret").await;
        assert_eq!((done.error_code, done.session_lifetime_ms), (0, 3_600_000), "{m:?}");
        assert!(c.metadata().await.is_some(), "requests pass once authenticated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_look_alike_and_close_the_connection() {
    let s = sasl_agent(|_| {}).await;
    let mut messages = Vec::new();
    for (user, password) in [("alice", "wrong"), ("mallory", "alice-secret")] {
        let mut c = Conn::connect(s.agent.kafka_addr).await;
        let resp = c.scram(ScramMechanism::Sha256, user, password).await;
        assert_eq!(resp.error_code, ResponseError::SaslAuthenticationFailed.code(), "{user}");
        messages.push(resp.error_message.map(|m| m.to_string()));
        assert!(c.closed().await, "closed after a failed login");
    }
    assert_eq!(messages[0], messages[1], "an unknown user fails like a wrong password");
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    let plain = |u: &str, p: &str| format!("\0{u}\0{p}");
    assert_eq!(c.handshake(1, "PLAIN").await.error_code, 0);
    let resp = c.authenticate(2, plain("alice", "nope").as_bytes()).await;
    assert_eq!(resp.error_code, ResponseError::SaslAuthenticationFailed.code());
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_sasl_requests_pass_before_authentication() {
    let s = sasl_agent(|_| {}).await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert!(c.metadata().await.is_none(), "Metadata before authentication closes the connection");

    let mut c = Conn::connect(s.agent.kafka_addr).await;
    let refused = c.handshake(1, "GSSAPI").await;
    assert_eq!(refused.error_code, ResponseError::UnsupportedSaslMechanism.code());
    let names: Vec<String> = refused.mechanisms.iter().map(|m| m.to_string()).collect();
    assert_eq!(names, ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"], "the enabled mechanisms");
    assert!(c.closed().await);

    let mut c = Conn::connect(s.agent.kafka_addr).await;
    let alone = c.try_call(2, &SaslAuthenticateRequest::default()).await;
    assert!(alone.is_none(), "SaslAuthenticate without SaslHandshake closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_logs_in_against_stored_credentials_and_over_the_unframed_flow() {
    let users = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(users.path(), "# test users\nbob:bob-secret\n").expect("write");
    let path = users.path().display().to_string();
    let s = sasl_agent(move |c| c.sasl_plain_users_file = Some(path)).await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.error_code, 0);
    assert_eq!(c.authenticate(1, b"\0alice\0alice-secret").await.error_code, 0, "a metastore user");
    assert!(c.metadata().await.is_some());

    // SaslHandshake v0: the token follows as a bare frame, and so does the answer.
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.handshake(0, "PLAIN").await.error_code, 0);
    c.send_frame(b"\0bob\0bob-secret").await;
    assert_eq!(c.read_frame().await.expect("empty answer").len(), 0);
    assert!(c.metadata().await.is_some(), "a file user, unframed");

    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.handshake(0, "PLAIN").await.error_code, 0);
    c.send_frame(b"\0bob\0wrong").await;
    assert!(c.closed().await, "an unframed failure closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_unless_reauthenticated() {
    use tokio::time::{Instant, sleep_until};
    let lifetime = Duration::from_millis(3000);
    let s = sasl_agent(|c| c.connections_max_reauth = lifetime).await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.scram(ScramMechanism::Sha256, "alice", "alice-secret").await.session_lifetime_ms, 3000);
    let first = Instant::now();
    sleep_until(first + Duration::from_millis(2000)).await;
    // Re-authentication (KIP-368) renews the session; the principal must stay.
    assert_eq!(c.scram(ScramMechanism::Sha256, "alice", "alice-secret").await.error_code, 0);
    let renewed = Instant::now();
    sleep_until(first + lifetime + Duration::from_millis(200)).await;
    assert!(renewed.elapsed() < lifetime, "the test machine was too slow to check renewal");
    assert!(c.metadata().await.is_some(), "renewed past the first session's end");
    sleep_until(renewed + lifetime + Duration::from_millis(200)).await;
    assert!(c.metadata().await.is_none(), "expired: the next request closes the connection");

    // Re-authenticating as someone else closes the connection.
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", s._dir.path().display())).await.expect("meta");
    put_user(&*meta, ScramMechanism::Sha256, "bob", "bob-secret").await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.scram(ScramMechanism::Sha256, "alice", "alice-secret").await.error_code, 0);
    assert_eq!(c.handshake(1, "SCRAM-SHA-256").await.error_code, 0);
    let bob = ScramClient::new(ScramMechanism::Sha256, "bob", "bob-secret");
    let first = c.authenticate(2, bob.first().as_bytes()).await;
    let last = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bob.last(&first.auth_bytes)));
    assert!(c.try_call(2, &last).await.is_none(), "a principal change closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_disconnected() {
    let s = sasl_agent(|c| c.sasl_authentication_timeout = Duration::from_millis(1500)).await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert!(c.closed().await, "not authenticated within the timeout");
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.scram(ScramMechanism::Sha256, "alice", "alice-secret").await.error_code, 0);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(c.metadata().await.is_some(), "an authenticated connection stays");
}

fn upsert(user: &str, mechanism: i8, iterations: i32, password: &str) -> ScramCredentialUpsertion {
    let m = ScramMechanism::from_kafka_type(mechanism).unwrap_or(ScramMechanism::Sha256);
    let salt = b"0123456789abcdef".to_vec();
    let salted = m.salted_password(password.as_bytes(), &salt, iterations.clamp(1, 16384));
    ScramCredentialUpsertion::default()
        .with_name(StrBytes::from_string(user.into()))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(salt.into())
        .with_salted_password(salted.into())
}

fn delete(user: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default().with_name(StrBytes::from_string(user.into())).with_mechanism(mechanism)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_credential_apis_answer_kafkas_codes() {
    let s = sasl_agent(|_| {}).await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.scram(ScramMechanism::Sha512, "alice", "alice-secret").await.error_code, 0);
    let req = AlterUserScramCredentialsRequest::default()
        .with_upsertions(vec![
            upsert("carol", 1, 8192, "carol-secret"),
            upsert("dave", 1, 1024, "x"),
            upsert("erin", 3, 4096, "x"),
            upsert("frank", 1, 4096, "x"),
            upsert("frank", 1, 4096, "y"),
        ])
        .with_deletions(vec![delete("nobody", 2)]);
    let altered = c.call(0, &req).await;
    let codes: Vec<(String, i16)> = altered.results.iter().map(|r| (r.user.to_string(), r.error_code)).collect();
    assert_eq!(
        codes,
        [
            ("nobody".to_string(), ResponseError::ResourceNotFound.code()),
            ("carol".to_string(), 0),
            ("dave".to_string(), ResponseError::UnacceptableCredential.code()),
            ("erin".to_string(), ResponseError::UnsupportedSaslMechanism.code()),
            ("frank".to_string(), ResponseError::DuplicateResource.code()),
        ]
    );
    let names = |n: &[&str]| {
        Some(n.iter().map(|u| UserName::default().with_name(StrBytes::from_string(u.to_string()))).collect())
    };
    let described =
        c.call(0, &DescribeUserScramCredentialsRequest::default().with_users(names(&["carol", "dave", "carol"]))).await;
    type Described = (String, i16, Vec<(i8, i32)>);
    let got: Vec<Described> = described
        .results
        .iter()
        .map(|r| {
            let infos = r.credential_infos.iter().map(|i| (i.mechanism, i.iterations)).collect();
            (r.user.to_string(), r.error_code, infos)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("carol".to_string(), ResponseError::DuplicateResource.code(), vec![]),
            ("dave".to_string(), ResponseError::ResourceNotFound.code(), vec![]),
        ]
    );
    let all = c.call(0, &DescribeUserScramCredentialsRequest::default().with_users(None)).await;
    let users: Vec<String> = all.results.iter().map(|r| r.user.to_string()).collect();
    assert_eq!(users, ["alice", "carol"]);
    assert_eq!(all.results[1].credential_infos[0].iterations, 8192);

    // The new user logs in at once; deleting the credential ends that.
    let mut carol = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(carol.scram(ScramMechanism::Sha256, "carol", "carol-secret").await.error_code, 0);
    let deleted =
        c.call(0, &AlterUserScramCredentialsRequest::default().with_deletions(vec![delete("carol", 1)])).await;
    assert_eq!(deleted.results[0].error_code, 0);
    let mut carol = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(
        carol.scram(ScramMechanism::Sha256, "carol", "carol-secret").await.error_code,
        ResponseError::SaslAuthenticationFailed.code()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_listeners_refuse_sasl_as_kafka_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let mut c = Conn::connect(agent.kafka_addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.error_code, ResponseError::IllegalSaslState.code());
    assert!(c.metadata().await.is_some(), "and stay open");
}

/// A refused OAUTHBEARER token gets RFC 7628's error challenge; the client's `0x01` then gets
/// SASL_AUTHENTICATION_FAILED and the connection closes. (Signed tokens: tests/clients/test_sasl.py.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_bearer_tokens_get_the_rfc_7628_error_first() {
    let keys = tempfile::tempdir().expect("tempdir");
    let jwks = keys.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":"sXch","e":"AQAB"}]}"#).expect("write");
    let url = format!("file://{}", jwks.display());
    let s = sasl_agent(move |c| {
        c.sasl_enabled_mechanisms = SaslMechanisms::parse("OAUTHBEARER").expect("list");
        c.sasl_oauthbearer_jwks_endpoint_url = Some(url);
    })
    .await;
    let mut c = Conn::connect(s.agent.kafka_addr).await;
    assert_eq!(c.handshake(1, "OAUTHBEARER").await.error_code, 0);
    let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5OX0.";
    let challenge = c.authenticate(2, format!("n,,\x01auth=Bearer {unsigned}\x01\x01").as_bytes()).await;
    assert_eq!(challenge.error_code, 0, "the error travels as a challenge first");
    assert_eq!(challenge.auth_bytes.as_ref(), br#"{"status":"invalid_token"}"#);
    let done = c.authenticate(2, b"\x01").await;
    assert_eq!(done.error_code, ResponseError::SaslAuthenticationFailed.code());
    assert!(c.closed().await);

    // An agent whose JWKS cannot be read does not start.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.listeners = Some("SASL_PLAINTEXT://127.0.0.1:0".into());
    config.sasl_enabled_mechanisms = SaslMechanisms::parse("OAUTHBEARER").expect("list");
    config.sasl_oauthbearer_jwks_endpoint_url = Some(format!("file://{}/missing.json", dir.path().display()));
    let refused = weft_agent::start(config).await.err().expect("refused");
    assert!(refused.to_string().contains("JWKS"), "{refused}");
}
