//! `weft consume TOPIC...`: records to stdout (template or JSON), everything else to stderr. Without a group
//! the partitions are assigned directly at the requested offsets; with `--group` the consumer subscribes and
//! commits the offsets of the records it printed.

use crate::common::{ConnArgs, parse_time};
use crate::offsets;
use crate::progress;
use crate::template::{RecordView, Template, to_json};
use anyhow::{Context, Result, anyhow, bail};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[arg(required = true)]
    pub topics: Vec<String>,
    /// Where to start: beginning, end, an offset N, or -N (N records before the end of each partition)
    #[arg(long, short = 'o', allow_hyphen_values = true, value_parser = parse_offset, conflicts_with = "from_timestamp")]
    pub offset: Option<OffsetSpec>,
    /// Start at the first record at or after this time: epoch ms or RFC 3339
    #[arg(long)]
    pub from_timestamp: Option<String>,
    /// Only these partitions (repeatable; default: all)
    #[arg(long, short = 'p')]
    pub partition: Vec<i32>,
    /// Exit after this many records
    #[arg(long, short = 'c')]
    pub count: Option<u64>,
    /// Exit once every assigned partition has been read to its end
    #[arg(long, short = 'e')]
    pub exit: bool,
    /// Consume as a member of this group: subscribe, and commit the offsets of printed records
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Output template: %t topic, %p partition, %o offset, %k key, %s value, %h headers, %T timestamp (ms),
    /// %K/%S key/value length, \n \t escapes
    #[arg(long, short = 'f', default_value = "%s\\n", conflicts_with = "json")]
    pub format: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Beginning,
    End,
    At(i64),
    /// This many records before the end.
    Tail(i64),
}

pub fn parse_offset(s: &str) -> Result<OffsetSpec> {
    Ok(match s {
        "beginning" | "earliest" | "start" | "oldest" => OffsetSpec::Beginning,
        "end" | "latest" | "newest" => OffsetSpec::End,
        _ => match s.parse::<i64>() {
            Ok(n) if s.starts_with('-') => OffsetSpec::Tail(n.checked_neg().context("offset out of range")?),
            Ok(n) => OffsetSpec::At(n),
            Err(_) => bail!("invalid offset {s:?}: expected beginning, end, N or -N"),
        },
    })
}

pub async fn run_consume(args: ConsumeArgs) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C ends the loop cleanly, so a group commits what was printed.
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    tokio::task::spawn_blocking(move || consume(&args, &stop)).await.context("consume task")?
}

fn consume(args: &ConsumeArgs, stop: &AtomicBool) -> Result<()> {
    let conn = &args.conn;
    let template = Template::parse(&args.format)?;
    let from_time = args.from_timestamp.as_deref().map(parse_time).transpose()?;
    let spec = args.offset.unwrap_or(OffsetSpec::Beginning);
    let mut config = conn.client_config()?;
    config.set("enable.partition.eof", if args.exit { "true" } else { "false" });
    if let Some(g) = &args.group {
        if !args.partition.is_empty() || from_time.is_some() || !matches!(spec, OffsetSpec::Beginning | OffsetSpec::End)
        {
            bail!(
                "with --group the group's committed offsets decide where to start; only -o beginning|end \
                   (for partitions without one) can be given"
            );
        }
        let reset = if spec == OffsetSpec::End { "latest" } else { "earliest" };
        config
            .set("group.id", g)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", reset);
    } else {
        // librdkafka assigns only with a group id; this one never joins or commits.
        config.set("group.id", "weft-consume").set("enable.auto.commit", "false").set("auto.offset.reset", "earliest");
    }
    let consumer: BaseConsumer =
        config.create().with_context(|| format!("cannot create a client for {}", conn.bootstrap_servers))?;
    let mut plan = TopicPartitionList::new();
    let mut eof = AtEnd { reset_to_end: spec == OffsetSpec::End, ..AtEnd::default() };
    for topic in &args.topics {
        let parts = offsets::partitions(consumer.client(), conn, topic, &args.partition)?;
        if args.group.is_none() {
            for (p, start) in parts.iter().zip(start_offsets(&consumer, conn, topic, &parts, spec, from_time)?) {
                plan.add_partition_offset(topic, *p, Offset::Offset(start))?;
                eof.next.insert((topic.clone(), *p), start);
            }
        }
    }
    match &args.group {
        Some(_) => {
            let topics: Vec<&str> = args.topics.iter().map(String::as_str).collect();
            consumer.subscribe(&topics)?;
        }
        None => consumer.assign(&plan)?,
    }
    let mut out = Output { w: BufWriter::new(std::io::stdout().lock()), closed: false };
    let bar = progress::bar(args.count, "records");
    let mut printed = 0u64;
    let mut last_warning = String::new();
    let mut buf = Vec::new();
    while !stop.load(Ordering::SeqCst) && !out.closed && args.count.is_none_or(|c| printed < c) {
        match consumer.poll(Duration::from_millis(100)) {
            None => out.flush(),
            Some(Ok(m)) => {
                eof.left(m.topic(), m.partition(), m.offset());
                buf.clear();
                render(&m, &template, conn.json, &mut buf);
                out.write(&buf);
                if out.closed {
                    break;
                }
                if args.group.is_some() {
                    consumer.store_offset_from_message(&m)?;
                }
                printed += 1;
                bar.inc(1);
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.reached(&consumer, conn, p)?;
                if eof.all(&consumer) {
                    break;
                }
            }
            Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => bail!("consuming stopped: {e}"),
            Some(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition))) => {
                bail!("a topic of {} no longer exists", args.topics.join(", "))
            }
            Some(Err(e)) => {
                // The client retries on its own; say so once per distinct problem.
                let text = e.to_string();
                if text != last_warning {
                    eprintln!("warning: {text}");
                    last_warning = text;
                }
            }
        }
    }
    out.flush();
    bar.finish_and_clear();
    if args.group.is_some() && printed > 0 {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => return Err(anyhow!("committing the group's offsets: {e}")),
        }
    }
    Ok(())
}

/// Concrete start offsets in assign mode, so `-N` and times mean the same on every client version.
fn start_offsets(
    c: &BaseConsumer,
    conn: &ConnArgs,
    topic: &str,
    parts: &[i32],
    spec: OffsetSpec,
    from_time: Option<i64>,
) -> Result<Vec<i64>> {
    let marks = offsets::watermarks(c, conn, topic, parts)?;
    if let Some(ms) = from_time {
        let found = offsets::offsets_at(c, conn, topic, parts, ms)?;
        // No record that recent: start at the end.
        return Ok(found.into_iter().zip(&marks).map(|(o, (_, _, high))| o.unwrap_or(*high)).collect());
    }
    Ok(marks
        .into_iter()
        .map(|(_, low, high)| match spec {
            OffsetSpec::Beginning => low,
            OffsetSpec::End => high,
            OffsetSpec::At(n) => n.clamp(low, high),
            OffsetSpec::Tail(n) => high.saturating_sub(n).max(low),
        })
        .collect())
}

fn render(m: &BorrowedMessage<'_>, template: &Template, json: bool, buf: &mut Vec<u8>) {
    let headers = m
        .headers()
        .map(|h| (0..h.count()).filter_map(|i| h.try_get(i)).map(|h| (h.key, h.value)).collect())
        .unwrap_or_default();
    let r = RecordView {
        topic: m.topic(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key: m.key(),
        value: m.payload(),
        headers,
    };
    if json {
        buf.extend_from_slice(to_json(&r).as_bytes());
        buf.push(b'\n');
    } else {
        template.render(&r, buf);
    }
}

/// Buffered stdout; a reader that went away (`| head`) ends consumption instead of failing it.
struct Output<W: Write> {
    w: W,
    closed: bool,
}

impl<W: Write> Output<W> {
    fn write(&mut self, b: &[u8]) {
        if self.w.write_all(b).is_err() {
            self.closed = true;
        }
    }

    fn flush(&mut self) {
        if self.w.flush().is_err() {
            self.closed = true;
        }
    }
}

/// Which assigned partitions have been read to their end. librdkafka reports the end of a partition by
/// number only, so when several topics have that partition, positions and log end offsets tell which.
#[derive(Default)]
struct AtEnd {
    done: HashSet<(String, i32)>,
    /// The next offset to read, where known: the assigned start, then after each record.
    next: HashMap<(String, i32), i64>,
    /// A group member without a committed offset starts at the end (else at the start).
    reset_to_end: bool,
}

impl AtEnd {
    fn left(&mut self, topic: &str, partition: i32, offset: i64) {
        let key = (topic.to_string(), partition);
        self.done.remove(&key);
        self.next.insert(key, offset + 1);
    }

    fn reached(&mut self, c: &BaseConsumer, conn: &ConnArgs, partition: i32) -> Result<()> {
        let assigned = assignment(c);
        let sharing: Vec<&(String, i32)> = assigned.iter().filter(|tp| tp.1 == partition).collect();
        // Only a partition number no other assigned topic has names its partition outright: with several,
        // a repeated end of one already done must not mark the last one left, which may have records unread.
        if let [only] = sharing[..] {
            self.done.insert(only.clone());
            return Ok(());
        }
        let candidates: Vec<&(String, i32)> = sharing.into_iter().filter(|tp| !self.done.contains(*tp)).collect();
        let offset = |l: Option<&TopicPartitionList>, t: &str, p: i32| match l?.find_partition(t, p)?.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        };
        let positions = c.position().ok();
        let mut committed = None;
        for (topic, p) in candidates {
            let (low, high) = c.fetch_watermarks(topic, *p, conn.timeout()).map_err(|e| conn.unreachable(e))?;
            let mut next = self.next.get(&(topic.clone(), *p)).copied().max(offset(positions.as_ref(), topic, *p));
            if next.is_none() {
                // A group member that has read nothing here yet starts at the committed offset.
                if committed.is_none() {
                    committed = Some(c.committed(conn.timeout()).map_err(|e| conn.unreachable(e))?);
                }
                next = offset(committed.as_ref(), topic, *p);
            }
            if next.unwrap_or(if self.reset_to_end { high } else { low }) >= high {
                self.done.insert((topic.clone(), *p));
            }
        }
        Ok(())
    }

    fn all(&self, c: &BaseConsumer) -> bool {
        let assigned = assignment(c);
        !assigned.is_empty() && assigned.iter().all(|tp| self.done.contains(tp))
    }
}

fn assignment(c: &BaseConsumer) -> Vec<(String, i32)> {
    c.assignment()
        .map(|l| l.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_like_kcat() {
        assert_eq!(parse_offset("beginning").unwrap(), OffsetSpec::Beginning);
        assert_eq!(parse_offset("earliest").unwrap(), OffsetSpec::Beginning);
        assert_eq!(parse_offset("end").unwrap(), OffsetSpec::End);
        assert_eq!(parse_offset("42").unwrap(), OffsetSpec::At(42));
        assert_eq!(parse_offset("-5").unwrap(), OffsetSpec::Tail(5));
        assert_eq!(parse_offset("-0").unwrap(), OffsetSpec::Tail(0));
        for bad in ["", "first", "1.5", "--3", "-9223372036854775808"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }
}
