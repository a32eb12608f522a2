//! Throughput produce phase: a `BaseProducer` driven from one blocking
//! thread. librdkafka's bounded local queue (`queue.buffering.max.*`) is the
//! in-flight window: sends never wait for acknowledgements unless the queue
//! is full. Delivery reports are served by periodic `poll` calls and feed the
//! ack-latency histogram (send -> delivery report).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig};
use rdkafka::types::RDKafkaErrorCode;

use crate::args::BenchArgs;
use crate::latency::{Clock, LatencyHistogram, LatencySummary};
use crate::payload::PayloadPool;

/// Serve delivery reports every this many sends.
const POLL_EVERY: u64 = 64;
/// Refresh the progress bar and check the time cap every this many sends.
const CHECK_EVERY: u64 = 1024;
/// Extra time, beyond the local message timeout, to wait for final reports.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Delivery bookkeeping shared with the producer as its context. Reports
/// are delivered on the thread calling `poll`, so the lock is uncontended.
pub(crate) struct DeliveryTracker {
    clock: Clock,
    state: Mutex<DeliveryState>,
}

#[derive(Debug, Clone)]
pub(crate) struct DeliveryState {
    pub acked: u64,
    pub errors: u64,
    pub latency: LatencyHistogram,
    pub first_error: Option<String>,
    /// Clock time of the most recent delivery report (success or failure).
    pub last_report_ns: u64,
    /// Most recent client-level error (e.g. all brokers down).
    pub last_client_error: Option<String>,
}

impl DeliveryTracker {
    pub(crate) fn new(clock: Clock) -> Self {
        DeliveryTracker {
            clock,
            state: Mutex::new(DeliveryState {
                acked: 0,
                errors: 0,
                latency: LatencyHistogram::new(),
                first_error: None,
                last_report_ns: 0,
                last_client_error: None,
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, DeliveryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that have had a delivery report, successful or not.
    pub(crate) fn completed(&self) -> u64 {
        let s = self.state();
        s.acked + s.errors
    }
}

impl ClientContext for DeliveryTracker {
    fn error(&self, error: KafkaError, reason: &str) {
        self.state().last_client_error = Some(format!("{error}: {reason}"));
    }
}

impl ProducerContext for DeliveryTracker {
    /// Send time of the record in clock nanoseconds.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now = self.clock.now_ns();
        let mut s = self.state();
        s.last_report_ns = now;
        match result {
            Ok(_) => {
                s.acked += 1;
                s.latency.record_interval_ns(sent_ns as u64, now);
            }
            Err((error, _)) => {
                s.errors += 1;
                if s.first_error.is_none() {
                    s.first_error = Some(error.to_string());
                }
            }
        }
    }
}

/// Creates a producer reporting into a fresh [`DeliveryTracker`].
pub(crate) fn create_producer(args: &BenchArgs, clock: Clock, e2e: bool) -> Result<BaseProducer<DeliveryTracker>> {
    args.producer_config(e2e).create_with_context(DeliveryTracker::new(clock)).with_context(|| {
        format!("creating producer for {} (check --acks, --compression and --producer-config)", args.bootstrap_servers)
    })
}

/// Whether a send failed only because librdkafka's local queue is full.
pub(crate) fn is_queue_full(error: &KafkaError) -> bool {
    matches!(error, KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull))
}

/// Waits for outstanding deliveries, purging whatever is still pending after
/// `message.timeout.ms` plus a grace period (purged records count as errors).
pub(crate) fn drain(producer: &BaseProducer<DeliveryTracker>, message_timeout: Duration, bar: &ProgressBar) {
    let deadline = Instant::now() + message_timeout + DRAIN_GRACE;
    while producer.in_flight_count() > 0 && Instant::now() < deadline {
        producer.poll(Duration::from_millis(50));
        bar.set_position(producer.context().completed());
    }
    if producer.in_flight_count() > 0 {
        producer.purge(PurgeConfig::default().queue().inflight());
        // Serve the purge reports so they are counted as errors.
        let _ = producer.flush(Duration::from_secs(1));
    }
    bar.set_position(producer.context().completed());
}

/// Result of the produce phase.
#[derive(Debug, Clone)]
pub(crate) struct ProduceOutcome {
    pub acked: u64,
    pub errors: u64,
    pub record_size: u64,
    pub elapsed: Duration,
    pub latency: Option<LatencySummary>,
}

/// Produces up to `--records` records (stopping early at `--duration-secs`)
/// as fast as the client and broker allow. Blocking; run it on a blocking thread.
pub(crate) fn run_produce(args: &BenchArgs, pool: &PayloadPool, bar: &ProgressBar) -> Result<ProduceOutcome> {
    let clock = Clock::new();
    let producer = create_producer(args, clock, false)?;
    let topic = args.topic.as_str();
    let total = args.records;
    let start = Instant::now();
    let start_ns = clock.now_ns();
    let cap = args.duration_cap().map(|d| start + d);
    let capped = |now: Instant| cap.is_some_and(|c| now >= c);

    let mut sent = 0u64;
    'send: while sent < total {
        if sent.is_multiple_of(POLL_EVERY) {
            producer.poll(Duration::ZERO);
        }
        if sent.is_multiple_of(CHECK_EVERY) {
            bar.set_position(producer.context().completed());
            if capped(Instant::now()) {
                break;
            }
        }
        let payload = pool.payload(sent);
        loop {
            let record = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, clock.now_ns() as usize).payload(payload);
            match producer.send(record) {
                Ok(()) => break,
                Err((e, _)) if is_queue_full(&e) => {
                    // Window full: serve delivery reports until space frees up.
                    producer.poll(Duration::from_millis(1));
                    if capped(Instant::now()) {
                        break 'send;
                    }
                }
                Err((e, _)) => bail!("producing to topic `{topic}` failed: {e}"),
            }
        }
        sent += 1;
    }
    drain(&producer, args.message_timeout(false), bar);

    let state = producer.context().state().clone();
    let end_ns = if state.last_report_ns > start_ns { state.last_report_ns } else { clock.now_ns() };
    if state.acked == 0 && state.errors > 0 {
        bail!(
            "all {} records failed to be delivered to topic `{topic}` at {}: {}",
            state.errors,
            args.bootstrap_servers,
            state.first_error.or(state.last_client_error).unwrap_or_else(|| "unknown error".to_string())
        );
    }
    Ok(ProduceOutcome {
        acked: state.acked,
        errors: state.errors,
        record_size: pool.record_size() as u64,
        elapsed: Duration::from_nanos(end_ns - start_ns),
        latency: state.latency.summary(),
    })
}
