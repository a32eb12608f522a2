//! `--mode share`: drains a topic with a share group (KIP-932) of `--share-consumers` consumers speaking
//! the protocol directly (ShareGroupHeartbeat, ShareFetch with piggy-backed ACCEPT acknowledgements,
//! ShareAcknowledge epoch -1 to close), optionally releasing a share of the records once to measure
//! redelivery, and checks that every produced record was accepted exactly once.
//!
//! The group is new for every run unless `--share-group` names one; `share.auto.offset.reset=earliest`
//! (plus any `--share-group-config`) is set on it before anyone joins, so it reads the topic from its start.

mod acks;
mod fetcher;
mod ledger;
mod member;
mod report;
mod wire;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::ProgressBar;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{FindCoordinatorRequest, IncrementalAlterConfigsRequest, MetadataRequest, TopicName};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::args::BenchArgs;
use crate::cluster::PartitionRange;
use crate::latency::Clock;
use fetcher::{ConsumerStats, FetchSettings, Fetcher, Session};
use ledger::Ledger;
pub(crate) use ledger::Verdict;
use member::{MemberId, error_text, new_member_id, run_member};
pub use report::{ShareConsumerReport, ShareReport};
use wire::{Conn, str_bytes};

/// ShareFetch MaxBytes (as the consume phase's `fetch.max.bytes`).
pub(crate) const FETCH_MAX_BYTES: i32 = 50 << 20;
/// The drain fails when no record was accepted for this long (longer than a default lock of 30 s).
const STALL: Duration = Duration::from_secs(75);
/// Config resource type GROUP (KIP-848).
const GROUP_RESOURCE: i8 = 32;

/// Where the topic's partitions are led.
struct Topology {
    topic_id: Uuid,
    leaders: HashMap<i32, i32>,
    brokers: HashMap<i32, String>,
}

/// Drains `ranges` of `--topic` with a new share group; returns the report and the ledger's verdict.
pub(crate) async fn run_share(
    args: &BenchArgs,
    ranges: Vec<PartitionRange>,
    bar: &ProgressBar,
) -> Result<(ShareReport, Verdict)> {
    let protocol = args.base_config().get("security.protocol").unwrap_or("plaintext").to_ascii_lowercase();
    if protocol != "plaintext" {
        bail!("--mode share speaks PLAINTEXT only (security.protocol={protocol})");
    }
    let timeout = args.request_timeout();
    let bootstrap = args.bootstrap_servers.split(',').map(str::trim).find(|a| !a.is_empty()).unwrap_or_default();
    let bootstrap = bootstrap.split_once("://").map_or(bootstrap, |(_, a)| a);
    let mut conn = Conn::open(bootstrap, timeout).await?;
    let topo = topology(&mut conn, &args.topic).await?;
    let group = args
        .share_group
        .clone()
        .unwrap_or_else(|| format!("weft-bench-share-{}-{}", std::process::id(), Uuid::new_v4().simple()));
    let mut configs = vec![("share.auto.offset.reset".to_string(), "earliest".to_string())];
    configs.extend(args.share_group_config.iter().cloned());
    set_group_configs(&mut conn, &group, &configs).await?;
    let coordinator = coordinator(&mut conn, &group).await?;

    let clock = Clock::new();
    let ledger = Arc::new(Ledger::new(ranges));
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_members, stopped) = watch::channel(false);
    let start = clock.now_ns();
    // Every connection is opened before any task starts, so a failure leaves nothing running.
    let mut consumers = Vec::new();
    for _ in 0..args.share_consumers {
        let coordinator = Conn::open(&coordinator, timeout).await?;
        let mut sessions = Vec::new();
        for node in topo.leaders.values().copied().collect::<BTreeSet<i32>>() {
            let addr = topo.brokers.get(&node).ok_or_else(|| anyhow!("leader {node} is not among the brokers"))?;
            sessions.push(Session::new(node, Conn::open(addr, timeout).await?));
        }
        consumers.push((coordinator, sessions));
    }
    let mut members = Vec::new();
    let mut fetchers = Vec::new();
    for (coordinator, sessions) in consumers {
        let id = new_member_id();
        let (assigned, assignments) = watch::channel(None);
        let who =
            MemberId { group: group.clone(), member: id.clone(), topic: args.topic.clone(), topic_id: topo.topic_id };
        members.push(tokio::spawn(run_member(coordinator, who, assigned, stopped.clone())));
        let settings = FetchSettings {
            group: group.clone(),
            member: id,
            topic_id: topo.topic_id,
            max_records: args.share_max_records,
            max_wait_ms: i32::try_from(args.fetch_wait_max_ms).unwrap_or(i32::MAX),
            max_bytes: FETCH_MAX_BYTES,
            release_percent: args.share_release_percent,
        };
        let fetcher = Fetcher {
            settings,
            sessions,
            leaders: topo.leaders.clone(),
            assigned: assignments,
            ledger: ledger.clone(),
            clock,
            stop: stop.clone(),
        };
        fetchers.push(tokio::spawn(fetcher.run()));
    }

    let stopped_early = watch_progress(args, &ledger, bar, &members, &fetchers).await;
    stop.store(true, Ordering::Relaxed);
    let mut stats = Vec::new();
    let mut failure = None;
    for f in fetchers {
        match f.await.context("share consumer task")? {
            Ok(s) => stats.push(s),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let _ = stop_members.send(true);
    for m in members {
        if let Err(e) = m.await.context("share member task")? {
            failure = failure.or(Some(e));
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let verdict = ledger.verdict();
    let elapsed = Duration::from_nanos(verdict.finished_ns.unwrap_or_else(|| clock.now_ns()).saturating_sub(start));
    let report = ShareReport::new(group, args.record_size, elapsed, &verdict, &stats, stopped_early);
    Ok((report, verdict))
}

/// Shows progress until every record is accepted, a task ends, the drain stalls or `--duration-secs`
/// runs out; returns why it stopped early, if it did.
async fn watch_progress(
    args: &BenchArgs,
    ledger: &Ledger,
    bar: &ProgressBar,
    members: &[JoinHandle<Result<()>>],
    fetchers: &[JoinHandle<Result<ConsumerStats>>],
) -> Option<String> {
    let started = Instant::now();
    let (mut last, mut since) = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let accepted = ledger.accepted_count();
        bar.set_position(accepted);
        if ledger.finished() {
            return None;
        }
        if members.iter().any(JoinHandle::is_finished) || fetchers.iter().any(JoinHandle::is_finished) {
            return Some("a share consumer stopped".to_string());
        }
        if accepted > last {
            (last, since) = (accepted, Instant::now());
        } else if since.elapsed() > STALL {
            return Some(format!("no record accepted for {} s", STALL.as_secs()));
        }
        if args.duration_cap().is_some_and(|cap| started.elapsed() > cap) {
            return Some("--duration-secs reached".to_string());
        }
    }
}

/// The topic's id and partition leaders, and the brokers' addresses (Metadata v12).
async fn topology(conn: &mut Conn, topic: &str) -> Result<Topology> {
    let wanted = MetadataRequestTopic::default().with_name(Some(TopicName(str_bytes(topic))));
    let req = MetadataRequest::default().with_topics(Some(vec![wanted])).with_allow_auto_topic_creation(false);
    let md = conn.call(12, &req).await?;
    let t = md.topics.first().ok_or_else(|| anyhow!("no metadata for topic `{topic}`"))?;
    if t.error_code != 0 {
        bail!("metadata of topic `{topic}`: {}", error_text(t.error_code, None));
    }
    let leaders = t.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect();
    let brokers = md.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
    Ok(Topology { topic_id: t.topic_id, leaders, brokers })
}

/// Sets `configs` on `group` (IncrementalAlterConfigs v1, resource type GROUP).
async fn set_group_configs(conn: &mut Conn, group: &str, configs: &[(String, String)]) -> Result<()> {
    let set =
        |(k, v): &(String, String)| AlterableConfig::default().with_name(str_bytes(k)).with_value(Some(str_bytes(v)));
    let resource = AlterConfigsResource::default()
        .with_resource_type(GROUP_RESOURCE)
        .with_resource_name(str_bytes(group))
        .with_configs(configs.iter().map(set).collect());
    let resp = conn.call(1, &IncrementalAlterConfigsRequest::default().with_resources(vec![resource])).await?;
    for r in &resp.responses {
        if r.error_code != 0 {
            bail!("setting the configs of share group {group}: {}", error_text(r.error_code, r.error_message.as_ref()));
        }
    }
    Ok(())
}

/// The address of `group`'s coordinator (FindCoordinator v3, key type GROUP).
async fn coordinator(conn: &mut Conn, group: &str) -> Result<String> {
    let req = FindCoordinatorRequest::default().with_key(str_bytes(group)).with_key_type(0);
    let resp = conn.call(3, &req).await?;
    if resp.error_code != 0 {
        bail!("FindCoordinator for {group}: {}", error_text(resp.error_code, resp.error_message.as_ref()));
    }
    Ok(format!("{}:{}", resp.host.as_str(), resp.port))
}
