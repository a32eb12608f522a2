//! A real agent on 127.0.0.1:0 driven by librdkafka (the `rdkafka` crate): produce in every codec, consume
//! back exactly, restart on the same data directory and read everything again at the same offsets.

use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::time::Duration;
use weft_agent::{AgentConfig, RunningAgent};

async fn start(dir: &std::path::Path) -> RunningAgent {
    let mut config = AgentConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    weft_agent::start(config).await.expect("agent starts")
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// (partition, offset, key, value, header value, timestamp)
type Seen = (i32, i64, Vec<u8>, Vec<u8>, Vec<u8>, i64);

fn consume_all(bootstrap: &str, topic: &str, partitions: i32, expected: usize) -> Vec<Seen> {
    let consumer: BaseConsumer =
        client(bootstrap).set("group.id", "weft-test").set("enable.auto.commit", "false").create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).expect("assign");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < expected && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let header =
                m.headers().and_then(|h| h.iter().next().and_then(|h| h.value.map(<[u8]>::to_vec))).unwrap_or_default();
            seen.push((
                m.partition(),
                m.offset(),
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
                header,
                m.timestamp().to_millis().unwrap_or(-1),
            ));
        }
    }
    seen.sort();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_round_trip_in_every_codec_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path()).await;
    let bootstrap = agent.kafka_addr.to_string();

    let admin: AdminClient<DefaultClientContext> = client(&bootstrap).create().expect("admin");
    let topic = NewTopic::new("codecs", 2, TopicReplication::Fixed(1));
    let created = admin.create_topics([&topic], &AdminOptions::new()).await.expect("create");
    assert!(created[0].is_ok(), "{created:?}");

    let mut expected = Vec::new();
    for (i, codec) in ["none", "gzip", "snappy", "lz4", "zstd"].into_iter().enumerate() {
        let producer: FutureProducer = client(&bootstrap)
            .set("compression.type", codec)
            .set("acks", "all")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        for j in 0..20 {
            let n = i * 20 + j;
            let key = format!("key-{n}");
            let value = format!("{codec}-value-{n}");
            let partition = (n % 2) as i32;
            let ts = 1_700_000_000_000 + n as i64;
            let record = FutureRecord::to("codecs")
                .key(&key)
                .payload(&value)
                .partition(partition)
                .timestamp(ts)
                .headers(OwnedHeaders::new().insert(Header { key: "h", value: Some(codec.as_bytes()) }));
            let delivery = producer.send(record, Duration::from_secs(10)).await.expect("acked");
            let (p, offset) = (delivery.partition, delivery.offset);
            assert_eq!(p, partition);
            expected.push((p, offset, key.into_bytes(), value.into_bytes(), codec.as_bytes().to_vec(), ts));
        }
    }
    expected.sort();
    for p in 0..2 {
        let offsets: Vec<i64> = expected.iter().filter(|e| e.0 == p).map(|e| e.1).collect();
        assert_eq!(offsets, (0..50).collect::<Vec<_>>(), "offsets of partition {p} are dense from 0");
    }

    let b = bootstrap.clone();
    let seen = tokio::task::spawn_blocking(move || consume_all(&b, "codecs", 2, 100)).await.unwrap();
    assert_eq!(seen, expected);

    agent.shutdown();
    agent.wait().await;
    let agent = start(dir.path()).await;
    let b = agent.kafka_addr.to_string();
    let seen = tokio::task::spawn_blocking(move || consume_all(&b, "codecs", 2, 100)).await.unwrap();
    assert_eq!(seen, expected, "every acknowledged record is back at its offset after a restart");
    agent.shutdown();
    agent.wait().await;
}

/// Object keys come from the injected id source, so a test can predict them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_keys_come_from_the_injected_id_source() {
    use weft_agent::clock::{SequentialIds, SystemClock};
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent =
        weft_agent::start_with(config, std::sync::Arc::new(SystemClock), std::sync::Arc::new(SequentialIds::default()))
            .await
            .expect("agent starts");
    let producer: FutureProducer = client(&agent.kafka_addr.to_string()).set("acks", "all").create().expect("producer");
    producer.send(FutureRecord::to("keys").key("k").payload("v"), Duration::from_secs(10)).await.expect("acked");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("objects/v1/segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // The maintenance lease holder took uuid #0, the auto-created topic #1; the first segment took nonce 2.
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with("-0000000000000002.seg"), "{names:?}");
    agent.shutdown();
    agent.wait().await;
}
