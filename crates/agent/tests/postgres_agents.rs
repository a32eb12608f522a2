//! Two agents sharing one PostgreSQL metastore and one object store (a directory), driven by librdkafka: a
//! consumer long-polling on one agent receives what a producer writes through the other, woken by the
//! metastore's change feed rather than by the end of its wait.

use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use weft_agent::{AgentConfig, RunningAgent};

async fn start(data: &std::path::Path, objects: &std::path::Path, metastore: &str) -> RunningAgent {
    let mut config = AgentConfig::with_data_dir(data);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.object_store = Some(format!("file://{}", objects.display()));
    config.metastore = Some(metastore.to_string());
    weft_agent::start(config).await.expect("agent starts")
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_agent_wakes_for_a_produce_on_another() {
    let server = weft_pgtest::PgServer::start().unwrap();
    let db = server.database().unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = start(dirs[0].path(), dirs[2].path(), db.url()).await;
    let b = start(dirs[1].path(), dirs[2].path(), db.url()).await;
    let (at_a, at_b) = (a.kafka_addr.to_string(), b.kafka_addr.to_string());

    let admin: AdminClient<DefaultClientContext> = client(&at_a).create().unwrap();
    let created = admin
        .create_topics([&NewTopic::new("shared", 1, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");

    // The consumer waits on agent A with long fetch waits: without news of B's commit it would see
    // nothing for 10 s at a time (and, with A's high watermark never moving, nothing at all).
    let consumer: BaseConsumer = client(&at_a)
        .set("group.id", "g")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10000")
        .set("socket.timeout.ms", "30000")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("shared", 0, Offset::Beginning).unwrap();
    consumer.assign(&tpl).unwrap();
    let warmup = Instant::now();
    while warmup.elapsed() < Duration::from_secs(2) {
        assert!(consumer.poll(Duration::from_millis(100)).is_none(), "nothing produced yet");
    }

    let producer: FutureProducer = client(&at_b).set("acks", "all").set("linger.ms", "0").create().unwrap();
    producer
        .send(FutureRecord::to("shared").key("k").payload("through b"), Duration::from_secs(10))
        .await
        .expect("produce through b");
    let acked = Instant::now();
    let got = tokio::task::spawn_blocking(move || {
        while acked.elapsed() < Duration::from_secs(30) {
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m.expect("message");
                return Some((m.offset(), m.payload().unwrap_or_default().to_vec(), acked.elapsed()));
            }
        }
        None
    })
    .await
    .unwrap();
    let (offset, payload, after) = got.expect("the record reaches the consumer on agent a");
    assert_eq!((offset, payload.as_slice()), (0, b"through b".as_slice()));
    assert!(after < Duration::from_secs(5), "woken after {after:?}, not by the feed");
    println!("record produced through b read from a {after:?} after its ack");
}
