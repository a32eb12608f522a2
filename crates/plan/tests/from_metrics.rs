//! `--from-metrics` against a real agent: records produced and consumed between the plan's two scrapes
//! are what the plan observes, and the plan's workload is built from them.

use std::time::Duration;

use clap::Parser;
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use weft_plan::PlanArgs;
use weft_plan::scrape::{Counters, fetch};

const TOPIC: &str = "planned";
const RECORDS: usize = 400;
const VALUE_BYTES: usize = 1000;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    plan: PlanArgs,
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("compression.type", "none")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

async fn produce(producer: &FutureProducer, count: usize) {
    let value = vec![b'v'; VALUE_BYTES];
    let mut deliveries = Vec::new();
    for _ in 0..count {
        let record: FutureRecord<'_, (), [u8]> = FutureRecord::to(TOPIC).payload(&value[..]);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for d in deliveries {
        d.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
}

async fn consume_all(bootstrap: &str, count: usize) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "planner-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning).unwrap();
    consumer.assign(&tpl).unwrap();
    for _ in 0..count {
        let m = tokio::time::timeout(Duration::from_secs(20), consumer.recv()).await.unwrap().unwrap();
        assert_eq!(m.payload().map(<[u8]>::len), Some(VALUE_BYTES));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_uses_the_rates_observed_between_its_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let bootstrap = agent.kafka_addr.to_string();
    let url = format!("http://{}/metrics", agent.admin_addr.expect("admin listener"));

    // One record first creates the topic; what it counted is before the plan's first scrape.
    let producer = producer(&bootstrap);
    produce(&producer, 1).await;
    let warm = Counters::parse(&fetch(&url).await.unwrap());
    assert!(warm.bytes_in > VALUE_BYTES as f64 && warm.records_in == 1.0, "{warm:?}");

    let args = Cli::try_parse_from(["plan", "--from-metrics", &url, "--sample-secs", "8", "--json"]).unwrap().plan;
    let planning = tokio::spawn(async move { weft_plan::report(&args).await });
    // Well after the first scrape and well before the second: produce, then read everything once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    produce(&producer, RECORDS).await;
    consume_all(&bootstrap, RECORDS + 1).await;
    let json = planning.await.unwrap().expect("plan from metrics");
    let end = Counters::parse(&fetch(&url).await.unwrap());

    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let observed = &report["observed"];
    let secs = observed["sample_secs"].as_f64().unwrap();
    assert!((8.0..20.0).contains(&secs), "{secs}");
    let in_bytes = end.bytes_in - warm.bytes_in;
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    assert!(near(observed["records_in_per_sec"].as_f64().unwrap() * secs, RECORDS as f64), "{observed}");
    assert!(near(observed["bytes_in_per_sec"].as_f64().unwrap() * secs, in_bytes), "{observed} {in_bytes}");
    // Everything produced (the warm-up record too) was fetched once, inside the window.
    assert!(near(observed["bytes_out_per_sec"].as_f64().unwrap() * secs, end.bytes_out), "{observed} {end:?}");

    // The workload is what was observed: write = in, read = write x (out / in), record size = in / records.
    let workload = &report["workload"];
    let write = workload["write_bytes_per_sec"].as_f64().unwrap();
    assert!(near(write, in_bytes / secs));
    assert!(near(workload["read_bytes_per_sec"].as_f64().unwrap(), end.bytes_out / secs));
    let record_bytes = report["inputs"]["record_bytes"].as_f64().unwrap();
    assert!(near(record_bytes, in_bytes / RECORDS as f64));
    // Batch overhead only: a 1000-byte value is stored with a few bytes of record and batch framing.
    assert!((VALUE_BYTES as f64..VALUE_BYTES as f64 * 1.1).contains(&record_bytes), "{record_bytes}");
    assert!(report["weft"]["agents"]["total"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn an_unreachable_agent_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/metrics");
    let args = Cli::try_parse_from(["plan", "--from-metrics", &url, "--sample-secs", "1"]).unwrap().plan;
    let err = weft_plan::report(&args).await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("cannot scrape {url}: ")), "{err}");
}
