//! `weft produce TOPIC`: records from stdin (one per line, plain or JSON) or one from `--value`, with acks=all;
//! prints where they landed and fails if any record was not written.

use crate::common::{ConnArgs, parse_kv, print_line, table};
use crate::offsets;
use crate::produce_input::{Input, InputFormat, LineParser};
use crate::progress;
use anyhow::{Context, Result, anyhow, bail};
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    pub topic: String,
    /// Produce one record with this value instead of reading stdin
    #[arg(long)]
    pub value: Option<String>,
    /// The key of every record
    #[arg(long, short = 'k', conflicts_with = "key_delimiter")]
    pub key: Option<String>,
    /// Split each input line at the first DELIM into key and value (a line without it has no key)
    #[arg(long, value_name = "DELIM")]
    pub key_delimiter: Option<String>,
    /// A header on every record (repeatable)
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub headers: Vec<(String, String)>,
    /// The partition of every record (default: by key hash as Java clients do, spread when there is no key)
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Input format; empty lines are skipped
    #[arg(long, short = 'f', value_enum, default_value_t = InputFormat::Lines)]
    pub format: InputFormat,
    /// Also print each record's partition and offset
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// Where records went: offsets per partition, failures, and (verbose) each record.
#[derive(Default)]
struct Tally {
    partitions: BTreeMap<i32, (i64, i64, u64)>,
    records: Vec<(usize, i32, i64)>,
    failed: u64,
    errors: Vec<String>,
}

impl Tally {
    fn fail(&mut self, line: usize, e: impl std::fmt::Display) {
        self.failed += 1;
        if self.errors.len() < 5 {
            self.errors.push(format!("record from line {line}: {e}"));
        }
    }
}

struct Deliveries {
    tally: Mutex<Tally>,
    verbose: bool,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    /// The input line number.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, line: usize) {
        let Ok(mut t) = self.tally.lock() else { return };
        match result {
            Ok(m) => {
                let e = t.partitions.entry(m.partition()).or_insert((m.offset(), m.offset(), 0));
                e.0 = e.0.min(m.offset());
                e.1 = e.1.max(m.offset());
                e.2 += 1;
                if self.verbose {
                    t.records.push((line, m.partition(), m.offset()));
                }
            }
            Err((e, _)) => t.fail(line, e),
        }
    }
}

pub async fn run_produce(args: ProduceArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || produce(&args)).await.context("produce task")?
}

fn produce(args: &ProduceArgs) -> Result<()> {
    let conn = &args.conn;
    let parser = LineParser {
        format: Some(args.format),
        key: args.key.clone(),
        key_delimiter: args.key_delimiter.clone(),
        headers: args.headers.clone(),
        partition: args.partition,
    };
    if args.format == InputFormat::Json && args.key_delimiter.is_some() {
        bail!("--key-delimiter splits plain lines; JSON records carry their own key");
    }
    let timeout_ms = (conn.timeout_secs.max(1) * 1000).to_string();
    let context = Deliveries { tally: Mutex::new(Tally::default()), verbose: args.verbose };
    let producer: BaseProducer<Deliveries> = conn
        .client_config()?
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", &timeout_ms)
        .create_with_context(context)
        .with_context(|| format!("cannot create a client for {}", conn.bootstrap_servers))?;
    offsets::partitions(producer.client(), conn, &args.topic, args.partition.as_slice())?;

    if args.value.is_none() && std::io::stdin().is_terminal() {
        eprintln!("reading records from stdin, one per line; end with Ctrl-D");
    }
    let bar = progress::bar(None, "records sent");
    let mut sent = 0usize;
    let mut bad_input = None;
    let mut send = |line: usize, input: &Input| {
        send_one(&producer, &args.topic, line, input);
        sent += 1;
        bar.inc(1);
    };
    if let Some(v) = &args.value {
        send(1, &parser.complete(Input { value: Some(v.as_bytes().to_vec()), ..Input::default() }));
    } else {
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        for line in 1.. {
            buf.clear();
            if stdin.read_until(b'\n', &mut buf).context("reading stdin")? == 0 {
                break;
            }
            let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match parser.parse(text) {
                Ok(Some(input)) => send(line, &input),
                Ok(None) => {}
                Err(e) => {
                    bad_input = Some(anyhow!("line {line}: {e:#}"));
                    break;
                }
            }
        }
    }
    // Every record either lands or fails within message.timeout.ms; wait a little longer for the reports.
    let flushed = producer.flush(conn.timeout() * 2 + Duration::from_secs(1));
    bar.finish_and_clear();
    let tally = std::mem::take(&mut *producer.context().tally.lock().map_err(|_| anyhow!("delivery tally"))?);
    let delivered = tally.partitions.values().map(|p| p.2).sum::<u64>();
    let unknown = (sent as u64).saturating_sub(delivered + tally.failed);
    report(args, &tally, sent)?;
    if let Some(e) = bad_input {
        return Err(e.context(format!("stopped reading input after {sent} records")));
    }
    if tally.failed > 0 || unknown > 0 || flushed.is_err() {
        let first = tally.errors.first().cloned().unwrap_or_else(|| "no delivery report".to_string());
        bail!("{} of {sent} records were not produced to {} ({first})", tally.failed + unknown, args.topic);
    }
    Ok(())
}

fn send_one(producer: &BaseProducer<Deliveries>, topic: &str, line: usize, input: &Input) {
    let mut record: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(topic, line);
    if let Some(k) = &input.key {
        record = record.key(k.as_slice());
    }
    if let Some(v) = &input.value {
        record = record.payload(v.as_slice());
    }
    if let Some(p) = input.partition {
        record = record.partition(p);
    }
    if let Some(t) = input.timestamp {
        record = record.timestamp(t);
    }
    if !input.headers.is_empty() {
        let headers = input.headers.iter().fold(OwnedHeaders::new_with_capacity(input.headers.len()), |h, (k, v)| {
            h.insert(Header { key: k.as_str(), value: v.as_deref() })
        });
        record = record.headers(headers);
    }
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                producer.poll(Duration::from_millis(50));
            }
            Err((e, _)) => {
                if let Ok(mut t) = producer.context().tally.lock() {
                    t.fail(line, e);
                }
                break;
            }
        }
    }
    producer.poll(Duration::ZERO);
}

#[derive(Serialize)]
struct PartitionSummary {
    partition: i32,
    first_offset: i64,
    last_offset: i64,
    records: u64,
}

fn report(args: &ProduceArgs, t: &Tally, sent: usize) -> Result<()> {
    let partitions: Vec<PartitionSummary> = t
        .partitions
        .iter()
        .map(|(&partition, &(first_offset, last_offset, records))| PartitionSummary {
            partition,
            first_offset,
            last_offset,
            records,
        })
        .collect();
    let produced: u64 = partitions.iter().map(|p| p.records).sum();
    if args.conn.json {
        let mut out = serde_json::json!({
            "topic": args.topic, "produced": produced, "failed": sent as u64 - produced,
            "partitions": partitions, "errors": t.errors,
        });
        if args.verbose {
            let records: Vec<_> =
                t.records.iter().map(|(l, p, o)| serde_json::json!({"line": l, "partition": p, "offset": o})).collect();
            out["records"] = records.into();
        }
        return print_line(&out.to_string());
    }
    if args.verbose {
        let rows = t.records.iter().map(|(l, p, o)| vec![l.to_string(), p.to_string(), o.to_string()]);
        print_line(&table(&["LINE", "PARTITION", "OFFSET"], rows).to_string())?;
    }
    let where_: Vec<String> = partitions
        .iter()
        .map(|p| format!("partition {} offsets {}-{}", p.partition, p.first_offset, p.last_offset))
        .collect();
    let where_ = if where_.is_empty() { String::new() } else { format!(" ({})", where_.join(", ")) };
    print_line(&format!("produced {produced} records to {}{where_}", args.topic))
}
