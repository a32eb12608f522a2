//! `weft offsets TOPIC`: log start and end offsets per partition, and the offset for a time (ListOffsets through
//! librdkafka, which sends each request to the partition's leader). The helpers serve the other commands too.

use crate::common::{ConnArgs, emit, parse_time, table};
use anyhow::{Context, Result, bail};
use rdkafka::client::Client;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct OffsetsArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    pub topic: String,
    /// Only these partitions (repeatable; default: all)
    #[arg(long, short = 'p')]
    pub partition: Vec<i32>,
    /// Also show the first offset whose timestamp is at or after this time: epoch ms or RFC 3339
    #[arg(long)]
    pub at: Option<String>,
}

/// A client for metadata and list-offsets requests; it joins no group.
pub fn consumer(conn: &ConnArgs) -> Result<BaseConsumer> {
    conn.client_config()?
        .set("enable.auto.commit", "false")
        .create()
        .with_context(|| format!("cannot create a client for {}", conn.bootstrap_servers))
}

/// The partitions of `topic`, checked against `only` (all of them when `only` is empty).
pub fn partitions<C: ClientContext>(c: &Client<C>, conn: &ConnArgs, topic: &str, only: &[i32]) -> Result<Vec<i32>> {
    // All topics: a request naming the topic could create it on a cluster that auto-creates.
    let md = c.fetch_metadata(None, conn.timeout()).map_err(|e| conn.unreachable(e))?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic).filter(|t| !t.partitions().is_empty()) else {
        bail!("topic {topic} does not exist");
    };
    let all: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    if let Some(p) = only.iter().find(|p| !all.contains(p)) {
        bail!("topic {topic} has no partition {p} (it has {})", all.len());
    }
    Ok(if only.is_empty() { all } else { only.to_vec() })
}

/// (partition, log start, log end) for each partition.
pub fn watermarks(c: &BaseConsumer, conn: &ConnArgs, topic: &str, parts: &[i32]) -> Result<Vec<(i32, i64, i64)>> {
    parts
        .iter()
        .map(|&p| {
            let (low, high) = c.fetch_watermarks(topic, p, conn.timeout()).map_err(|e| conn.unreachable(e))?;
            Ok((p, low, high))
        })
        .collect()
}

/// The first offset at or after `at_ms` in each partition; `None` where no record is that recent.
pub fn offsets_at(
    c: &BaseConsumer,
    conn: &ConnArgs,
    topic: &str,
    parts: &[i32],
    at_ms: i64,
) -> Result<Vec<Option<i64>>> {
    let mut q = TopicPartitionList::new();
    for &p in parts {
        q.add_partition_offset(topic, p, Offset::Offset(at_ms))?;
    }
    let found = c.offsets_for_times(q, conn.timeout()).map_err(|e| conn.unreachable(e))?;
    Ok(parts
        .iter()
        .map(|&p| match found.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) if o >= 0 => Some(o),
            _ => None,
        })
        .collect())
}

#[derive(Serialize)]
struct Row {
    partition: i32,
    earliest: i64,
    latest: i64,
    records: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<Option<i64>>,
}

pub async fn run_offsets(args: OffsetsArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || offsets(&args)).await.context("offsets task")?
}

fn offsets(args: &OffsetsArgs) -> Result<()> {
    let at = args.at.as_deref().map(parse_time).transpose()?;
    let conn = &args.conn;
    let c = consumer(conn)?;
    let parts = partitions(c.client(), conn, &args.topic, &args.partition)?;
    let marks = watermarks(&c, conn, &args.topic, &parts)?;
    let found = match at {
        Some(ms) => offsets_at(&c, conn, &args.topic, &parts, ms)?.into_iter().map(Some).collect(),
        None => vec![None; parts.len()],
    };
    let rows: Vec<Row> = marks
        .iter()
        .zip(found)
        .map(|(&(partition, earliest, latest), at)| Row { partition, earliest, latest, records: latest - earliest, at })
        .collect();
    let value = serde_json::json!({"topic": args.topic, "timestamp": at, "partitions": rows});
    emit(conn.json, &value, || {
        let mut header = vec!["PARTITION", "EARLIEST", "LATEST", "RECORDS"];
        let at_header = format!("OFFSET AT {}", args.at.as_deref().unwrap_or_default());
        if at.is_some() {
            header.push(&at_header);
        }
        table(
            &header,
            rows.iter().map(|r| {
                let mut row = vec![r.partition.to_string(), r.earliest.to_string(), r.latest.to_string()];
                row.push(r.records.to_string());
                if let Some(o) = r.at {
                    // No record that recent: a consumer starting at this time starts at the end.
                    row.push(o.map_or_else(|| format!("{} (end)", r.latest), |o| o.to_string()));
                }
                row
            }),
        )
    })
}
