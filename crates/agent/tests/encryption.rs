//! Encryption at rest with a real client: what librdkafka produces is stored sealed (no record bytes in any
//! object file), reads come back exact, and after a key rotation (a new first key, the old one kept) the
//! records written under the old key are still read and new objects use the new key.

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::time::Duration;
use weft_agent::{AgentConfig, RunningAgent};

const MARKER: &str = "plaintext-marker-7d1f";

fn key_line(id: &str, fill: u8) -> String {
    use base64::Engine;
    format!("{id} {}\n", base64::engine::general_purpose::STANDARD.encode([fill; 32]))
}

async fn start(dir: &Path, keys: &Path) -> RunningAgent {
    let mut config = AgentConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.encryption_keys_file = Some(keys.to_path_buf());
    weft_agent::start(config).await.expect("agent starts")
}

async fn produce(bootstrap: &str, from: usize, count: usize) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("compression.type", "none")
        .create()
        .expect("producer");
    for i in from..from + count {
        let value = format!("{MARKER}-{i}");
        let record = FutureRecord::to("sealed").key("k").payload(&value);
        producer.send(record, Duration::from_secs(10)).await.expect("produce");
    }
}

fn consume(bootstrap: &str, expected: usize) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "sealed-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("sealed", 0, Offset::Beginning).unwrap();
    consumer.assign(&tpl).expect("assign");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < expected && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            seen.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    seen
}

/// Every object file under `dir`, with its bytes.
fn objects(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path, bytes));
            }
        }
    }
    found
}

fn key_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = objects(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.starts_with(b"WEFTENC\0") && bytes.len() > 42)
        .map(|(_, bytes)| String::from_utf8_lossy(&bytes[10..10 + bytes[9] as usize]).into_owned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_sealed_at_rest_and_survive_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, key_line("k1", 1)).unwrap();
    let agent = start(dir.path(), &keys).await;
    produce(&agent.kafka_addr.to_string(), 0, 40).await;
    let before = consume(&agent.kafka_addr.to_string(), 40);
    assert_eq!(before.len(), 40, "{before:?}");
    agent.shutdown();
    agent.wait().await;

    let stored = objects(&dir.path().join("objects"));
    assert!(!stored.is_empty());
    for (path, bytes) in &stored {
        assert!(!bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()), "plaintext in {}", path.display());
    }
    assert_eq!(key_ids(&dir.path().join("objects")), ["k1"]);

    std::fs::write(&keys, format!("{}{}", key_line("k2", 2), key_line("k1", 1))).unwrap();
    let agent = start(dir.path(), &keys).await;
    produce(&agent.kafka_addr.to_string(), 40, 10).await;
    let mut after = consume(&agent.kafka_addr.to_string(), 50);
    after.sort_by_key(|v| v.rsplit('-').next().and_then(|n| n.parse::<u32>().ok()));
    let expected: Vec<String> = (0..50).map(|i| format!("{MARKER}-{i}")).collect();
    assert_eq!(after, expected);
    agent.shutdown();
    agent.wait().await;
    assert_eq!(key_ids(&dir.path().join("objects")), ["k1", "k2"], "new objects use the new key");
}

#[tokio::test]
async fn a_bad_keys_file_stops_the_start_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "k1 not-base64\n").unwrap();
    let mut config = AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.encryption_keys_file = Some(keys);
    let err = weft_agent::start(config).await.err().expect("refused").to_string();
    assert!(err.contains("line 1") && err.contains("base64"), "{err}");
}
