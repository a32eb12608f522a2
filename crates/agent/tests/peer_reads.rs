//! Agents of one zone share object reads: three agents in one process share a metastore and an object-store
//! directory (as three processes share PostgreSQL and a bucket); data produced through one agent and fetched
//! through every agent is read from the store about once per object, where agents reading alone read it once
//! each. An owner that was killed (still listed live in the registry, its peer listener gone) costs a store
//! read, never a failed fetch. With `--peer-ssl` the reads go over mutual TLS; a reader the owner refuses
//! (no CLUSTER_ACTION under the ACL authorizer) reads the store instead. Waits are bounded polls, never
//! timed assertions.

#[path = "../../tls/tests/certs/mod.rs"]
mod certs;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_agent::clock::{Clock, RandomIds, SystemClock};
use weft_agent::config::PeerListen;
use weft_storage::RequestKind;

struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        Conn { stream: TcpStream::connect(addr).await.expect("connect"), correlation: 0 }
    }

    async fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(s("peer-test")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, R::header_version(version)).expect("header");
        req.encode(&mut buf, version).expect("body");
        self.stream.write_u32(buf.len() as u32).await.expect("write");
        self.stream.write_all(&buf).await.expect("write");
        let len = self.stream.read_u32().await.expect("read length");
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).await.expect("read body");
        let mut body = Bytes::from(body);
        let h = ResponseHeader::decode(&mut body, R::Response::header_version(version)).expect("response header");
        assert_eq!(h.correlation_id, self.correlation);
        let resp = R::Response::decode(&mut body, version).expect("response body");
        assert!(!body.has_remaining(), "trailing bytes in response");
        resp
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Polls `probe` every 50 ms until it yields a value, for at most 20 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut probe: impl FnMut() -> F) -> T {
    for _ in 0..400 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

struct Zone {
    dir: tempfile::TempDir,
    meta: Arc<dyn weft_meta::Metastore>,
    agents: Vec<weft_agent::RunningAgent>,
}

/// Three agents of zone `z1`, with peer listeners (the default) or without.
async fn start_zone(peers: bool) -> Zone {
    start_zone_with(peers, |_| {}, async |_| {}).await
}

/// [`start_zone`] with each agent's configuration changed by `tune`, after `seed` ran on the metastore.
async fn start_zone_with(
    peers: bool,
    tune: impl Fn(&mut weft_agent::AgentConfig),
    seed: impl AsyncFnOnce(&Arc<dyn weft_meta::Metastore>),
) -> Zone {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("metastore");
    seed(&meta).await;
    let mut agents = Vec::new();
    for i in 0..3 {
        let mut config = weft_agent::AgentConfig::with_data_dir(dir.path().join(format!("agent-{i}")));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.admin_listen = None;
        config.schema_registry_listen = None;
        config.object_store = Some(format!("file://{}/objects", dir.path().display()));
        config.zone = Some("z1".into());
        config.broker_heartbeat_interval = Duration::from_millis(100);
        // Long enough that a killed agent stays listed for the whole test.
        config.broker_session_timeout = Duration::from_secs(60);
        config.merge_min_age = Duration::from_secs(3600);
        if !peers {
            config.peer_listen = PeerListen::Off;
        }
        tune(&mut config);
        let agent = weft_agent::start_on(config, meta.clone(), Arc::new(SystemClock), Arc::new(RandomIds))
            .await
            .expect("agent starts");
        assert_eq!(agent.peer_addr.is_some(), peers);
        agents.push(agent);
    }
    let zone = Zone { dir, meta, agents };
    zone.wait_for_brokers(3).await;
    zone
}

impl Zone {
    /// Until every agent lists `n` brokers (their peer endpoints come with them from the registry).
    async fn wait_for_brokers(&self, n: usize) {
        for agent in &self.agents {
            eventually("every agent sees the others", || async {
                let mut c = Conn::open(agent.kafka_addr).await;
                let md = c.call(12, &MetadataRequest::default().with_topics(Some(vec![]))).await;
                (md.brokers.len() == n).then_some(())
            })
            .await;
        }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.agents[i].kafka_addr
    }

    /// Store GETs (whole and ranged) made by every agent so far.
    fn gets(&self) -> u64 {
        let usage = self.agents.iter().map(|a| a.object_store_usage());
        usage.map(|u| u.of(RequestKind::Get).requests + u.of(RequestKind::GetRange).requests).sum()
    }

    /// The data objects in the shared store.
    fn objects(&self) -> Vec<String> {
        let dir = self.dir.path().join("objects").join(weft_storage::keys::SEGMENTS_DIR);
        let names = std::fs::read_dir(dir).expect("segments dir").map(|e| e.expect("entry").file_name());
        names.map(|n| format!("{}/{}", weft_storage::keys::SEGMENTS_DIR, n.to_string_lossy())).collect()
    }

    async fn stop(self) {
        for agent in self.agents {
            agent.shutdown();
            agent.wait().await;
        }
    }
}

fn one_record(value: &str) -> Bytes {
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let r = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from(value.to_string())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, [&r], &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("batch");
    buf.freeze()
}

async fn create_topic(addr: SocketAddr, topic: &str) {
    let mut c = Conn::open(addr).await;
    let t = CreatableTopic::default().with_name(TopicName(s(topic))).with_num_partitions(1).with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![t]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0);
}

/// Produces one batch of one record per request (acks=all, so each is its own flushed segment); returns the
/// bytes of one batch.
async fn produce(addr: SocketAddr, topic: &str, batches: usize) -> usize {
    let mut c = Conn::open(addr).await;
    for i in 0..batches {
        let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            produce_request::TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(one_record(&format!("record-{i:04}")))),
            ]),
        ]);
        let resp = c.call(9, &req).await;
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    }
    one_record("record-0000").len()
}

/// Fetches partition 0 of `topic` from offset 0 through `addr`: the record bytes returned.
async fn fetch_all(addr: SocketAddr, topic: &str) -> usize {
    let mut c = Conn::open(addr).await;
    let partition = fetch_request::FetchPartition::default().with_partition(0).with_fetch_offset(0);
    let req = FetchRequest::default().with_max_wait_ms(0).with_min_bytes(0).with_max_bytes(16 << 20).with_topics(vec![
        fetch_request::FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(vec![partition.with_partition_max_bytes(16 << 20)]),
    ]);
    let resp = c.call(12, &req).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.records.as_ref().map_or(0, Bytes::len)
}

/// Every agent fetches everything (agents 1 and 2 at once, then agent 0, the writer); returns the store GETs
/// this made and the number of objects.
async fn produce_and_fetch_everywhere(zone: &Zone, topic: &str, batches: usize) -> (u64, usize) {
    create_topic(zone.addr(0), topic).await;
    let batch = produce(zone.addr(0), topic, batches).await;
    let objects = zone.objects().len();
    assert!(objects >= batches, "one segment per acknowledged produce: {objects}");
    let before = zone.gets();
    let (one, two) = tokio::join!(fetch_all(zone.addr(1), topic), fetch_all(zone.addr(2), topic));
    assert_eq!((one, two), (batch * batches, batch * batches), "every record through agents 1 and 2");
    assert_eq!(fetch_all(zone.addr(0), topic).await, batch * batches, "and through agent 0");
    let gets = zone.gets() - before;
    eprintln!("{topic}: {gets} store GETs for {objects} objects fetched through three agents");
    (gets, objects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_of_a_zone_read_each_object_from_the_store_about_once() {
    let zone = start_zone(true).await;
    let (gets, objects) = produce_and_fetch_everywhere(&zone, "shared", 8).await;
    // The writer caches what it flushed; each other object is read by its owner once and served to the rest.
    assert!(gets <= objects as u64, "{gets} store GETs for {objects} objects read through three agents");
    zone.stop().await;

    // Without peer listeners each agent reads alone: every object once per agent that did not write it.
    let alone = start_zone(false).await;
    let (gets, objects) = produce_and_fetch_everywhere(&alone, "alone", 8).await;
    assert_eq!(gets, 2 * objects as u64, "agents reading alone");
    alone.stop().await;
}

/// A killed owner: registered and live in every view (its session has not expired), peer listener gone.
async fn register_killed_owner(zone: &Zone) -> (i32, String) {
    let gone = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let endpoint = gone.to_string();
    let now = SystemClock.now_ms();
    let registration = weft_meta::AgentRegistration {
        node_id: Some(40),
        host: "127.0.0.1".into(),
        port: 1,
        zone: "z1".into(),
        roles: vec!["kafka".into()],
        listeners: vec![weft_meta::AgentEndpoint { listener: "PLAINTEXT".into(), host: "127.0.0.1".into(), port: 1 }],
        started_ms: now,
        peer_endpoint: Some(endpoint.clone()),
    };
    zone.meta.register_agent(&registration, now, 60_000).await.expect("register the killed agent");
    zone.wait_for_brokers(4).await;
    (40, endpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_costs_store_reads_never_a_failed_fetch() {
    let zone = start_zone(true).await;
    let (killed, endpoint) = register_killed_owner(&zone).await;
    create_topic(zone.addr(0), "orphaned").await;
    // Produce until the killed agent owns some objects (each owns about a quarter).
    let mut batches = 0;
    let owned_by_killed = loop {
        batches += 1;
        produce(zone.addr(0), "orphaned", 1).await;
        let view = view_of_zone(&zone, killed, &endpoint).await;
        let owned =
            zone.objects().iter().filter(|k| view.object_owner("z1", k).map(|m| m.node_id) == Some(killed)).count();
        if owned >= 2 || batches == 40 {
            break owned;
        }
    };
    assert!(owned_by_killed > 0, "the killed agent owns some of {batches} objects");
    let batch = one_record("record-0000").len();
    let before = zone.gets();
    for i in [1, 2, 0] {
        assert_eq!(fetch_all(zone.addr(i), "orphaned").await, batch * batches, "every record through agent {i}");
    }
    let gets = zone.gets() - before;
    eprintln!("{gets} store GETs for {batches} objects, {owned_by_killed} owned by the killed agent");
    // Agents 1 and 2 each read the killed agent's objects from the store; the others once for the zone.
    let objects = zone.objects().len() as u64;
    let expected_at_most = objects + owned_by_killed as u64;
    assert!(gets >= 2 * owned_by_killed as u64, "{gets} GETs: the killed agent's objects came from the store");
    assert!(gets <= expected_at_most, "{gets} GETs for {objects} objects, {owned_by_killed} owned by the killed agent");
    zone.stop().await;
}

/// The zone as every agent sees it: the three agents and the killed one, with their peer endpoints.
async fn view_of_zone(zone: &Zone, killed: i32, endpoint: &str) -> weft_cluster::View {
    let live = zone.meta.live_agents(SystemClock.now_ms(), 60_000).await.expect("live");
    let brokers = live
        .into_iter()
        .map(|a| weft_cluster::Member {
            node_id: a.node_id,
            host: a.host,
            port: a.port,
            zone: a.zone,
            endpoints: a.listeners,
            peer_endpoint: a.peer_endpoint,
        })
        .collect::<Vec<_>>();
    assert!(brokers.iter().any(|m| m.node_id == killed && m.peer_endpoint.as_deref() == Some(endpoint)));
    weft_cluster::View { brokers }
}

/// Every agent of the zone with `--peer-ssl` and the test CA's certificate for 127.0.0.1.
fn peer_ssl(c: &certs::Certs) -> impl Fn(&mut weft_agent::AgentConfig) + '_ {
    move |config| {
        config.peer_ssl = true;
        config.ssl_keystore_location = Some(c.path("server.pem"));
        config.ssl_key_location = Some(c.path("server.key"));
        config.ssl_truststore_location = Some(c.path("ca.pem"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_reads_over_mutual_tls_share_objects() {
    let c = certs::Certs::new();
    let zone = start_zone_with(true, peer_ssl(&c), async |_| {}).await;
    let live = zone.meta.live_agents(SystemClock.now_ms(), 60_000).await.expect("live");
    assert!(live.iter().all(|a| a.peer_endpoint.as_deref().is_some_and(|e| e.starts_with("https://127.0.0.1:"))));
    let (gets, objects) = produce_and_fetch_everywhere(&zone, "mtls", 8).await;
    assert!(gets <= objects as u64, "{gets} store GETs for {objects} objects read over mutual tls");
    zone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_without_cluster_action_are_refused_and_read_the_store() {
    let c = certs::Certs::new();
    let tune = |config: &mut weft_agent::AgentConfig| {
        peer_ssl(&c)(config);
        config.authorizer = weft_agent::config::Authorizer::Acl;
        // Topics have no ACLs (allowed); the cluster's CLUSTER_ACTION is someone else's.
        config.allow_everyone_if_no_acl_found = true;
    };
    let seed = async |meta: &Arc<dyn weft_meta::Metastore>| {
        let acl = weft_meta::AclRecord {
            resource_type: 4,
            resource_name: "kafka-cluster".into(),
            pattern_type: 3,
            principal: "User:another-broker".into(),
            host: "*".into(),
            operation: 9,
            permission: 3,
        };
        meta.create_acls(&[acl]).await.expect("acl");
    };
    let zone = start_zone_with(true, tune, seed).await;
    let (gets, objects) = produce_and_fetch_everywhere(&zone, "refused", 6).await;
    assert_eq!(gets, 2 * objects as u64, "every object read from the store by each agent that did not write it");
    zone.stop().await;
}
