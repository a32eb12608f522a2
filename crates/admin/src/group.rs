//! `weft group list | describe | delete | reset-offsets | delete-offsets`, for consumer and share groups (the
//! share-group requests are in `share_group`).

use crate::assignment;
use crate::common::{ConnArgs, parse_time};
use crate::share_group;
use crate::wire::Wire;
use anyhow::{Context, Result, bail};
use comfy_table::Table;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct GroupArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum GroupCommand {
    /// List consumer groups with their state and member count
    List,
    /// Show a group's state, members, assignment and per-partition committed offset (a share group's start
    /// offset), log-end offset and lag
    Describe { group: String },
    /// Delete a group and its committed offsets (the group must have no members)
    Delete { group: String },
    /// Move a group's committed offsets, or a share group's start offsets (the group must have no members)
    ResetOffsets(ResetArgs),
    /// Delete a share group's offsets of topics: it starts them again at share.auto.offset.reset (the group
    /// must have no members)
    DeleteOffsets {
        group: String,
        /// Topic whose offsets are deleted (repeatable)
        #[arg(long, required = true)]
        topic: Vec<String>,
    },
}

#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_datetime", "to_offset"])))]
pub struct ResetArgs {
    pub group: String,
    /// Topic whose partitions are reset (repeatable)
    #[arg(long, required = true)]
    pub topic: Vec<String>,
    /// The log start offset of each partition
    #[arg(long)]
    pub to_earliest: bool,
    /// The log end offset of each partition
    #[arg(long)]
    pub to_latest: bool,
    /// The first offset at or after a time: epoch milliseconds or RFC 3339 UTC (2026-11-23T10:00:00Z)
    #[arg(long)]
    pub to_datetime: Option<String>,
    /// An absolute offset (clamped to each partition's range)
    #[arg(long)]
    pub to_offset: Option<i64>,
    /// Show the new offsets without committing them
    #[arg(long)]
    pub dry_run: bool,
    /// Reset a share group's start offsets even if the group is not known yet (a known share group is found
    /// without this flag)
    #[arg(long)]
    pub share: bool,
}

#[derive(Serialize)]
struct PartitionRow {
    topic: String,
    partition: i32,
    committed: Option<i64>,
    log_end: i64,
    lag: Option<i64>,
    member: Option<String>,
}

#[derive(Serialize)]
struct MemberRow {
    member_id: String,
    client_id: String,
    host: String,
    assignment: Vec<(String, Vec<i32>)>,
}

pub async fn run_group(args: GroupArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || run_blocking(&args)).await.context("group command task")?
}

fn consumer(args: &GroupArgs, group: &str) -> Result<BaseConsumer> {
    args.conn
        .client_config()?
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .with_context(|| format!("cannot create a client for {}", args.conn.bootstrap_servers))
}

fn run_blocking(args: &GroupArgs) -> Result<()> {
    let timeout = args.conn.timeout();
    match &args.command {
        GroupCommand::List => list(args, timeout),
        GroupCommand::Describe { group } => describe(args, group, timeout),
        GroupCommand::Delete { group } => delete(args, group, timeout),
        GroupCommand::ResetOffsets(reset) => reset_offsets(args, reset, timeout),
        GroupCommand::DeleteOffsets { group, topic } => delete_offsets(args, group, topic),
    }
}

/// Runs `f` with a connection to `group`'s coordinator, on a runtime of this (blocking) thread.
fn with_coordinator<T>(args: &GroupArgs, group: &str, f: impl AsyncFnOnce(&mut Wire) -> Result<T>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let wire = Wire::connect(&args.conn).await?;
        let mut wire = share_group::coordinator(wire, group).await?;
        f(&mut wire).await
    })
}

fn delete_offsets(args: &GroupArgs, group: &str, topics: &[String]) -> Result<()> {
    with_coordinator(args, group, async |w| share_group::delete_offsets(w, group, topics).await)?;
    if args.conn.json {
        println!("{}", serde_json::json!({"group": group, "deleted_topics": topics}));
    } else {
        println!("deleted the offsets of share group {group} for {}", topics.join(", "));
    }
    Ok(())
}

fn describe_share(
    args: &GroupArgs,
    group: &str,
    g: &kafka_protocol::messages::share_group_describe_response::DescribedGroup,
    starts: &BTreeMap<(String, i32), i64>,
    timeout: Duration,
) -> Result<()> {
    let c = consumer(args, group)?;
    let mut keys: std::collections::BTreeSet<(String, i32)> = starts.keys().cloned().collect();
    for m in &g.members {
        for t in &m.assignment.topic_partitions {
            keys.extend(t.partitions.iter().map(|p| (t.topic_name.to_string(), *p)));
        }
    }
    let mut partitions = Vec::new();
    for (topic, partition) in keys {
        let (_, log_end) = c.fetch_watermarks(&topic, partition, timeout).map_err(|e| unreachable(args, e))?;
        let start = starts.get(&(topic.clone(), partition)).copied();
        let lag = start.map(|s| (log_end - s).max(0));
        partitions.push(serde_json::json!({
            "topic": topic, "partition": partition, "start_offset": start, "log_end": log_end, "lag": lag,
        }));
    }
    let members = share_group::assignment_text(g);
    if args.conn.json {
        let members: Vec<_> = members
            .iter()
            .map(|(id, client, host, a)| serde_json::json!({"member_id": id, "client_id": client, "host": host, "assignment": a}))
            .collect();
        let out = serde_json::json!({
            "group": group, "type": "share", "state": g.group_state.as_str(), "epoch": g.group_epoch,
            "members": members, "partitions": partitions,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "share group {group}: state {}, epoch {}, {} members",
        g.group_state.as_str(),
        g.group_epoch,
        members.len()
    );
    let mut t = Table::new();
    t.set_header(["MEMBER", "CLIENT ID", "HOST", "ASSIGNMENT"]);
    for (id, client, host, a) in members {
        t.add_row([id, client, host, a]);
    }
    println!("{t}");
    let mut t = Table::new();
    t.set_header(["TOPIC", "PARTITION", "START OFFSET", "LOG END", "LAG"]);
    let text = |v: &serde_json::Value| if v.is_null() { "-".to_string() } else { v.to_string() };
    for p in &partitions {
        t.add_row([
            p["topic"].as_str().unwrap_or_default().to_string(),
            text(&p["partition"]),
            text(&p["start_offset"]),
            text(&p["log_end"]),
            text(&p["lag"]),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn unreachable(args: &GroupArgs, e: impl std::fmt::Display) -> anyhow::Error {
    args.conn.unreachable(e)
}

fn list(args: &GroupArgs, timeout: Duration) -> Result<()> {
    let c = consumer(args, "weft-admin")?;
    let groups = c.fetch_group_list(None, timeout).map_err(|e| unreachable(args, e))?;
    #[derive(Serialize)]
    struct Row<'a> {
        group: &'a str,
        state: &'a str,
        protocol_type: &'a str,
        protocol: &'a str,
        members: usize,
    }
    // DescribeGroups does not know share groups (Dead): their state and members come from the share APIs.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let share = rt.block_on(async { share_group::list(Wire::connect(&args.conn).await?).await })?;
    let mut rows: Vec<Row> = groups
        .groups()
        .iter()
        .filter(|g| !share.contains_key(g.name()))
        .map(|g| Row {
            group: g.name(),
            state: g.state(),
            protocol_type: g.protocol_type(),
            protocol: g.protocol(),
            members: g.members().len(),
        })
        .collect();
    rows.extend(share.iter().map(|(id, (state, members))| Row {
        group: id,
        state,
        protocol_type: "share",
        protocol: "",
        members: *members,
    }));
    rows.sort_by(|a, b| a.group.cmp(b.group));
    if args.conn.json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.set_header(["GROUP", "STATE", "TYPE", "PROTOCOL", "MEMBERS"]);
    for r in &rows {
        t.add_row([
            r.group.to_string(),
            r.state.to_string(),
            r.protocol_type.to_string(),
            r.protocol.to_string(),
            r.members.to_string(),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn describe(args: &GroupArgs, group: &str, timeout: Duration) -> Result<()> {
    let share = with_coordinator(args, group, async |w| match share_group::describe_group(w, group).await? {
        Some(g) => Ok(Some((g, share_group::start_offsets(w, group).await?))),
        None => Ok(None),
    })?;
    if let Some((g, starts)) = share {
        return describe_share(args, group, &g, &starts, timeout);
    }
    let c = consumer(args, group)?;
    let list = c.fetch_group_list(Some(group), timeout).map_err(|e| unreachable(args, e))?;
    let info = list.groups().first().with_context(|| format!("group {group} was not described by the cluster"))?;
    let members: Vec<MemberRow> = info
        .members()
        .iter()
        .map(|m| MemberRow {
            member_id: m.id().to_string(),
            client_id: m.client_id().to_string(),
            host: m.client_host().to_string(),
            assignment: m.assignment().map(assignment::parse).unwrap_or_default(),
        })
        .collect();
    let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
    for m in &members {
        for (topic, partitions) in &m.assignment {
            for p in partitions {
                owner.insert((topic.clone(), *p), m.member_id.clone());
            }
        }
    }
    // Every partition of every topic: committed offsets exist only where the group committed.
    let metadata = c.fetch_metadata(None, timeout).map_err(|e| unreachable(args, e))?;
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition(t.name(), p.id());
        }
    }
    let committed =
        c.committed_offsets(tpl, timeout).with_context(|| format!("fetching committed offsets of {group}"))?;
    let mut partitions = Vec::new();
    for e in committed.elements() {
        let committed = match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        };
        let key = (e.topic().to_string(), e.partition());
        if committed.is_none() && !owner.contains_key(&key) {
            continue;
        }
        let (_, log_end) =
            c.fetch_watermarks(e.topic(), e.partition(), timeout).map_err(|err| unreachable(args, err))?;
        partitions.push(PartitionRow {
            topic: key.0.clone(),
            partition: key.1,
            committed,
            log_end,
            lag: committed.map(|o| (log_end - o).max(0)),
            member: owner.get(&key).cloned(),
        });
    }
    if args.conn.json {
        let out = serde_json::json!({
            "group": group, "state": info.state(), "protocol_type": info.protocol_type(), "protocol": info.protocol(),
            "members": members, "partitions": partitions,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "group {group}: state {}, protocol {} ({}), {} members",
        info.state(),
        info.protocol(),
        info.protocol_type(),
        members.len()
    );
    let mut t = Table::new();
    t.set_header(["MEMBER", "CLIENT ID", "HOST", "ASSIGNMENT"]);
    for m in &members {
        let a: Vec<String> = m.assignment.iter().map(|(t, ps)| format!("{t}:{ps:?}")).collect();
        t.add_row([m.member_id.clone(), m.client_id.clone(), m.host.clone(), a.join(" ")]);
    }
    println!("{t}");
    let mut t = Table::new();
    t.set_header(["TOPIC", "PARTITION", "COMMITTED", "LOG END", "LAG", "MEMBER"]);
    let dash = || "-".to_string();
    for p in &partitions {
        t.add_row([
            p.topic.clone(),
            p.partition.to_string(),
            p.committed.map(|o| o.to_string()).unwrap_or_else(dash),
            p.log_end.to_string(),
            p.lag.map(|o| o.to_string()).unwrap_or_else(dash),
            p.member.clone().unwrap_or_else(dash),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn delete(args: &GroupArgs, group: &str, timeout: Duration) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = args
        .conn
        .client_config()?
        .create()
        .with_context(|| format!("cannot create a client for {}", args.conn.bootstrap_servers))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let results = rt
        .block_on(admin.delete_groups(&[group], &AdminOptions::new().request_timeout(Some(timeout))))
        .map_err(|e| unreachable(args, e))?;
    for r in results {
        match r {
            Ok(g) => println!("deleted group {g}"),
            Err((g, code)) => bail!("cannot delete group {g}: {code}"),
        }
    }
    Ok(())
}

fn reset_offsets(args: &GroupArgs, r: &ResetArgs, timeout: Duration) -> Result<()> {
    let c = consumer(args, &r.group)?;
    let share = with_coordinator(args, &r.group, async |w| share_group::describe_group(w, &r.group).await)?;
    if let Some(g) = &share
        && !g.members.is_empty()
    {
        bail!("share group {} has {} active members; stop them before resetting offsets", r.group, g.members.len());
    }
    let list = c.fetch_group_list(Some(&r.group), timeout).map_err(|e| unreachable(args, e))?;
    if share.is_none()
        && let Some(g) = list.groups().first()
        && !g.members().is_empty()
    {
        bail!(
            "group {} has {} active members (state {}); stop them before resetting offsets",
            r.group,
            g.members().len(),
            g.state()
        );
    }
    let metadata = c.fetch_metadata(None, timeout).map_err(|e| unreachable(args, e))?;
    let mut plan = TopicPartitionList::new();
    let mut rows = Vec::new();
    for topic in &r.topic {
        let t = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .with_context(|| format!("topic {topic} does not exist"))?;
        if t.partitions().is_empty() {
            bail!("topic {topic} does not exist");
        }
        for p in t.partitions() {
            let (low, high) = c.fetch_watermarks(topic, p.id(), timeout).map_err(|e| unreachable(args, e))?;
            let target = if r.to_earliest {
                low
            } else if r.to_latest {
                high
            } else if let Some(o) = r.to_offset {
                o.clamp(low, high)
            } else {
                let at = parse_time(r.to_datetime.as_deref().unwrap_or_default())?;
                let mut q = TopicPartitionList::new();
                q.add_partition_offset(topic, p.id(), Offset::Offset(at))?;
                let found = c.offsets_for_times(q, timeout).map_err(|e| unreachable(args, e))?;
                match found.find_partition(topic, p.id()).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) if o >= 0 => o,
                    _ => high,
                }
            };
            plan.add_partition_offset(topic, p.id(), Offset::Offset(target))?;
            rows.push((topic.clone(), p.id(), target));
        }
    }
    let is_share = share.is_some() || r.share;
    if !r.dry_run && is_share {
        let offsets: Vec<(String, i32, i64)> = rows.clone();
        with_coordinator(args, &r.group, async |w| share_group::alter(w, &r.group, &offsets).await)?;
    } else if !r.dry_run {
        c.commit(&plan, CommitMode::Sync).with_context(|| format!("committing new offsets for group {}", r.group))?;
    }
    if args.conn.json {
        let out: Vec<_> =
            rows.iter().map(|(t, p, o)| serde_json::json!({"topic": t, "partition": p, "new_offset": o})).collect();
        println!("{}", serde_json::json!({"group": r.group, "share": is_share, "dry_run": r.dry_run, "offsets": out}));
        return Ok(());
    }
    let mut t = Table::new();
    t.set_header(["TOPIC", "PARTITION", "NEW OFFSET"]);
    for (topic, p, o) in &rows {
        t.add_row([topic.clone(), p.to_string(), o.to_string()]);
    }
    println!("{t}");
    println!(
        "{}",
        match (r.dry_run, is_share) {
            (true, _) => "dry run: nothing was committed",
            (false, true) => "share group start offsets reset",
            (false, false) => "offsets committed",
        }
    );
    Ok(())
}
