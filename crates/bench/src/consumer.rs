//! Throughput consume phase: a `BaseConsumer` with a manual `assign` of
//! explicit offset ranges. No consumer-group coordination and no commits, so
//! it works against brokers without group support.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::args::BenchArgs;
use crate::cluster::PartitionRange;

/// Poll timeout of the consume loop.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Minimum time without new records before the phase is declared stalled.
const MIN_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Client context that does not report end-of-partition events as errors (they are how the consume phase
/// knows it is done); every other client error is still logged.
pub(crate) struct BenchContext;

impl rdkafka::ClientContext for BenchContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            eprintln!("warning: kafka client error: {error}: {reason}");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for BenchContext {}

pub(crate) type BenchConsumer = BaseConsumer<BenchContext>;

/// Creates a consumer assigned to `ranges`, each starting at its `start` offset.
/// Empty ranges are still assigned (they only matter for e2e, which reads
/// whatever arrives after `start`).
pub(crate) fn assigned_consumer(
    args: &BenchArgs,
    purpose: &str,
    partition_eof: bool,
    ranges: &[PartitionRange],
) -> Result<BenchConsumer> {
    let consumer: BenchConsumer = args
        .consumer_config(purpose, partition_eof)
        .create_with_context(BenchContext)
        .with_context(|| format!("creating consumer for {} (check --consumer-config)", args.bootstrap_servers))?;
    let mut assignment = TopicPartitionList::new();
    for range in ranges {
        assignment
            .add_partition_offset(&args.topic, range.partition, Offset::Offset(range.start))
            .with_context(|| format!("invalid offset for {}/{}", args.topic, range.partition))?;
    }
    consumer.assign(&assignment).with_context(|| format!("assigning partitions of topic `{}`", args.topic))?;
    Ok(consumer)
}

/// Result of the consume phase.
#[derive(Debug, Clone)]
pub(crate) struct ConsumeOutcome {
    pub records: u64,
    pub bytes: u64,
    pub errors: u64,
    pub expected: u64,
    pub elapsed: Duration,
}

/// Reads every record in `ranges` (stopping early at `--duration-secs`).
/// Blocking; run it on a blocking thread.
pub(crate) fn run_consume(args: &BenchArgs, ranges: &[PartitionRange], bar: &ProgressBar) -> Result<ConsumeOutcome> {
    let ranges: Vec<PartitionRange> = ranges.iter().copied().filter(|r| r.len() > 0).collect();
    let expected: u64 = ranges.iter().map(PartitionRange::len).sum();
    let mut outcome = ConsumeOutcome { records: 0, bytes: 0, errors: 0, expected, elapsed: Duration::ZERO };
    if ranges.is_empty() {
        return Ok(outcome);
    }
    let consumer = assigned_consumer(args, "consume", true, &ranges)?;
    // Partition -> end offset (exclusive) still to be reached.
    let mut pending: HashMap<i32, i64> = ranges.iter().map(|r| (r.partition, r.end)).collect();
    let stall_timeout = MIN_STALL_TIMEOUT.max(args.request_timeout() * 3);
    let start = Instant::now();
    let cap = args.duration_cap().map(|d| start + d);
    let mut last_progress = start;
    let mut last_error: Option<String> = None;

    while !pending.is_empty() {
        match consumer.poll(POLL_TIMEOUT) {
            Some(Ok(msg)) => {
                let partition = msg.partition();
                if let Some(&end) = pending.get(&partition) {
                    if msg.offset() < end {
                        outcome.records += 1;
                        outcome.bytes += msg.payload().map_or(0, <[u8]>::len) as u64;
                        last_progress = Instant::now();
                        outcome.elapsed = last_progress - start;
                    }
                    if msg.offset() + 1 >= end {
                        pending.remove(&partition);
                    }
                }
                if outcome.records.is_multiple_of(1024) {
                    bar.set_position(outcome.records);
                }
            }
            // Reached the current end of a partition: nothing below `end`
            // remains (e.g. transaction markers or compaction made a gap).
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                pending.remove(&partition);
            }
            Some(Err(e)) => {
                outcome.errors += 1;
                last_error = Some(e.to_string());
            }
            None => {}
        }
        let now = Instant::now();
        if cap.is_some_and(|c| now >= c) {
            break;
        }
        if now - last_progress > stall_timeout {
            bar.abandon();
            bail!(
                "consuming topic `{}` from {} stalled: no records for {} s after {} of {} \
                 (last error: {})",
                args.topic,
                args.bootstrap_servers,
                stall_timeout.as_secs(),
                outcome.records,
                expected,
                last_error.as_deref().unwrap_or("none")
            );
        }
    }
    bar.set_position(outcome.records);
    if outcome.elapsed.is_zero() {
        outcome.elapsed = start.elapsed();
    }
    Ok(outcome)
}
