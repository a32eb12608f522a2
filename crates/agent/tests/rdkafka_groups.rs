//! Consumer groups with librdkafka: members share partitions, every record is consumed exactly once when
//! committing after processing, and committed offsets survive an agent restart.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, TopicPartitionList};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_agent::{AgentConfig, RunningAgent};

async fn start(dir: &std::path::Path, listen: &str) -> RunningAgent {
    let mut config = AgentConfig::with_data_dir(dir);
    config.listen = listen.parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.group_initial_rebalance_delay_ms = 0;
    weft_agent::start(config).await.expect("agent starts")
}

fn produce(bootstrap: &str, topic: &str, count: usize, partitions: i32) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for i in 0..count {
        let value = format!("v{i}");
        let key = format!("k{i}");
        producer
            .send(BaseRecord::to(topic).key(&key).payload(&value).partition(i as i32 % partitions))
            .expect("enqueue");
    }
    producer.flush(Duration::from_secs(30)).expect("flushed");
}

fn consumer(bootstrap: &str, group: &str, strategy: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("partition.assignment.strategy", strategy)
        .create()
        .expect("consumer")
}

/// Runs `members` group members that commit after each record, waits until the group is stable with every
/// member owning a disjoint share of the partitions, then produces `expected` records and returns what the
/// members consumed.
fn consume_group(
    bootstrap: &str,
    topic: &str,
    group: &str,
    members: usize,
    expected: usize,
    strategy: &str,
) -> Vec<(i32, i64)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let owned = Arc::new(Mutex::new(vec![Vec::new(); members]));
    let threads: Vec<_> = (0..members)
        .map(|i| {
            let (bootstrap, topic, group, seen, owned, strategy) = (
                bootstrap.to_string(),
                topic.to_string(),
                group.to_string(),
                seen.clone(),
                owned.clone(),
                strategy.to_string(),
            );
            std::thread::spawn(move || {
                let c = consumer(&bootstrap, &group, &strategy);
                c.subscribe(&[&topic]).expect("subscribe");
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline && seen.lock().unwrap().len() < expected {
                    if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                        seen.lock().unwrap().push((m.partition(), m.offset()));
                        c.commit_message(&m, CommitMode::Sync).expect("commit");
                    }
                    let mine: Vec<i32> =
                        c.assignment().expect("assignment").elements().iter().map(|e| e.partition()).collect();
                    owned.lock().unwrap()[i] = mine;
                }
                c.unsubscribe();
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snapshot = owned.lock().unwrap().clone();
        let all: BTreeSet<i32> = snapshot.iter().flatten().copied().collect();
        let total: usize = snapshot.iter().map(Vec::len).sum();
        if all.len() == 4 && total == 4 && snapshot.iter().all(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "group never became stable with disjoint assignments: {snapshot:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    produce(bootstrap, topic, expected, 4);
    for t in threads {
        t.join().expect("member thread");
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_share_partitions_and_resume_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), "127.0.0.1:0").await;
    let addr = agent.kafka_addr.to_string();
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &addr).create().expect("admin");
    let topics = [
        NewTopic::new("grouped", 4, TopicReplication::Fixed(1)),
        NewTopic::new("grouped-coop", 4, TopicReplication::Fixed(1)),
    ];
    for r in admin.create_topics(&topics, &AdminOptions::new()).await.expect("create topics") {
        r.expect("topic created");
    }
    for (strategy, topic) in [("range", "grouped"), ("cooperative-sticky", "grouped-coop")] {
        let (b, group) = (addr.clone(), format!("g-{strategy}"));
        let seen =
            tokio::task::spawn_blocking(move || consume_group(&b, topic, &group, 2, 400, strategy)).await.unwrap();
        let unique: BTreeSet<_> = seen.iter().copied().collect();
        assert_eq!(seen.len(), 400, "{strategy}: every record consumed once, none twice");
        assert_eq!(unique.len(), 400);
    }

    // Restart on the same data directory and port; the group resumes from its committed offsets.
    agent.shutdown();
    agent.wait().await;
    let agent = start(dir.path(), &addr).await;
    let b = addr.clone();
    let seen =
        tokio::task::spawn_blocking(move || consume_group(&b, "grouped", "g-range", 1, 40, "range")).await.unwrap();
    assert_eq!(seen.len(), 40, "only the records produced after the last commit are consumed: {seen:?}");
    assert!(seen.iter().all(|(_, offset)| *offset >= 100), "no committed record is read again");

    let b = addr.clone();
    let committed = tokio::task::spawn_blocking(move || {
        let c = consumer(&b, "g-range", "range");
        let mut tpl = TopicPartitionList::new();
        for p in 0..4 {
            tpl.add_partition("grouped", p);
        }
        c.committed_offsets(tpl, Duration::from_secs(10)).expect("committed")
    })
    .await
    .unwrap();
    for e in committed.elements() {
        assert_eq!(e.offset().to_raw(), Some(110), "partition {} committed after its last record", e.partition());
    }
    agent.shutdown();
    agent.wait().await;
}
