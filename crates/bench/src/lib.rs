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

mod args;
mod cluster;
mod consumer;
mod e2e;
mod latency;
mod pacing;
mod payload;
mod producer;
mod progress;
mod report;

use anyhow::{Context, Result};

pub use args::{BenchArgs, DEFAULT_E2E_LINGER_MS, DEFAULT_PRODUCE_LINGER_MS, Mode, parse_key_value};
pub use latency::LatencySummary;
pub use report::{ConsumeReport, E2eReport, ProduceReport, Summary, Throughput};

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
    };
    let (do_produce, do_consume, do_e2e) = match args.mode {
        Mode::Produce => (true, false, false),
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
                let pool = PayloadPool::new(size, 0x5745_4654);
                producer::run_produce(&args, &pool, &bar)
            })
            .await?
        };
        bar.finish_and_clear();
        summary.produce = Some((&outcome?).into());
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
        summary.consume = Some((&outcome?).into());
    }

    if do_e2e {
        let marks = cluster.watermarks(&args.topic, &partitions).await?;
        let ranges =
            marks.iter().map(|m| PartitionRange { partition: m.partition, start: m.high, end: m.high }).collect();
        progress::note(
            show,
            &format!(
                "e2e: {} records/s for {} s after a {} s warmup",
                args.rate, args.e2e_duration_secs, args.warmup_secs
            ),
        );
        let total = pacing::Pacer::records_for(args.rate, args.warmup_secs + args.e2e_duration_secs);
        let bar = progress::records_bar(show, "e2e", total);
        let outcome = e2e::run_e2e(args.clone(), ranges, bar).await?;
        summary.e2e = Some((&outcome).into());
    }
    Ok(summary)
}
