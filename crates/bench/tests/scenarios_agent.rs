//! Every shipped scenario, shortened to a few seconds, against an in-process Weft agent; each run's
//! report.json is read back and checked for what the scenario is about. Only counts are asserted, never
//! timings: the agent is a debug build on a shared machine, so rates are scaled down to what it serves
//! (a tenth), and the ramp's objective is loosened so that the ramp takes several steps.

use std::path::Path;

use clap::Parser;
use serde_json::Value;
use weft_bench::BenchArgs;
use weft_bench::runner::{Outcome, RunOptions, run_scenario, write_report};
use weft_bench::scenario::{self, Overrides};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

async fn agent(dir: &Path) -> weft_agent::RunningAgent {
    let mut config = weft_agent::AgentConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    weft_agent::start(config).await.expect("agent starts")
}

/// Runs shipped scenario `name` shortened to `secs` (ramp steps of 1 s, storm turns of 2 s), writes its report and reads it back.
async fn run(bootstrap: &str, name: &str, secs: u64, dir: &Path) -> (Outcome, Value) {
    let mut s = scenario::load(name)
        .unwrap()
        .with_overrides(Overrides { duration_secs: Some(secs), warmup_secs: Some(0), step_secs: Some(1) })
        .unwrap();
    for c in &mut s.consumers {
        c.rebalance_every_secs = c.rebalance_every_secs.map(|_| 2);
    }
    for p in &mut s.producers {
        p.rate = p.rate.map(|r| (r / 10).max(10));
        if let Some(ramp) = &mut p.ramp {
            (ramp.start, ramp.step) = (200, 200);
        }
    }
    if let Some(o) = &mut s.objective {
        o.max_ms = 60_000.0;
    }
    let args = Cli::try_parse_from(["bench", "--bootstrap-servers", bootstrap, "--json"]).unwrap().bench;
    let outcome = run_scenario(&s, &args, &RunOptions::default()).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert!(outcome.problems.is_empty(), "{name}: {:?}", outcome.problems);
    let out = dir.join(name);
    write_report(&out, &outcome.run).unwrap();
    assert!(out.join("report.html").exists());
    let json: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let back: weft_report::Run = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, outcome.run, "{name}: report.json holds the run");
    (outcome, json)
}

fn sum(report: &Value, field: &str) -> u64 {
    report["intervals"].as_array().unwrap().iter().map(|i| i[field].as_u64().unwrap()).sum()
}

fn check_common(name: &str, report: &Value) {
    assert_eq!(report["scenario"], name);
    assert!(!report["intervals"].as_array().unwrap().is_empty(), "{name}: intervals");
    assert!(sum(report, "produced_records") > 0, "{name}: produced");
    assert!(sum(report, "consumed_records") > 0, "{name}: consumed");
    assert_eq!(sum(report, "produce_errors"), 0, "{name}: produce errors");
    assert!(report["histograms"]["produce_ack"].as_array().is_some_and(|b| !b.is_empty()), "{name}: ack histogram");
    assert!(report["bottleneck"].is_object(), "{name}: analysed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_shipped_scenario_runs_short_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let bootstrap = agent.kafka_addr.to_string();
    let reports = dir.path().join("reports");

    for name in ["steady-1k", "many-partitions", "large-records"] {
        let (_, report) = run(&bootstrap, name, 2, &reports).await;
        check_common(name, &report);
        assert_eq!(sum(&report, "consumed_records"), sum(&report, "produced_records"), "{name}");
        assert!(report["histograms"]["end_to_end"].as_array().is_some_and(|b| !b.is_empty()), "{name}: e2e");
    }

    let (outcome, report) = run(&bootstrap, "fan-out", 2, &reports).await;
    check_common("fan-out", &report);
    assert_eq!(sum(&report, "consumed_records"), 3 * sum(&report, "produced_records"), "three groups read all");
    assert!(outcome.totals.consumed_by_group.iter().all(|(_, n)| *n == outcome.totals.produced_records));

    let (_, report) = run(&bootstrap, "latency-slo", 4, &reports).await;
    check_common("latency-slo", &report);
    let steps = report["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "the ramp recorded steps");
    let offered: Vec<f64> = steps.iter().map(|s| s["offered_records_per_sec"].as_f64().unwrap()).collect();
    assert!(offered.windows(2).all(|w| w[1] > w[0]) && offered[0] == 200.0, "{offered:?}");
    let met: Vec<bool> = steps.iter().map(|s| s["met"].as_bool().unwrap()).collect();
    assert!(met.iter().rev().skip(1).all(|&m| m), "only the last step may fail: {met:?}");
    let rate = |s: &Value, k: &str| s[k].as_f64().unwrap();
    let best = steps.iter().rfind(|s| s["met"] == true);
    let sustained = best.map(|s| rate(s, "offered_records_per_sec").min(rate(s, "achieved_records_per_sec")));
    assert_eq!(report["sustainable_records_per_sec"].as_f64(), sustained, "what the highest met step achieved");
    assert_eq!(report["objective"]["latency"], "end_to_end");

    let (_, report) = run(&bootstrap, "compaction-churn", 2, &reports).await;
    check_common("compaction-churn", &report);
    assert_eq!(report["settings"]["topics[0].described.cleanup.policy"], "compact");
    assert_eq!(report["settings"]["producers[0].keys.distribution"], "zipf");

    let (outcome, report) = run(&bootstrap, "transactions", 2, &reports).await;
    check_common("transactions", &report);
    assert!(outcome.totals.transactions_committed > 0, "{:?}", outcome.totals);
    assert_eq!(outcome.totals.transactions_aborted, 0);
    assert_eq!(sum(&report, "consumed_records"), sum(&report, "produced_records"), "read_committed sees every record");

    let (outcome, report) = run(&bootstrap, "rebalance-storm", 5, &reports).await;
    check_common("rebalance-storm", &report);
    assert!(outcome.totals.rejoins > 0, "members left and joined: {:?}", outcome.totals);
    assert_eq!(outcome.totals.consumed_by_group[0].1, outcome.totals.produced_records, "nothing lost in the storm");

    let (_, report) = run(&bootstrap, "share-queue", 2, &reports).await;
    check_common("share-queue", &report);
    assert_eq!(sum(&report, "consumed_records"), sum(&report, "produced_records"), "each record accepted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_client_ends_the_run_with_its_own_error_and_a_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let bootstrap = agent.kafka_addr.to_string();
    // A valid scenario whose idempotent producers' client rejects a property (librdkafka checks it when it
    // creates an idempotent producer); the other group runs.
    let text = "version = 1\nname = \"bad-client\"\nduration_secs = 30\n[[topics]]\nname = \"t\"\npartitions = 1\n\
                [[producers]]\nrate = 100\n[[producers]]\nrate = 100\nidempotence = true\n";
    let s = scenario::parse("bad-client.toml", text).unwrap();
    let args = Cli::try_parse_from(["bench", "--bootstrap-servers", &bootstrap, "--json", "-X", "max.in.flight=10"])
        .unwrap()
        .bench;
    let started = std::time::Instant::now();
    let outcome = run_scenario(&s, &args, &RunOptions::default()).await.unwrap();
    let e = outcome.failure.clone().expect("the failure is reported");
    assert!(e.contains("producer") && e.contains("max.in.flight"), "{e}");
    assert_eq!(outcome.run.settings.get("run.failed"), Some(&e), "the report says why it is partial");
    assert!(started.elapsed() < std::time::Duration::from_secs(25), "stopped at once, not after the duration");
    let out = dir.path().join("partial");
    write_report(&out, &outcome.run).unwrap();
    assert!(out.join("report.json").exists() && out.join("report.html").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_made_before_a_failing_setup_are_deleted() {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path()).await;
    let bootstrap = agent.kafka_addr.to_string();
    // The second topic's config is refused by the cluster, after the first topic was created.
    let text = "version = 1\nname = \"leak\"\nduration_secs = 5\n[[topics]]\nname = \"a\"\n[[topics]]\nname = \"b\"\n\
                configs = { \"cleanup.policy\" = \"bogus\" }\n[[producers]]\nrate = 10\n";
    let s = scenario::parse("leak.toml", text).unwrap();
    let args = Cli::try_parse_from(["bench", "--bootstrap-servers", &bootstrap, "--json"]).unwrap().bench;
    let e = run_scenario(&s, &args, &RunOptions::default()).await.unwrap_err();
    assert!(format!("{e:#}").contains("weft-bench-leak-b-"), "{e:#}");
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
    let consumer = std::sync::Arc::new(consumer);
    // Deletion completes asynchronously (as in Kafka): wait a while for the metadata to drop it.
    let mut left = Vec::new();
    for _ in 0..50 {
        let c = std::sync::Arc::clone(&consumer);
        let metadata =
            tokio::task::spawn_blocking(move || c.fetch_metadata(None, std::time::Duration::from_secs(10)).unwrap())
                .await
                .unwrap();
        left = metadata
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|n| n.starts_with("weft-bench-leak"))
            .collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}
