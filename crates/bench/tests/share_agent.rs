//! `--mode share` against an in-process Weft agent: two share consumers drain what was produced, a tenth of
//! the records released once, and every record is accepted exactly once. Only counts are asserted, never
//! timings.

use clap::Parser;
use weft_bench::BenchArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_mode_accepts_every_record_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let bootstrap = agent.kafka_addr.to_string();

    let argv = [
        "weft-bench",
        "--bootstrap-servers",
        &bootstrap,
        "--mode",
        "share",
        "--topic",
        "share-bench",
        "--partitions",
        "2",
        "--records",
        "3000",
        "--record-size",
        "100",
        "--share-consumers",
        "2",
        "--share-max-records",
        "200",
        "--share-release-percent",
        "10",
        "--json",
    ];
    let args = Cli::try_parse_from(argv).unwrap().bench;
    let summary = weft_bench::execute(args).await.expect("share run verifies");
    assert_eq!(summary.produce.expect("produce report").throughput.records, 3000);
    let share = summary.share.expect("share report");
    assert_eq!(share.consumers, 2);
    assert_eq!(share.expected, 3000);
    assert_eq!(share.throughput.records, 3000);
    assert_eq!(share.duplicates, 0);
    assert_eq!(share.stopped_early, None);
    assert!(share.released > 0, "10% of 3000 records released: {share:?}");
    // Every released record comes back (with count 2) and is then accepted.
    assert!(share.redeliveries >= share.released, "{share:?}");
    assert_eq!(share.deliveries, 3000 + share.redeliveries, "{share:?}");
    assert!(share.redelivery_latency.is_some_and(|l| l.samples > 0 && l.samples <= share.released));
    let accepted: u64 = share.per_consumer.iter().map(|c| c.accepted).sum();
    assert_eq!(accepted, 3000);
    assert_eq!(share.per_consumer.len(), 2);
}
