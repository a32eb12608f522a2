//! A librdkafka group member carries on across an agent restart: the group's state is loaded from the
//! metastore, so the member keeps its member id, generation (classic) or member epoch (KIP-848) and its
//! partitions (no rebalance), its commits are accepted, and nothing it committed is delivered again.

use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_agent::{AgentConfig, RunningAgent};

async fn start(dir: &std::path::Path, listen: &str) -> RunningAgent {
    let mut config = AgentConfig::with_data_dir(dir);
    config.listen = listen.parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.group_initial_rebalance_delay_ms = 0;
    config.group_consumer_heartbeat_interval_ms = 500;
    weft_agent::start(config).await.expect("agent starts")
}

fn produce(bootstrap: &str, topic: &str, from: usize, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("producer");
    for i in from..from + count {
        let value = format!("v{i}");
        producer.send(BaseRecord::<(), _>::to(topic).payload(&value).partition(i as i32 % 2)).expect("enqueue");
    }
    producer.flush(Duration::from_secs(30)).expect("flushed");
}

/// Counts the assignments librdkafka receives (one per completed rebalance).
#[derive(Default, Clone)]
struct Rebalances {
    assigned: Arc<AtomicUsize>,
    revoked: Arc<AtomicUsize>,
}

impl ClientContext for Rebalances {}

impl ConsumerContext for Rebalances {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(_) => self.assigned.fetch_add(1, Ordering::SeqCst),
            Rebalance::Revoke(_) => self.revoked.fetch_add(1, Ordering::SeqCst),
            Rebalance::Error(_) => 0,
        };
    }
}

struct Member {
    seen: Arc<Mutex<Vec<(i32, i64)>>>,
    failed_commits: Arc<AtomicUsize>,
    rebalances: Rebalances,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// One member that commits synchronously after each record, polling until told to stop.
/// `protocol` is librdkafka's `group.protocol`: "classic" or "consumer" (KIP-848).
fn member(bootstrap: &str, topic: &str, group: &str, protocol: &str) -> Member {
    let rebalances = Rebalances::default();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("group.protocol", protocol)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    if protocol == "classic" {
        // KIP-848 members take these from the coordinator instead.
        config
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "500")
            .set("partition.assignment.strategy", "range");
    }
    let consumer: BaseConsumer<Rebalances> = config.create_with_context(rebalances.clone()).expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let seen: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    let failed_commits: Arc<AtomicUsize> = Arc::default();
    let stop: Arc<AtomicBool> = Arc::default();
    let (s, f, st) = (seen.clone(), failed_commits.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !st.load(Ordering::SeqCst) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                s.lock().unwrap().push((m.partition(), m.offset()));
                if consumer.commit_message(&m, CommitMode::Sync).is_err() {
                    f.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        consumer.unsubscribe();
    });
    Member { seen, failed_commits, rebalances, stop, thread }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_member_carries_on_across_an_agent_restart_without_rebalancing() {
    carries_on_across_a_restart("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kip848_group_member_carries_on_across_an_agent_restart_without_rebalancing() {
    carries_on_across_a_restart("consumer").await;
}

async fn carries_on_across_a_restart(protocol: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), "127.0.0.1:0").await;
    let addr = agent.kafka_addr.to_string();
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &addr).create().expect("admin");
    let topic = NewTopic::new("kept", 2, TopicReplication::Fixed(1));
    for r in admin.create_topics(&[topic], &AdminOptions::new()).await.expect("create topic") {
        r.expect("topic created");
    }
    let b = addr.clone();
    let m = tokio::task::spawn_blocking(move || {
        let m = member(&b, "kept", "steady", protocol);
        wait_for("the first assignment", Duration::from_secs(30), || m.rebalances.assigned.load(Ordering::SeqCst) == 1);
        produce(&b, "kept", 0, 20);
        wait_for("the first 20 records", Duration::from_secs(30), || m.seen.lock().unwrap().len() == 20);
        m
    })
    .await
    .unwrap();

    // Restart on the same data directory and port while the member keeps polling and heartbeating.
    agent.shutdown();
    agent.wait().await;
    let agent = start(dir.path(), &addr).await;
    let b = addr.clone();
    let m = tokio::task::spawn_blocking(move || {
        // Longer than several heartbeat intervals, so the member has talked to the restarted coordinator.
        std::thread::sleep(Duration::from_secs(3));
        produce(&b, "kept", 20, 10);
        wait_for("the next 10 records", Duration::from_secs(30), || m.seen.lock().unwrap().len() >= 30);
        std::thread::sleep(Duration::from_secs(2));
        m
    })
    .await
    .unwrap();
    let (assigned, revoked) =
        (m.rebalances.assigned.load(Ordering::SeqCst), m.rebalances.revoked.load(Ordering::SeqCst));
    assert_eq!((assigned, revoked), (1, 0), "no rebalance across the restart");
    assert_eq!(m.failed_commits.load(Ordering::SeqCst), 0, "every commit accepted (same member id and generation)");
    let seen = m.seen.lock().unwrap().clone();
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!((seen.len(), unique.len()), (30, 30), "every record once, none redelivered: {seen:?}");
    m.stop.store(true, Ordering::SeqCst);
    tokio::task::spawn_blocking(move || m.thread.join().expect("member thread")).await.unwrap();
    agent.shutdown();
    agent.wait().await;
}
