//! The admin listener's authentication (`--admin-auth`) on a real agent, over real HTTP: the probes stay
//! open; `/metrics` answers 401 with a Basic challenge without credentials or with wrong ones (after the
//! failure delay, audited), 200 to a SCRAM user with DESCRIBE on the cluster and 403 to one without; with
//! `mtls` the client certificate's principal decides.

#[path = "../../tls/tests/certs/mod.rs"]
mod certs;

mod common;

use certs::Certs;
use common::put_user;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_agent::clock::{RandomIds, SystemClock};
use weft_agent::config::{AdminAuth, Authorizer, SslClientAuth};
use weft_meta::{AclRecord, Metastore};
use weft_sasl::scram::ScramMechanism;

/// Kafka's codes: resource type CLUSTER, pattern LITERAL, operation DESCRIBE, permission ALLOW.
const CLUSTER: i8 = 4;
const LITERAL: i8 = 3;
const DESCRIBE: i8 = 8;
const ALLOW: i8 = 3;

fn describe_cluster(principal: &str) -> AclRecord {
    AclRecord {
        resource_type: CLUSTER,
        resource_name: "kafka-cluster".into(),
        pattern_type: LITERAL,
        principal: principal.into(),
        host: "*".into(),
        operation: DESCRIBE,
        permission: ALLOW,
    }
}

struct Setup {
    dir: tempfile::TempDir,
    agent: weft_agent::RunningAgent,
}

async fn agent(tune: impl FnOnce(&mut weft_agent::AgentConfig), meta_setup: bool) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta: Arc<dyn Metastore> =
        weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    if meta_setup {
        put_user(&*meta, ScramMechanism::Sha256, "alice", "alice-secret").await;
        put_user(&*meta, ScramMechanism::Sha512, "bob", "bob-secret").await;
        meta.create_acls(&[describe_cluster("User:alice")]).await.expect("acl");
    }
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path().join("agent"));
    config.schema_registry_listen = None;
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.object_store = Some(format!("file://{}/objects", dir.path().display()));
    config.authorizer = Authorizer::Acl;
    config.audit_log = Some(dir.path().join("audit.log"));
    config.connection_failed_authentication_delay = Duration::from_millis(300);
    tune(&mut config);
    let agent = weft_agent::start_on(config, meta, Arc::new(SystemClock), Arc::new(RandomIds)).await.expect("starts");
    Setup { dir, agent }
}

impl Setup {
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.agent.admin_addr.expect("admin listener"))
    }

    /// The audit lines written so far, waiting up to 5 s for one matching `wanted`.
    async fn audit_line(&self, wanted: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        for _ in 0..100 {
            let text = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
            let lines = text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
            if let Some(found) = lines.into_iter().find(|l| wanted(l)) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no matching audit line");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_guards_metrics_and_leaves_the_probes_open() {
    let s = agent(|c| c.admin_auth = AdminAuth::Basic, true).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(s.url("http", path));
    assert_eq!(get("/healthz").send().await.unwrap().status(), 200);
    assert_ne!(get("/readyz").send().await.unwrap().status(), 401);

    let none = get("/metrics").send().await.unwrap();
    assert_eq!(none.status(), 401);
    let challenge = none.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.starts_with("Basic realm=\"weft\""), "{challenge}");

    let mut bodies = Vec::new();
    for (user, password) in [("alice", "wrong"), ("nobody", "alice-secret")] {
        let started = Instant::now();
        let refused = get("/metrics").basic_auth(user, Some(password)).send().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300), "answered after the failure delay");
        assert_eq!(refused.status(), 401);
        assert!(refused.headers().contains_key("www-authenticate"));
        bodies.push(refused.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1], "a wrong password and an unknown user look the same");
    let garbage = get("/metrics").header("authorization", "Basic !!!").send().await.unwrap();
    assert_eq!(garbage.status(), 401);

    for _ in 0..3 {
        let ok = get("/metrics").basic_auth("alice", Some("alice-secret")).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("weft_"), "the metrics");
    }
    let denied = get("/metrics").basic_auth("bob", Some("bob-secret")).send().await.unwrap();
    assert_eq!(denied.status(), 403, "bob is authenticated but may not DESCRIBE the cluster");

    let failed = s.audit_line(|l| l["event"] == "authentication" && l["principal"] == "User:nobody").await;
    assert_eq!((failed["outcome"].as_str(), failed["mechanism"].as_str()), (Some("failure"), Some("HTTP-BASIC")));
    assert_eq!(failed["listener"], "admin");
    let ok = s
        .audit_line(|l| l["event"] == "authentication" && l["principal"] == "User:alice" && l["outcome"] == "success")
        .await;
    assert_eq!(ok["mechanism"], "HTTP-BASIC");
    let denial = s.audit_line(|l| l["event"] == "denied" && l["principal"] == "User:bob").await;
    assert_eq!((denial["operation"].as_str(), denial["resource_type"].as_str()), (Some("DESCRIBE"), Some("CLUSTER")));
    s.agent.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_auth_takes_the_principal_of_the_client_certificate() {
    let certs = Certs::new();
    certs.issue("ca", "alice", "/CN=alice", None);
    certs.issue("ca", "bob", "/CN=bob", None);
    let s = agent(
        |c| {
            c.admin_auth = AdminAuth::Mtls;
            c.admin_ssl = true;
            c.ssl_client_auth = SslClientAuth::Required;
            c.ssl_keystore_location = Some(certs.path("server.pem"));
            c.ssl_key_location = Some(certs.path("server.key"));
            c.ssl_truststore_location = Some(certs.path("ca.pem"));
            c.ssl_principal_mapping_rules = "RULE:^CN=(.*)$/$1/,DEFAULT".into();
        },
        true,
    )
    .await;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.path("ca.pem")).unwrap()).unwrap();
    let client = |name: Option<&str>| {
        let builder = reqwest::Client::builder().tls_certs_only([ca.clone()]);
        let builder = match name {
            Some(name) => {
                let mut pem = std::fs::read(certs.path(&format!("{name}.pem"))).unwrap();
                pem.extend(std::fs::read(certs.path(&format!("{name}.key"))).unwrap());
                builder.identity(reqwest::Identity::from_pem(&pem).unwrap())
            }
            None => builder,
        };
        builder.build().unwrap()
    };
    let url = s.url("https", "/metrics").replace("127.0.0.1", "localhost");
    assert_eq!(client(Some("alice")).get(&url).send().await.unwrap().status(), 200);
    assert_eq!(client(Some("bob")).get(&url).send().await.unwrap().status(), 403);
    assert!(client(None).get(&url).send().await.is_err(), "no certificate, no handshake");
    s.audit_line(|l| l["event"] == "denied" && l["principal"] == "User:bob" && l["listener"] == "admin").await;
    s.agent.shutdown();
}

#[tokio::test]
async fn mtls_without_required_client_certificates_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.schema_registry_listen = None;
    config.admin_auth = AdminAuth::Mtls;
    let e = weft_agent::start(config).await.err().expect("refused").to_string();
    assert_eq!(e, "--admin-auth mtls needs --admin-ssl and --ssl-client-auth required");
}

#[tokio::test]
async fn peer_ssl_without_certificates_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.schema_registry_listen = None;
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.peer_ssl = true;
    let e = weft_agent::start(config).await.err().expect("refused").to_string();
    assert_eq!(e, "--ssl-keystore-location is required: --peer-ssl serves TLS");
}
