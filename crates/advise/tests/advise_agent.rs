//! `weft advise` against an in-process Weft agent with constructed traffic: a producer sending one record per
//! request, a producer with skewed keys, a consumer group falling behind, and a well-behaved producer. The
//! advisor must recommend linger for the first (by client id, from the agent's `/v1/clients`), key or
//! partitioner changes for the second, more consumers for the group, and nothing of the kind for the last.

use clap::Parser;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use weft_advise::AdviseArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    advise: AdviseArgs,
}

fn producer(bootstrap: &str, client_id: &str, settings: &[(&str, &str)]) -> FutureProducer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap).set("client.id", client_id);
    for (k, v) in settings {
        c.set(*k, *v);
    }
    c.create().unwrap()
}

/// Sends `key(i)` records to `topic` every `every` until `stop`, without waiting for each delivery.
fn spawn_producer(
    p: FutureProducer,
    topic: &'static str,
    every: Duration,
    per_tick: usize,
    key: fn(u64) -> String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut i = 0u64;
        let mut pending = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            for _ in 0..per_tick {
                let k = key(i);
                let value = format!("{{\"n\":{i},\"payload\":\"{}\"}}", "x".repeat(64));
                let rec = FutureRecord::to(topic).key(&k).payload(&value);
                if let Ok(f) = p.send_result(rec) {
                    pending.push(f);
                }
                i += 1;
            }
            if pending.len() > 1000 {
                for f in pending.drain(..) {
                    let _ = f.await;
                }
            }
        }
        for f in pending {
            let _ = f.await;
        }
    })
}

/// A group member that handles 20 records a second and commits every 10.
fn spawn_slow_consumer(
    bootstrap: String,
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "slow-group")
            .set("client.id", "slow-consumer")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        c.subscribe(&["lagged"]).unwrap();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
            n += 1;
            std::thread::sleep(Duration::from_millis(50));
            if n.is_multiple_of(10) && c.commit_message(&m, CommitMode::Sync).is_ok() {
                committed.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advice_on_constructed_traffic_names_the_right_clients_topics_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let bootstrap = agent.kafka_addr.to_string();
    let admin_url = format!("http://{}", agent.admin_addr.expect("admin listener"));

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
    let topics = [("tiny", 1), ("skewed", 4), ("calm", 4), ("lagged", 2)];
    let new: Vec<NewTopic> = topics.iter().map(|(t, n)| NewTopic::new(t, *n, TopicReplication::Fixed(1))).collect();
    for r in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        r.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    // acks=0: every record leaves alone however slow the agent answers (no in-flight limit to queue behind).
    let tiny = producer(&bootstrap, "tiny-producer", &[("linger.ms", "0"), ("acks", "0")]);
    let skewed = producer(&bootstrap, "skewed-producer", &[("linger.ms", "5"), ("enable.idempotence", "true")]);
    let calm = producer(
        &bootstrap,
        "calm-producer",
        &[("linger.ms", "50"), ("enable.idempotence", "true"), ("compression.type", "lz4")],
    );
    let lagged = producer(&bootstrap, "lagged-producer", &[("linger.ms", "20"), ("enable.idempotence", "true")]);
    let ms = Duration::from_millis;
    let tasks = vec![
        spawn_producer(tiny, "tiny", ms(4), 1, |i| format!("k{}", i % 100), stop.clone()),
        // Four records in five carry the key "hot".
        spawn_producer(
            skewed,
            "skewed",
            ms(20),
            20,
            |i| if i % 5 == 0 { format!("k{i}") } else { "hot".into() },
            stop.clone(),
        ),
        spawn_producer(calm, "calm", ms(20), 20, |i| format!("user-{}", i % 1000), stop.clone()),
        spawn_producer(lagged, "lagged", ms(50), 4, |i| format!("k{i}"), stop.clone()),
    ];
    let commits = Arc::new(AtomicU64::new(0));
    let consumer = spawn_slow_consumer(bootstrap.clone(), stop.clone(), commits.clone());
    // The group has committed before the window opens, so its lag is measured at both ends.
    for _ in 0..300 {
        if commits.load(Ordering::Relaxed) >= 2 {
            break;
        }
        tokio::time::sleep(ms(100)).await;
    }
    assert!(commits.load(Ordering::Relaxed) >= 2, "the slow consumer never committed");

    let argv = ["weft-advise", "-b", &bootstrap, "--sample-secs", "4", "--admin-url", &admin_url, "--json"];
    let args = Cli::try_parse_from(argv).unwrap().advise;
    let report = weft_advise::execute(&args).await.expect("advise runs");
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    consumer.join().unwrap();

    let recs = &report.recommendations;
    let has = |id: &str, target: &str| recs.iter().any(|r| r.id == id && r.target == target);
    let all = format!("{recs:#?}\nnotes: {:?}", report.notes);
    let tiny_client = report.observations.clients.iter().find(|c| c.client_id == "tiny-producer");
    let tiny_client = tiny_client.unwrap_or_else(|| panic!("the agent reported the tiny producer: {all}"));
    assert!(tiny_client.records_per_batch() < 5.0, "{tiny_client:?}");
    assert!(has("tiny-batches", "client tiny-producer"), "{all}");
    assert!(has("partition-skew", "topic skewed") && has("hot-key", "topic skewed"), "{all}");
    let hot = recs.iter().find(|r| r.id == "hot-key").unwrap();
    assert!(hot.current.contains("\"hot\""), "{hot:?}");
    assert!(has("lag-growing", "group slow-group on lagged"), "{all}");
    // The well-behaved producer and topic get none of these.
    let calm = ["tiny-batches", "partition-skew", "hot-key", "lag-growing", "idle-partitions", "idempotence-off"];
    for r in recs {
        let about_calm = r.target == "topic calm" || r.target == "client calm-producer";
        assert!(!(about_calm && calm.contains(&r.id)), "{r:?}");
    }
    let calm_topic = report.observations.topics.iter().find(|t| t.name == "calm").unwrap();
    assert!(calm_topic.sample.as_ref().is_some_and(|s| s.records_per_batch() >= 5.0), "{calm_topic:?}");
    agent.shutdown();
}
