//! `weft bench`: drives a Kafka-protocol broker (Weft or Apache Kafka) with a
//! real Kafka client (librdkafka through the `rdkafka` crate) and reports
//! produce/consume throughput and produce-ack / end-to-end latency.
//!
//! Phases (`--mode`):
//! - `produce`: `--records` records as fast as possible through a
//!   `BaseProducer` whose bounded local queue is the in-flight window.
//! - `consume`: reads the topic from the low to the high watermarks seen at
//!   start with a manually assigned consumer (no group coordination).
//! - `e2e`: produces at `--rate` records/s and measures receive time minus the
//!   send time embedded in each payload, after a `--warmup-secs` warmup.
//! - `all` (default): produce, consume exactly what was produced, then e2e.
//! - `share`: produce, then drain the whole topic with a share group (KIP-932, `share`) and fail unless
//!   every record was accepted exactly once.
//!
//! With `--metrics-url` (a Weft agent's `/metrics`), each phase also reports the object-store requests it
//! cost the agent (`store_metrics`).

mod args;
mod cluster;
mod command;
mod consumer;
mod e2e;
mod latency;
mod pacing;
mod payload;
mod producer;
mod progress;
mod report;
pub mod runner;
pub mod scenario;
mod share;
mod store_metrics;

use anyhow::{Context, Result};

pub use args::{BenchArgs, DEFAULT_E2E_LINGER_MS, DEFAULT_PRODUCE_LINGER_MS, Mode, parse_key_value};
pub use command::{BenchAction, BenchCommand, run_command, run_scenario_command, scenario_list};
pub use latency::LatencySummary;
pub use report::{ConsumeReport, E2eReport, ProduceReport, Summary, Throughput};
pub use share::{ShareConsumerReport, ShareReport};
pub use store_metrics::{StoreCounters, StoreReport};

use cluster::{Cluster, PartitionRange, blocking};
use payload::PayloadPool;

/// Runs the benchmark and prints the summary to stdout (a table, or one JSON
/// object with `--json`). Progress goes to stderr.
pub async fn run(args: BenchArgs) -> Result<()> {
    let json = args.json;
    let summary = execute(args).await?;
    if json {
        let line = serde_json::to_string(&summary).context("serialising the summary")?;
        println!("{line}");
    } else {
        print!("{}", summary.to_table());
    }
    Ok(())
}

/// Runs the benchmark and returns its results without printing them.
pub async fn execute(args: BenchArgs) -> Result<Summary> {
    args.check_command_config()?;
    let show = progress::enabled(args.json);
    let cluster = Cluster::connect(&args).await?;
    let partitions = cluster.ensure_topic(&args.topic, args.partitions, args.mode != Mode::Consume).await?;
    let mut summary = Summary {
        mode: args.mode,
        bootstrap_servers: args.bootstrap_servers.clone(),
        topic: args.topic.clone(),
        partitions: partitions.len(),
        record_size: args.record_size,
        produce: None,
        consume: None,
        e2e: None,
        share: None,
        object_store: Vec::new(),
    };
    let scrapes = Scrapes { url: args.metrics_url.clone(), timeout: args.request_timeout() };
    let mut last = scrapes.take().await?;
    let (do_produce, do_consume, do_e2e) = match args.mode {
        Mode::Produce | Mode::Share => (true, false, false),
        Mode::Consume => (false, true, false),
        Mode::E2e => (false, false, true),
        Mode::All => (true, true, true),
    };

    // In `all` mode the consume phase reads exactly what the produce phase
    // appended: from the high watermarks before it to those after it.
    let mut consume_ranges = None;
    if do_produce {
        let before = cluster.watermarks(&args.topic, &partitions).await?;
        progress::note(
            show,
            &format!(
                "produce: {} records of {} bytes to `{}` ({} partitions)",
                args.records,
                args.record_size,
                args.topic,
                partitions.len()
            ),
        );
        let bar = progress::records_bar(show, "produce", args.records);
        let outcome = {
            let (args, bar) = (args.clone(), bar.clone());
            blocking(move || {
                let size = usize::try_from(args.record_size).unwrap_or(usize::MAX);
                let pool = match args.schema_id {
                    Some(id) => PayloadPool::framed(size, 0x5745_4654, id),
                    None => PayloadPool::new(size, 0x5745_4654),
                };
                producer::run_produce(&args, &pool, &bar)
            })
            .await?
        };
        bar.finish_and_clear();
        let report: ProduceReport = (&outcome?).into();
        last = scrapes.report(&mut summary, "produce", last, report.throughput.bytes, 0).await?;
        summary.produce = Some(report);
        if do_consume {
            let after = cluster.watermarks(&args.topic, &partitions).await?;
            consume_ranges = Some(cluster::appended_between(&before, &after));
        }
    }

    if do_consume {
        let ranges = match consume_ranges {
            Some(ranges) => ranges,
            None => cluster::stored(&cluster.watermarks(&args.topic, &partitions).await?),
        };
        let expected: u64 = ranges.iter().map(PartitionRange::len).sum();
        progress::note(show, &format!("consume: {expected} records from `{}`", args.topic));
        let bar = progress::records_bar(show, "consume", expected);
        let outcome = {
            let (args, bar) = (args.clone(), bar.clone());
            blocking(move || consumer::run_consume(&args, &ranges, &bar)).await?
        };
        bar.finish_and_clear();
        let report: ConsumeReport = (&outcome?).into();
        last = scrapes.report(&mut summary, "consume", last, 0, report.throughput.bytes).await?;
        summary.consume = Some(report);
    }

    if args.mode == Mode::Share {
        let ranges = cluster::stored(&cluster.watermarks(&args.topic, &partitions).await?);
        let expected: u64 = ranges.iter().map(PartitionRange::len).sum();
        let consumers = args.share_consumers;
        progress::note(
            show,
            &format!("share: {expected} records from `{}` by {consumers} share consumers", args.topic),
        );
        let bar = progress::records_bar(show, "share", expected);
        let (report, verdict) = share::run_share(&args, ranges, &bar).await?;
        bar.finish_and_clear();
        let consumed = report.throughput.bytes;
        last = scrapes.report(&mut summary, "share", last, 0, consumed).await?;
        summary.share = Some(report);
        if let Err(e) = verdict.check() {
            eprint!("{}", summary.to_table());
            return Err(e);
        }
    }

    if do_e2e {
        let marks = cluster.watermarks(&args.topic, &partitions).await?;
        let ranges =
            marks.iter().map(|m| PartitionRange { partition: m.partition, start: m.high, end: m.high }).collect();
        progress::note(
            show,
            &format!(
                "e2e: {} records/s for {} s after a {} s warmup",
                args.rate,
                args.e2e_duration_secs,
                args.e2e_warmup_secs()
            ),
        );
        let total = pacing::Pacer::records_for(args.rate, args.e2e_warmup_secs() + args.e2e_duration_secs);
        let bar = progress::records_bar(show, "e2e", total);
        let outcome = e2e::run_e2e(args.clone(), ranges, bar).await?;
        let size = args.record_size.max(payload::E2E_HEADER_LEN as u64);
        let (produced, consumed) = (outcome.delivered * size, outcome.received * size);
        scrapes.report(&mut summary, "e2e", last, produced, consumed).await?;
        summary.e2e = Some((&outcome).into());
    }
    Ok(summary)
}

/// The agent's object-store counters, scraped around each phase when `--metrics-url` is given.
struct Scrapes {
    url: Option<String>,
    timeout: std::time::Duration,
}

impl Scrapes {
    async fn take(&self) -> Result<Option<StoreCounters>> {
        match &self.url {
            Some(url) => Ok(Some(store_metrics::scrape(url, self.timeout).await?)),
            None => Ok(None),
        }
    }

    /// Adds the report of `phase` (since `before`) to `summary`; returns the scrape taken now.
    async fn report(
        &self,
        summary: &mut Summary,
        phase: &str,
        before: Option<StoreCounters>,
        produced: u64,
        consumed: u64,
    ) -> Result<Option<StoreCounters>> {
        let now = self.take().await?;
        if let (Some(before), Some(now)) = (&before, &now) {
            summary.object_store.push(StoreReport::new(phase, before, now, produced, consumed));
        }
        Ok(now)
    }
}
