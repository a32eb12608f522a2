//! The analysis on real runs: an in-process Weft agent (its admin listener serving `/metrics`), real
//! rdkafka producers, the real sampler. An agent with a modelled slow S3 must be reported object-store
//! bound, with the agent's object-store figures as evidence; a producer whose thread does heavy work per
//! record must be reported client bound.
//!
//! The host's own readings are left out of the analysed run: these tests share their machine with other
//! builds, whose CPU use says nothing about the agent or the client under test (the host detectors are
//! covered on constructed runs). In the object-store case the process readings are left out too: the agent
//! runs inside the test process, so there they mix the agent's threads with the client's, and on a loaded
//! machine an agent thread waiting for a core would read as a CPU-bound client.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, FutureProducer, FutureRecord, Producer};
use weft_report::detect::resource;
use weft_report::{Interval, REPORT_VERSION, ResourceSample, Run, Sampler, SamplerConfig, Target, analyse, path};

const RUN_FOR: Duration = Duration::from_secs(6);

/// The live runs take turns (nextest runs each test in its own process, so a file lock): each measures
/// one bound, and the CPU-bound producer of one, run beside the other's agent, slows that agent's SQLite
/// commits until the committer is busy committing, which is then (rightly) reported metastore bound.
async fn take_turn() -> std::fs::File {
    let path = std::env::temp_dir().join("weft-report-live-bottleneck.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    tokio::task::spawn_blocking(move || {
        file.lock().unwrap();
        file
    })
    .await
    .unwrap()
}

async fn agent(
    model: weft_agent::config::ObjectStoreModel,
    flush_ms: Option<u64>,
) -> (weft_agent::RunningAgent, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.schema_registry_listen = None;
    config.object_store_model = model;
    config.flush_interval = flush_ms.map(Duration::from_millis);
    let agent = weft_agent::start(config).await.expect("agent starts");
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", agent.kafka_addr.to_string()).create().unwrap();
    let topic = NewTopic::new("load", 4, TopicReplication::Fixed(1));
    let created = admin.create_topics([&topic], &AdminOptions::new()).await.unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    (agent, dir)
}

fn sampler(agent: &weft_agent::RunningAgent, started: Instant) -> Sampler {
    Sampler::start(SamplerConfig {
        metrics_url: Some(format!("http://{}/metrics", agent.admin_addr.expect("admin listener"))),
        target_pid: None,
        interval: Duration::from_millis(500),
        timeout: Duration::from_secs(5),
        started,
    })
}

/// Client intervals of one second from (millisecond sent, acknowledgement latency) pairs.
fn intervals(acks: &[(u64, Option<f64>)]) -> Vec<Interval> {
    let seconds = acks.iter().map(|a| a.0 / 1000).max().map_or(0, |s| s + 1);
    (0..seconds)
        .map(|sec| {
            let mut ms: Vec<f64> = acks.iter().filter(|a| a.0 / 1000 == sec).filter_map(|a| a.1).collect();
            ms.sort_by(f64::total_cmp);
            let at = |q: f64| (!ms.is_empty()).then(|| ms[((ms.len() - 1) as f64 * q) as usize]);
            Interval {
                start_ms: sec * 1000,
                duration_ms: 1000,
                produced_records: acks.iter().filter(|a| a.0 / 1000 == sec).count() as u64,
                produce_ack_p50_ms: at(0.5),
                produce_ack_p99_ms: at(0.99),
                ..Interval::default()
            }
        })
        .collect()
}

fn run(bootstrap: String, intervals: Vec<Interval>, mut resources: Vec<ResourceSample>) -> Run {
    resources.iter_mut().for_each(|s| s.host = None);
    Run {
        version: REPORT_VERSION,
        scenario: "live".into(),
        description: String::new(),
        started_at_unix_ms: 0,
        target: Target { bootstrap_servers: bootstrap, metrics_url: None, pid: None },
        settings: Default::default(),
        objective: None,
        intervals,
        steps: vec![],
        sustainable_records_per_sec: None,
        histograms: Default::default(),
        percentiles: Default::default(),
        resources,
        bottleneck: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_a_slow_modelled_s3_is_reported_object_store_bound() {
    let _turn = take_turn().await;
    // S3 Standard's modelled PUT (p50 about 50 ms) against a 5 ms flush interval: the PUT is most of a produce.
    let (agent, _dir) = agent(weft_agent::config::ObjectStoreModel::S3Standard, Some(5)).await;
    let bootstrap = agent.kafka_addr.to_string();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap();
    let started = Instant::now();
    let sampler = sampler(&agent, started);
    let acks = Arc::new(Mutex::new(Vec::new()));
    let mut pending = Vec::new();
    let payload = vec![b'x'; 1000];
    // 1,000 records/s: light enough that nothing but the store's latency can bound the run, and a new
    // segment every few milliseconds, so uploads overlap and the in-order committer always has one waiting.
    while started.elapsed() < RUN_FOR {
        for _ in 0..10 {
            let sent = Instant::now();
            let at_ms = started.elapsed().as_millis() as u64;
            let delivery = producer.send_result(FutureRecord::<(), _>::to("load").payload(&payload)).unwrap();
            let acks = acks.clone();
            pending.push(tokio::spawn(async move {
                let ok = matches!(delivery.await, Ok(Ok(_)));
                let ms = ok.then(|| sent.elapsed().as_secs_f64() * 1000.0);
                acks.lock().unwrap().push((at_ms, ms));
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for p in pending {
        p.await.unwrap();
    }
    let resources = sampler.finish().await;
    let acks = acks.lock().unwrap().clone();
    assert!(acks.iter().all(|a| a.1.is_some()), "every record acknowledged");
    let mut run = run(bootstrap, intervals(&acks), resources);
    run.resources.iter_mut().for_each(|s| s.client = None);
    let puts: f64 =
        run.resources.iter().filter_map(|s| Some(s.metrics.as_ref()?.object_store.get("put")?.requests_per_sec)).sum();
    assert!(puts > 0.0, "the sampler saw the agent's PUTs: {:#?}", run.resources.last());
    let b = analyse(&run);
    eprintln!("{}\n{:#?}", b.summary, b.produce_path);
    assert_eq!(b.resource, resource::OBJECT_STORE, "{b:#?}");
    // Either a PUT is half of a produce, or the in-order committer is kept busy by uploads (segments queue).
    let first = &b.evidence[0];
    let put_share = first.metric.starts_with("object-store PUT time") && first.value >= 50.0;
    assert!(put_share || first.metric == weft_report::detect::COMMITTER_METRIC, "{first:?}");
    let put = b
        .evidence
        .iter()
        .find(|e| e.metric.contains("op=\"put\"} mean") && e.threshold.is_none())
        .expect("the PUT latency");
    assert!(put.value >= 20.0, "a modelled S3 Standard PUT: {put:?}");
    let stage = b.produce_path.iter().find(|s| s.stage == path::STORE_PUT).unwrap();
    assert!(stage.mean_ms >= 20.0, "{:#?}", b.produce_path);
    assert!(b.change.contains("S3 Express"), "{}", b.change);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_thread_doing_heavy_work_per_record_is_reported_client_bound() {
    let _turn = take_turn().await;
    let (agent, _dir) = agent(weft_agent::config::ObjectStoreModel::Off, None).await;
    let bootstrap = agent.kafka_addr.to_string();
    let started = Instant::now();
    let sampler = sampler(&agent, started);
    let config = bootstrap.clone();
    let producer_thread = std::thread::Builder::new()
        .name("bench-producer".into())
        .spawn(move || {
            let producer: BaseProducer =
                ClientConfig::new().set("bootstrap.servers", &config).set("linger.ms", "5").create().unwrap();
            let mut sent = Vec::new();
            while started.elapsed() < RUN_FOR {
                // The per-record work: 2 ms of computing over the payload, never waiting.
                let work = Instant::now();
                let mut payload = [0u8; 256];
                while work.elapsed() < Duration::from_millis(2) {
                    for (i, b) in payload.iter_mut().enumerate() {
                        *b = std::hint::black_box(b.wrapping_mul(31).wrapping_add(i as u8));
                    }
                }
                if producer.send(BaseRecord::<(), _>::to("load").payload(&payload[..])).is_ok() {
                    sent.push((started.elapsed().as_millis() as u64, None));
                }
                producer.poll(Duration::ZERO);
            }
            producer.flush(Duration::from_secs(30)).unwrap();
            sent
        })
        .unwrap();
    let sent = tokio::task::spawn_blocking(move || producer_thread.join().unwrap()).await.unwrap();
    let resources = sampler.finish().await;
    assert!(!sent.is_empty());
    let b = analyse(&run(bootstrap, intervals(&sent), resources));
    assert_eq!(b.resource, resource::CLIENT_CPU, "{b:#?}");
    assert!(b.evidence.iter().any(|e| e.metric.contains("bench-producer")), "{:?}", b.evidence);
    assert!(b.change.contains("more producer processes"), "{}", b.change);
}
