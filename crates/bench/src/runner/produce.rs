//! One scenario producer on its own thread: a `BaseProducer` offering records at its share of the group's
//! current rate (read each round, so a ramp can raise it), or as fast as the client queue allows. Each record
//! is stamped once with its intended send time (the schedule's, not the moment the client took it), in the
//! delivery opaque and in the value's e2e header, so time spent behind schedule (a full client queue, a
//! blocking commit) counts in the latency instead of being lost (coordinated omission). The header's id is
//! the run id plus the producer group, so end-to-end samples are told apart per group. Keys, sizes and
//! tombstones follow the scenario; payloads and the key table are the group's, shared. A transactional
//! producer commits every `transaction_records` records.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig};

use super::meter::Meter;
use crate::args::message_max_bytes;
use crate::payload::{E2E_HEADER_LEN, PayloadPool, encode_e2e_header};
use crate::producer::is_queue_full;
use crate::scenario::{KeyPicker, ProducerSpec, RecordSize};

/// Bound of one producer's client queue (librdkafka's default is 1 GiB), unless a record needs more.
const QUEUE_KBYTES: u64 = 64 * 1024;

/// Longest sleep between rate checks, so a stop or a new ramp rate is seen quickly.
const MAX_NAP: Duration = Duration::from_millis(10);
/// How long to wait for outstanding deliveries (and for a transaction's commit) at the end.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// What one producer thread needs.
pub(crate) struct ProducerPlan {
    pub spec: ProducerSpec,
    pub topic: String,
    pub topic_index: usize,
    /// The producer group's index in the scenario.
    pub group: usize,
    /// This producer's index in its group (the group's rate is shared evenly over `spec.count`).
    pub index: u32,
    /// The group's payloads and key distribution, shared by its producers.
    pub pool: Arc<PayloadPool>,
    pub keys: KeyPicker,
    /// The group's offered rate in records/s; 0 means as fast as possible.
    pub rate: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
    pub run_id: u64,
    pub transactional_id: String,
}

/// Delivery reports into the shared meter.
struct Metered {
    meter: Arc<Meter>,
    topic: usize,
    group: usize,
    /// Records this producer had acknowledged (to count those of an aborted transaction).
    acked: AtomicU64,
    /// Highest acknowledged offset per partition in the open transaction; `None` without transactions
    /// (offsets then go to the meter at once).
    txn_offsets: Option<Mutex<HashMap<i32, i64>>>,
}

impl Metered {
    fn txn_offsets(&self) -> Vec<(i32, i64)> {
        let Some(offsets) = &self.txn_offsets else { return Vec::new() };
        offsets.lock().unwrap_or_else(PoisonError::into_inner).drain().collect()
    }
}

impl ClientContext for Metered {
    fn error(&self, error: KafkaError, reason: &str) {
        eprintln!("warning: kafka producer error: {error}: {reason}");
    }
}

impl ProducerContext for Metered {
    /// Intended send time in clock nanoseconds.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        match result {
            Ok(m) => {
                let bytes = m.payload_len() + m.key().map_or(0, <[u8]>::len);
                self.meter.acked(self.group, self.topic, bytes as u64, sent_ns as u64);
                self.acked.fetch_add(1, Ordering::Relaxed);
                match &self.txn_offsets {
                    Some(open) => {
                        let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
                        let high = open.entry(m.partition()).or_insert(-1);
                        *high = (*high).max(m.offset());
                    }
                    None => self.meter.stored(self.topic, [(m.partition(), m.offset())]),
                }
            }
            Err(_) => self.meter.produce_failed(self.group, sent_ns as u64),
        }
    }
}

type MeteredProducer = BaseProducer<Metered>;

/// librdkafka settings of a scenario producer on top of the shared client settings.
pub(crate) fn producer_config(base: &ClientConfig, spec: &ProducerSpec, transactional_id: &str) -> ClientConfig {
    let mut config = base.clone();
    let (_, max_size) = spec.record_size.bounds();
    let idempotent = spec.idempotence || spec.transaction_records.is_some();
    let message_max = message_max_bytes(spec.batch_size, max_size);
    let queue_kbytes = QUEUE_KBYTES.max(message_max.saturating_mul(2) / 1024);
    config
        .set("acks", &spec.acks)
        .set("compression.type", &spec.compression)
        .set("linger.ms", spec.linger_ms.to_string())
        .set("batch.size", spec.batch_size.to_string())
        .set("message.max.bytes", message_max.to_string())
        .set("queue.buffering.max.kbytes", queue_kbytes.to_string())
        .set("message.timeout.ms", "60000")
        .set("enable.idempotence", idempotent.to_string());
    if spec.transaction_records.is_some() {
        config.set("transactional.id", transactional_id);
    }
    config
}

/// Runs one producer until `stop`; blocking (run it on its own thread).
pub(crate) fn run_producer(plan: ProducerPlan, base: &ClientConfig, meter: Arc<Meter>) -> Result<()> {
    let context = Metered {
        meter: Arc::clone(&meter),
        topic: plan.topic_index,
        group: plan.group,
        acked: AtomicU64::new(0),
        txn_offsets: plan.spec.transaction_records.map(|_| Mutex::new(HashMap::new())),
    };
    let producer: MeteredProducer = producer_config(base, &plan.spec, &plan.transactional_id)
        .create_with_context(context)
        .with_context(|| format!("creating a producer for topic `{}`", plan.topic))?;
    let mut txn = Transactions::start(&producer, plan.spec.transaction_records)?;
    let mut sender = Sender::new(&plan);
    let clock = meter.clock;
    let mut pace = Pace::new(plan.rate.load(Ordering::Relaxed), plan.spec.count, clock.now_ns());
    while !plan.stop.load(Ordering::Acquire) {
        let rate = plan.rate.load(Ordering::Relaxed);
        if rate != pace.group_rate {
            pace = Pace::new(rate, plan.spec.count, clock.now_ns());
        }
        match pace.wait() {
            Some(nap) => {
                producer.poll(nap);
                continue;
            }
            None => producer.poll(Duration::ZERO),
        };
        let intended_ns = pace.intended_ns().unwrap_or_else(|| clock.now_ns());
        if !sender.send(&producer, &meter, &plan, intended_ns)? {
            break;
        }
        pace.sent += 1;
        txn.after_send(&producer, &meter)?;
    }
    txn.finish(&producer, &meter)?;
    drain(&producer);
    Ok(())
}

/// The open-loop schedule of one producer at its share of a group rate (0: unlimited).
struct Pace {
    group_rate: u64,
    per_producer: f64,
    start: Instant,
    /// `start` on the run's clock.
    start_ns: u64,
    sent: u64,
}

impl Pace {
    fn new(group_rate: u64, producers: u32, start_ns: u64) -> Pace {
        let per_producer = group_rate as f64 / f64::from(producers.max(1));
        Pace { group_rate, per_producer, start: Instant::now(), start_ns, sent: 0 }
    }

    /// When the next record is due on the run's clock (`start + sent / rate`), `None` when unlimited.
    fn intended_ns(&self) -> Option<u64> {
        (self.group_rate > 0).then(|| self.start_ns.saturating_add((self.sent as f64 * 1e9 / self.per_producer) as u64))
    }

    /// How long to wait before the next record is due, `None` when it is due now.
    fn wait(&self) -> Option<Duration> {
        if self.group_rate == 0 {
            return None;
        }
        let due_at = self.sent as f64 / self.per_producer;
        let elapsed = self.start.elapsed().as_secs_f64();
        (due_at > elapsed).then(|| Duration::from_secs_f64(due_at - elapsed).min(MAX_NAP))
    }
}

/// Builds and sends records.
struct Sender {
    pool: Arc<PayloadPool>,
    buf: Vec<u8>,
    keys: KeyPicker,
    sizes: RecordSize,
    tombstone_share: f64,
    sent: u64,
}

impl Sender {
    fn new(plan: &ProducerPlan) -> Sender {
        let (_, max) = plan.spec.record_size.bounds();
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(E2E_HEADER_LEN);
        let seed = plan.run_id ^ u64::from(plan.index).wrapping_mul(0x9E37_79B9) ^ plan.topic_index as u64;
        Sender {
            pool: Arc::clone(&plan.pool),
            buf: vec![0; max],
            keys: plan.keys.reseeded(seed),
            sizes: plan.spec.record_size,
            tombstone_share: f64::from(plan.spec.tombstone_percent) / 100.0,
            sent: 0,
        }
    }

    fn size(&mut self) -> usize {
        let (min, max) = self.sizes.bounds();
        let size = min + ((max - min + 1) as f64 * self.keys.unit()) as u64;
        usize::try_from(size.min(max)).unwrap_or(usize::MAX).clamp(E2E_HEADER_LEN, self.buf.len())
    }

    /// Sends one record stamped `intended_ns`, waiting while the client queue is full (the wait counts in
    /// its latency); `false` when stopped meanwhile.
    fn send(
        &mut self,
        producer: &MeteredProducer,
        meter: &Meter,
        plan: &ProducerPlan,
        intended_ns: u64,
    ) -> Result<bool> {
        let key = self.keys.next_index().map(crate::scenario::key_bytes);
        let tombstone = key.is_some() && self.tombstone_share > 0.0 && self.keys.unit() < self.tombstone_share;
        let size = self.size();
        self.buf[..size].copy_from_slice(&self.pool.payload(self.sent)[..size]);
        encode_e2e_header(&mut self.buf, plan.run_id.wrapping_add(plan.group as u64), intended_ns);
        loop {
            let mut record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(&plan.topic, intended_ns as usize);
            if let Some(key) = &key {
                record = record.key(key);
            }
            if !tombstone {
                record = record.payload(&self.buf[..size]);
            }
            match producer.send(record) {
                Ok(()) => break,
                Err((e, _)) if is_queue_full(&e) => {
                    producer.poll(Duration::from_millis(1));
                    if plan.stop.load(Ordering::Acquire) {
                        return Ok(false);
                    }
                }
                Err((e, _)) => bail!("producing to topic `{}` failed: {e}", plan.topic),
            }
        }
        meter.sent(plan.group, intended_ns);
        self.sent += 1;
        Ok(true)
    }
}

/// A transactional producer's open transaction.
struct Transactions {
    every: Option<u32>,
    in_txn: u32,
    /// The producer's acknowledged count when the open transaction began.
    acked_at_begin: u64,
}

impl Transactions {
    fn start(producer: &MeteredProducer, every: Option<u32>) -> Result<Transactions> {
        if every.is_some() {
            producer.init_transactions(TXN_TIMEOUT).context("initialising transactions")?;
            producer.begin_transaction().context("beginning a transaction")?;
        }
        Ok(Transactions { every, in_txn: 0, acked_at_begin: 0 })
    }

    fn after_send(&mut self, producer: &MeteredProducer, meter: &Meter) -> Result<()> {
        let Some(every) = self.every else { return Ok(()) };
        self.in_txn += 1;
        if self.in_txn >= every {
            self.commit(producer, meter)?;
            producer.begin_transaction().context("beginning a transaction")?;
            self.acked_at_begin = producer.context().acked.load(Ordering::Relaxed);
        }
        Ok(())
    }

    fn commit(&mut self, producer: &MeteredProducer, meter: &Meter) -> Result<()> {
        self.in_txn = 0;
        let context = producer.context();
        match producer.commit_transaction(TXN_TIMEOUT) {
            Ok(()) => {
                meter.stored(context.topic, context.txn_offsets());
                meter.transactions_committed.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(KafkaError::Transaction(e)) if e.txn_requires_abort() => {
                producer.abort_transaction(TXN_TIMEOUT).context("aborting a failed transaction")?;
                context.txn_offsets();
                let acked = context.acked.load(Ordering::Relaxed).saturating_sub(self.acked_at_begin);
                meter.aborted(context.topic, acked);
                meter.transactions_aborted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(e).context("committing a transaction"),
        }
    }

    /// Commits the open transaction if it has records, else aborts it.
    fn finish(&mut self, producer: &MeteredProducer, meter: &Meter) -> Result<()> {
        if self.every.is_none() {
            return Ok(());
        }
        if self.in_txn > 0 {
            return self.commit(producer, meter);
        }
        producer.abort_transaction(TXN_TIMEOUT).context("aborting the empty last transaction")
    }
}

/// Waits for outstanding deliveries; whatever is left after the timeout is purged (counted as failed).
fn drain(producer: &MeteredProducer) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while producer.in_flight_count() > 0 && Instant::now() < deadline {
        producer.poll(Duration::from_millis(50));
    }
    if producer.in_flight_count() > 0 {
        producer.purge(PurgeConfig::default().queue().inflight());
        let _ = producer.flush(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_spreads_the_group_rate() {
        let pace = Pace::new(1000, 4, 0);
        assert_eq!(pace.per_producer, 250.0);
        assert_eq!(pace.wait(), None, "the first record is due at once");
        let ahead = Pace { sent: 250, ..Pace::new(1000, 4, 0) };
        assert_eq!(ahead.wait(), Some(MAX_NAP), "a second ahead naps at most MAX_NAP");
        assert_eq!(Pace { sent: 1_000_000, ..Pace::new(0, 1, 0) }.wait(), None, "unlimited");
    }

    #[test]
    fn records_are_stamped_with_their_place_in_the_schedule() {
        // Behind schedule (started "long ago"): record 500 of 250/s is due 2 s after the start, whenever
        // it is actually sent, so the time spent behind counts in its latency.
        let behind = Pace { sent: 500, ..Pace::new(1000, 4, 7_000) };
        assert_eq!(behind.intended_ns(), Some(7_000 + 2_000_000_000));
        assert_eq!(Pace::new(0, 1, 7_000).intended_ns(), None, "unlimited: stamped when sent");
    }

    #[test]
    fn transactional_producers_are_idempotent() {
        let spec: ProducerSpec = toml::from_str("transaction_records = 10").unwrap();
        let c = producer_config(&ClientConfig::new(), &spec, "t-1");
        assert_eq!(c.get("transactional.id"), Some("t-1"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("queue.buffering.max.kbytes"), Some("65536"), "bounded, not librdkafka's 1 GiB");
        let large: ProducerSpec = toml::from_str("record_size = 100000000").unwrap();
        let kbytes: u64 = producer_config(&ClientConfig::new(), &large, "x")
            .get("queue.buffering.max.kbytes")
            .unwrap()
            .parse()
            .unwrap();
        assert!(kbytes * 1024 >= 2 * 100_000_000 && kbytes < 300_000, "room for two of the largest records: {kbytes}");
        let plain: ProducerSpec = toml::from_str("").unwrap();
        assert_eq!(producer_config(&ClientConfig::new(), &plain, "x").get("transactional.id"), None);
    }
}
