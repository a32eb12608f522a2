//! The schema registry served by real agents over HTTP: Confluent's paths, status codes and error bodies,
//! ids stable across a restart, and two agents on one PostgreSQL registering at once without duplicates.
//! Compatibility outcomes use only unambiguous Avro changes (a field without a default added).

use serde_json::{Value, json};
use weft_agent::{AgentConfig, RunningAgent};

async fn start_with(data: &std::path::Path, metastore: Option<String>, objects: Option<String>) -> RunningAgent {
    let mut config = AgentConfig::with_data_dir(data);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.peer_listen = weft_agent::config::PeerListen::Off;
    config.schema_registry_listen = Some("127.0.0.1:0".parse().unwrap());
    config.metastore = metastore;
    config.object_store = objects;
    weft_agent::start(config).await.expect("agent starts")
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn of(agent: &RunningAgent) -> Api {
        let addr = agent.schema_registry_addr.expect("registry listener");
        Api { http: reqwest::Client::new(), base: format!("http://{addr}") }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.header("content-type", "application/vnd.schemaregistry.v1+json").body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

fn record(fields: &[(&str, bool)]) -> String {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(name, default)| match default {
            true => json!({"name": name, "type": "string", "default": ""}),
            false => json!({"name": name, "type": "string"}),
        })
        .collect();
    json!({"type": "record", "name": "User", "fields": fields}).to_string()
}

fn code(reply: &(u16, Value)) -> (u16, i64) {
    (reply.0, reply.1["error_code"].as_i64().unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_reads_and_answers_confluent_errors() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_with(dir.path(), None, None).await;
    let api = Api::of(&agent);
    let v1 = record(&[("name", false)]);

    assert_eq!(api.post("/subjects/users-value/versions", json!({"schema": v1})).await, (200, json!({"id": 1})));
    assert_eq!(api.post("/subjects/users-value/versions", json!({"schema": v1})).await, (200, json!({"id": 1})));
    assert_eq!(api.post("/subjects/other-value/versions", json!({"schema": v1})).await, (200, json!({"id": 1})));
    assert_eq!(api.get("/subjects").await, (200, json!(["other-value", "users-value"])));
    assert_eq!(api.get("/subjects?subjectPrefix=users").await, (200, json!(["users-value"])));
    assert_eq!(api.get("/subjects/users-value/versions").await, (200, json!([1])));
    let latest = api.get("/subjects/users-value/versions/latest").await;
    assert_eq!(latest.0, 200);
    assert_eq!(
        (latest.1["subject"].clone(), latest.1["version"].clone(), latest.1["id"].clone()),
        (json!("users-value"), json!(1), json!(1))
    );
    assert_eq!(api.get("/subjects/users-value/versions/-1").await, latest);
    let stored_text = latest.1["schema"].as_str().unwrap().to_string();
    assert_eq!(
        api.get("/subjects/users-value/versions/1/schema").await.1,
        serde_json::from_str::<Value>(&stored_text).unwrap()
    );
    assert_eq!(api.get("/schemas/ids/1").await, (200, json!({"schema": stored_text})));
    assert_eq!(api.get("/schemas/ids/1/subjects").await, (200, json!(["other-value", "users-value"])));
    assert_eq!(
        api.get("/schemas/ids/1/versions").await,
        (200, json!([{"subject": "other-value", "version": 1}, {"subject": "users-value", "version": 1}]))
    );
    assert_eq!(api.get("/schemas/types").await, (200, json!(["JSON", "PROTOBUF", "AVRO"])));
    let found = api.post("/subjects/users-value", json!({"schema": v1})).await;
    assert_eq!((found.0, found.1["id"].clone(), found.1["version"].clone()), (200, json!(1), json!(1)));

    // Errors, with Confluent's codes and content type.
    let response = reqwest::get(format!("{}/subjects/nope/versions", api.base)).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/vnd.schemaregistry.v1+json");
    assert_eq!(code(&api.get("/subjects/nope/versions").await), (404, 40401));
    assert_eq!(code(&api.get("/subjects/users-value/versions/9").await), (404, 40402));
    assert_eq!(code(&api.get("/subjects/users-value/versions/0").await), (422, 42202));
    assert_eq!(code(&api.get("/schemas/ids/77").await), (404, 40403));
    assert_eq!(
        code(&api.post("/subjects/users-value", json!({"schema": record(&[("x", false)])})).await),
        (404, 40403)
    );
    assert_eq!(code(&api.post("/subjects/nope", json!({"schema": v1})).await), (404, 40401));
    assert_eq!(code(&api.post("/subjects/bad/versions", json!({"schema": "{not json"})).await), (422, 42201));
    assert_eq!(
        code(&api.post("/subjects/bad/versions", json!({"schema": v1, "schemaType": "XML"})).await),
        (422, 42201)
    );
    assert_eq!(code(&api.post("/subjects/bad/versions", json!({"nothing": 1})).await), (422, 42201));
    let raw = api.http.post(format!("{}/subjects/bad/versions", api.base)).body("{").send().await.unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let huge = "x".repeat(9 * 1024 * 1024);
    let raw = api.http.post(format!("{}/subjects/bad/versions", api.base)).body(huge).send().await.unwrap();
    assert_eq!(raw.status().as_u16(), 413);
    assert_eq!(code(&api.get("/no/such/route").await), (404, 404));
    assert_eq!(code(&api.call(reqwest::Method::PATCH, "/subjects", None).await), (405, 405));

    // BACKWARD (the default): a field without a default cannot be read from old data.
    let breaking = record(&[("name", false), ("email", false)]);
    assert_eq!(code(&api.post("/subjects/users-value/versions", json!({"schema": breaking})).await), (409, 409));
    let check =
        api.post("/compatibility/subjects/users-value/versions/latest?verbose=true", json!({"schema": breaking})).await;
    assert_eq!((check.0, check.1["is_compatible"].clone()), (200, json!(false)));
    assert!(!check.1["messages"].as_array().unwrap().is_empty(), "{check:?}");
    let fine = record(&[("name", false), ("email", true)]);
    assert_eq!(
        api.post("/compatibility/subjects/users-value/versions/1", json!({"schema": fine})).await,
        (200, json!({"is_compatible": true}))
    );
    assert_eq!(api.post("/subjects/users-value/versions", json!({"schema": fine})).await, (200, json!({"id": 2})));
    // FORWARD: the same change that BACKWARD refused passes (old readers ignore the new field).
    assert_eq!(code(&api.get("/config/users-value").await), (404, 40408));
    assert_eq!(
        api.put("/config/users-value", json!({"compatibility": "FORWARD"})).await,
        (200, json!({"compatibility": "FORWARD"}))
    );
    assert_eq!(api.get("/config/users-value").await, (200, json!({"compatibilityLevel": "FORWARD"})));
    assert_eq!(api.get("/config").await, (200, json!({"compatibilityLevel": "BACKWARD"})));
    assert_eq!(
        api.get("/config/other-value?defaultToGlobal=true").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(code(&api.put("/config", json!({"compatibility": "SIDEWAYS"})).await), (422, 42203));
    let forward = record(&[("name", false), ("email", true), ("phone", false)]);
    assert_eq!(api.post("/subjects/users-value/versions", json!({"schema": forward})).await, (200, json!({"id": 3})));
    assert_eq!(api.delete("/config/users-value").await, (200, json!({"compatibilityLevel": "FORWARD"})));

    // Modes: READONLY refuses writes; IMPORT takes explicit ids (only with force over existing subjects).
    assert_eq!(code(&api.put("/mode", json!({"mode": "SOMETIMES"})).await), (422, 42204));
    assert_eq!(api.put("/mode/users-value", json!({"mode": "READONLY"})).await, (200, json!({"mode": "READONLY"})));
    assert_eq!(code(&api.post("/subjects/users-value/versions", json!({"schema": v1})).await), (422, 42205));
    assert_eq!(code(&api.delete("/subjects/users-value").await), (422, 42205));
    assert_eq!(api.get("/mode").await, (200, json!({"mode": "READWRITE"})));
    assert_eq!(api.delete("/mode/users-value").await, (200, json!({"mode": "READONLY"})));
    assert_eq!(code(&api.get("/mode/users-value").await), (404, 40409));
    assert_eq!(code(&api.put("/mode/users-value", json!({"mode": "IMPORT"})).await), (422, 42205));
    assert_eq!(api.put("/mode/imported", json!({"mode": "IMPORT"})).await.0, 200);
    let imported = json!({"schema": record(&[("imported", false)]), "id": 100, "version": 5});
    assert_eq!(api.post("/subjects/imported/versions", imported).await, (200, json!({"id": 100})));
    assert_eq!(api.get("/subjects/imported/versions").await, (200, json!([5])));
    let explicit = json!({"schema": record(&[("other", false)]), "id": 200});
    assert_eq!(code(&api.post("/subjects/other-value/versions", explicit).await), (422, 42205));

    // Deletes: soft, then permanent; each refused out of order.
    assert_eq!(code(&api.delete("/subjects/other-value/versions/1?permanent=true").await), (404, 40407));
    assert_eq!(api.delete("/subjects/other-value/versions/1").await, (200, json!(1)));
    assert_eq!(code(&api.delete("/subjects/other-value/versions/1").await), (404, 40406));
    assert_eq!(code(&api.get("/subjects/other-value/versions").await), (404, 40401));
    assert_eq!(api.get("/subjects/other-value/versions?deleted=true").await, (200, json!([1])));
    assert_eq!(api.get("/subjects?deleted=true").await.1.as_array().unwrap().len(), 3);
    assert_eq!(api.delete("/subjects/other-value/versions/1?permanent=true").await, (200, json!(1)));
    assert_eq!(code(&api.delete("/subjects/users-value?permanent=true").await), (404, 40405));

    // References: registered with one, the referenced version cannot be deleted.
    let address = json!({"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]});
    assert_eq!(api.post("/subjects/address/versions", json!({"schema": address.to_string()})).await.0, 200);
    let person = json!({"type": "record", "name": "Person", "fields": [{"name": "home", "type": "Address"}]});
    let refs = json!([{"name": "Address", "subject": "address", "version": 1}]);
    let registered =
        api.post("/subjects/person/versions", json!({"schema": person.to_string(), "references": refs})).await;
    assert_eq!(registered.0, 200, "{registered:?}");
    let person_id = registered.1["id"].clone();
    assert_eq!(api.get("/subjects/address/versions/1/referencedby").await, (200, json!([person_id])));
    assert_eq!(api.get(&format!("/schemas/ids/{person_id}")).await.1["references"], refs);
    assert_eq!(code(&api.delete("/subjects/address/versions/1").await), (422, 42206));
    let missing = json!([{"name": "Gone", "subject": "nothing", "version": 1}]);
    assert_eq!(
        code(
            &api.post("/subjects/person/versions", json!({"schema": person.to_string(), "references": missing})).await
        ),
        (422, 42201)
    );
    assert_eq!(api.delete("/subjects/users-value").await, (200, json!([1, 2, 3])));
    assert_eq!(code(&api.delete("/subjects/users-value").await), (404, 40404));
    assert_eq!(api.delete("/subjects/users-value?permanent=true").await, (200, json!([1, 2, 3])));
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_with(dir.path(), None, None).await;
    let api = Api::of(&agent);
    let a = record(&[("a", false)]);
    let b = record(&[("b", false)]);
    assert_eq!(api.post("/subjects/s-a/versions", json!({"schema": a})).await, (200, json!({"id": 1})));
    assert_eq!(api.post("/subjects/s-b/versions", json!({"schema": b})).await, (200, json!({"id": 2})));
    agent.shutdown();
    agent.wait().await;

    let agent = start_with(dir.path(), None, None).await;
    let api = Api::of(&agent);
    assert_eq!(
        api.get("/schemas/ids/2").await.1["schema"],
        json!(serde_json::from_str::<Value>(&b).unwrap().to_string())
    );
    assert_eq!(api.post("/subjects/s-c/versions", json!({"schema": a})).await, (200, json!({"id": 1})));
    let c = record(&[("c", false)]);
    assert_eq!(api.post("/subjects/s-c2/versions", json!({"schema": c})).await, (200, json!({"id": 3})));
    agent.shutdown();
    agent.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.peer_listen = weft_agent::config::PeerListen::Off;
    config.schema_registry_listen = Some(taken.local_addr().unwrap());
    let error = weft_agent::start(config).await.err().expect("refused").to_string();
    assert!(error.contains("schema registry") && error.contains("off"), "{error}");
}

/// Two agents on one PostgreSQL: registrations through both at once give each schema one id and each subject
/// dense versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_register_concurrently_without_duplicates() {
    let server = weft_pgtest::PgServer::start().unwrap();
    let db = server.database().unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let objects = Some(format!("file://{}", dirs[2].path().display()));
    let a = start_with(dirs[0].path(), Some(db.url().to_string()), objects.clone()).await;
    let b = start_with(dirs[1].path(), Some(db.url().to_string()), objects).await;
    let apis = [Api::of(&a), Api::of(&b)];
    let mut calls = Vec::new();
    for i in 0..24 {
        let api = &apis[i % 2];
        // Four schemas, each under three subjects, compatible with everything (NONE).
        let schema = record(&[(["w", "x", "y", "z"][i % 4], true)]);
        calls.push(async move { api.post(&format!("/subjects/c{}/versions", i % 3), json!({"schema": schema})).await });
    }
    for api in &apis {
        assert_eq!(api.put("/config", json!({"compatibility": "NONE"})).await.0, 200);
    }
    let replies = futures::future::join_all(calls).await;
    let mut ids = std::collections::BTreeMap::new();
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.0, 200, "{reply:?}");
        let id = reply.1["id"].as_i64().unwrap();
        let before = ids.insert(i % 4, id);
        assert!(before.is_none_or(|b| b == id), "schema {} got ids {before:?} and {id}", i % 4);
    }
    let distinct: std::collections::BTreeSet<i64> = ids.values().copied().collect();
    assert_eq!(distinct, (1..=4).collect(), "ids 1..4, none skipped or doubled");
    for s in 0..3 {
        let (_, versions) = apis[0].get(&format!("/subjects/c{s}/versions")).await;
        assert_eq!(versions, json!([1, 2, 3, 4]), "subject c{s}");
    }
    for agent in [a, b] {
        agent.shutdown();
        agent.wait().await;
    }
}

/// With the ACL authorizer the registry is not open: a principal without ACLs (here the anonymous one, as
/// `--admin-auth none` leaves it) may neither read nor register, and is told so in Confluent's error body;
/// a super user may do both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acl_authorizer_guards_reads_and_changes() {
    for (super_users, allowed) in [(None, false), (Some("User:ANONYMOUS".to_string()), true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::with_data_dir(dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.admin_listen = None;
        config.peer_listen = weft_agent::config::PeerListen::Off;
        config.schema_registry_listen = Some("127.0.0.1:0".parse().unwrap());
        config.authorizer = weft_agent::config::Authorizer::Acl;
        config.super_users = super_users;
        let agent = weft_agent::start(config).await.expect("agent starts");
        let api = Api::of(&agent);
        let (status, body) = api.get("/subjects").await;
        let (wrote, written) = api.post("/subjects/s-value/versions", json!({"schema": record(&[("a", false)])})).await;
        if allowed {
            assert_eq!((status, wrote), (200, 200), "{body} {written}");
        } else {
            assert_eq!((status, body["error_code"].as_i64()), (403, Some(40301)), "{body}");
            assert!(body["message"].as_str().unwrap_or("").contains("DESCRIBE"), "{body}");
            assert_eq!((wrote, written["error_code"].as_i64()), (403, Some(40301)), "{written}");
            assert!(written["message"].as_str().unwrap_or("").contains("ALTER"), "{written}");
        }
        agent.shutdown();
        agent.wait().await;
    }
}
