//! Full `all`-mode run against librdkafka's in-process mock cluster (a real
//! Kafka wire protocol implementation, no external broker needed). Only
//! counts are asserted, never timings.

use clap::Parser;
use rdkafka::mocking::MockCluster;
use weft_bench::{BenchArgs, Summary};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn args(bootstrap: &str, extra: &[&str]) -> BenchArgs {
    let mut argv = vec!["weft-bench", "--bootstrap-servers", bootstrap, "--topic", "bench-test", "--json"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("valid arguments").bench
}

async fn execute(args: BenchArgs) -> Summary {
    weft_bench::execute(args).await.expect("benchmark run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_phases_against_mock_cluster() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    // The mock cluster does not implement CreateTopics; pre-create the topic.
    cluster.create_topic("bench-test", 4, 1).expect("create topic");
    let bootstrap = cluster.bootstrap_servers();

    let summary = execute(args(
        &bootstrap,
        &[
            "--records",
            "3000",
            "--record-size",
            "100",
            "--rate",
            "500",
            "--e2e-duration-secs",
            "1",
            "--warmup-secs",
            "0",
        ],
    ))
    .await;
    assert_eq!(summary.partitions, 4);

    let produce = summary.produce.expect("produce report");
    assert_eq!(produce.throughput.records, 3000);
    assert_eq!(produce.throughput.bytes, 300_000);
    assert_eq!(produce.errors, 0);
    assert!(produce.p50_ms.is_some());

    let consume = summary.consume.expect("consume report");
    assert_eq!(consume.expected, 3000);
    assert_eq!(consume.throughput.records, 3000);
    assert_eq!(consume.throughput.bytes, 300_000);

    let e2e = summary.e2e.expect("e2e report");
    assert_eq!(e2e.sent, 500);
    assert_eq!(e2e.received, 500);
    assert_eq!(e2e.lost, 0);
    assert_eq!(e2e.records, 500);
    assert!(e2e.p99_ms.is_some());

    // A stand-alone consume reads everything stored: 3000 + 500 records.
    let consume_only = execute(args(&bootstrap, &["--mode", "consume"])).await;
    let consume = consume_only.consume.expect("consume report");
    assert_eq!(consume.throughput.records, 3500);
    assert!(consume_only.produce.is_none() && consume_only.e2e.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_mode_requires_existing_topic() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let bootstrap = cluster.bootstrap_servers();
    let err = weft_bench::execute(args(&bootstrap, &["--mode", "consume", "--timeout-secs", "2"]))
        .await
        .expect_err("missing topic must be an error");
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
}

/// Brokers without consumer-group support (as Weft may be early on) must
/// still work: the bench only uses assign + explicit offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_without_group_apis() {
    use rdkafka::types::RDKafkaApiKey;

    let cluster = MockCluster::new(1).expect("mock cluster");
    for api in [
        RDKafkaApiKey::FindCoordinator,
        RDKafkaApiKey::JoinGroup,
        RDKafkaApiKey::SyncGroup,
        RDKafkaApiKey::Heartbeat,
        RDKafkaApiKey::LeaveGroup,
        RDKafkaApiKey::OffsetCommit,
        RDKafkaApiKey::OffsetFetch,
        RDKafkaApiKey::InitProducerId,
    ] {
        cluster.apiversion(api, None, None).expect("disable api");
    }
    cluster.create_topic("bench-test", 2, 1).expect("create topic");
    let bootstrap = cluster.bootstrap_servers();
    let summary = execute(args(
        &bootstrap,
        &[
            "--records",
            "1000",
            "--record-size",
            "10",
            "--rate",
            "200",
            "--e2e-duration-secs",
            "1",
            "--warmup-secs",
            "0",
        ],
    ))
    .await;
    assert_eq!(summary.produce.expect("produce").throughput.records, 1000);
    assert_eq!(summary.consume.expect("consume").throughput.records, 1000);
    let e2e = summary.e2e.expect("e2e");
    assert_eq!(e2e.received, 200);
    assert_eq!(e2e.records, 200);
}
