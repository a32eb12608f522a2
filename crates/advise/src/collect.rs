//! One sampling window: offsets, committed offsets and Weft's client table read at its start and end, groups
//! polled every second through it, configs read once and the latest batches sampled at the end.

use crate::brokers::Brokers;
use crate::observations::{GroupObs, GroupPartitionObs, Observations, PartitionObs, TopicObs};
use crate::sampling::{self, Budget};
use crate::topics::{self, EARLIEST, LATEST};
use crate::{groups, weft_clients};
use anyhow::Result;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often groups are described during the window (to see rebalances).
const POLL_EVERY: Duration = Duration::from_secs(1);

pub struct Plan {
    pub window: Duration,
    pub topics: Vec<String>,
    pub max_partitions: usize,
    pub budget: Budget,
    /// Weft's admin base URL to read `/v1/clients` from, and whether it was given (a failure is then an error).
    pub admin: Option<(String, bool)>,
}

type Offsets = HashMap<(String, i32), i64>;

pub async fn observe(brokers: &mut Brokers, plan: &Plan) -> Result<(Observations, Vec<String>)> {
    let mut notes = Vec::new();
    let placements = brokers.placements(&plan.topics, plan.max_partitions);
    let listed = groups::list(brokers).await?;
    let http = reqwest::Client::new();
    let clients_before = read_clients(&http, plan, &mut notes).await?;
    let end_before = topics::offsets(brokers, &placements, LATEST).await?;
    let committed_before = committed(brokers, &listed, &mut notes).await;
    let started = Instant::now();
    let mut polls: Vec<Vec<groups::Poll>> = vec![Vec::new(); listed.len()];
    loop {
        for (g, seen) in listed.iter().zip(polls.iter_mut()) {
            if let Ok(Some(p)) = groups::poll(brokers, g).await {
                seen.push(p);
            }
        }
        let left = plan.window.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(POLL_EVERY)).await;
    }
    let end_after = topics::offsets(brokers, &placements, LATEST).await?;
    let committed_after = committed(brokers, &listed, &mut notes).await;
    let window_secs = started.elapsed().as_secs_f64();
    let clients_after = match clients_before {
        Some(_) => read_clients(&http, plan, &mut notes).await?,
        None => None,
    };
    let start = topics::offsets(brokers, &placements, EARLIEST).await?;
    let mut names: Vec<String> = placements.iter().map(|p| p.topic.clone()).collect();
    names.dedup();
    let mut configs = topics::configs(brokers, &names).await?;
    let mut samples = sampling::sample(brokers, &placements, &start, &end_after, &plan.budget).await?;
    let topics = names
        .iter()
        .map(|name| TopicObs {
            name: name.clone(),
            configs: configs.remove(name).unwrap_or_default(),
            partitions: placements
                .iter()
                .filter(|p| &p.topic == name)
                .filter_map(|p| {
                    let key = (p.topic.clone(), p.partition);
                    Some(PartitionObs {
                        partition: p.partition,
                        start_offset: start.get(&key).copied().unwrap_or(0),
                        end_before: *end_before.get(&key)?,
                        end_after: *end_after.get(&key)?,
                    })
                })
                .collect(),
            sample: samples.remove(name).and_then(|s| s.finish()),
        })
        .collect();
    let groups = listed
        .iter()
        .zip(polls)
        .zip(committed_before.iter().zip(&committed_after))
        .map(|((g, polls), (before, after))| group(g, &polls, (before, after), (&end_before, &end_after)))
        .collect();
    let clients = match (clients_before, clients_after) {
        (Some(a), Some(b)) => weft_clients::difference(&a, &b),
        _ => Vec::new(),
    };
    let brokers_n = brokers.broker_ids().len();
    Ok((Observations { window_secs, brokers: brokers_n, topics, groups, clients }, notes))
}

async fn read_clients(
    http: &reqwest::Client,
    plan: &Plan,
    notes: &mut Vec<String>,
) -> Result<Option<weft_clients::Snapshot>> {
    let Some((base, given)) = &plan.admin else { return Ok(None) };
    match weft_clients::read(http, base).await {
        Ok(s) => Ok(Some(s)),
        Err(e) if *given => Err(e.context("--admin-url was given")),
        Err(_) => {
            let note = format!("no Weft admin endpoint at {base}: per-client produce figures not used");
            if !notes.contains(&note) {
                notes.push(note);
            }
            Ok(None)
        }
    }
}

/// Committed offsets of every listed group (empty for a group whose coordinator did not answer).
async fn committed(brokers: &mut Brokers, listed: &[groups::Listed], notes: &mut Vec<String>) -> Vec<Offsets> {
    let mut out = Vec::with_capacity(listed.len());
    for g in listed {
        match groups::committed(brokers, &g.group_id).await {
            Ok(o) => out.push(o),
            Err(e) => {
                notes.push(format!("group {}: committed offsets not read: {e:#}", g.group_id));
                out.push(Offsets::new());
            }
        }
    }
    out
}

fn group(
    g: &groups::Listed,
    polls: &[groups::Poll],
    committed: (&Offsets, &Offsets),
    ends: (&Offsets, &Offsets),
) -> GroupObs {
    let last = polls.last().cloned().unwrap_or_default();
    let member_changes = polls.windows(2).map(|w| w[0].changes_to(&w[1])).sum();
    let mut partitions: Vec<GroupPartitionObs> = committed
        .1
        .iter()
        .filter_map(|(key, after)| {
            Some(GroupPartitionObs {
                topic: key.0.clone(),
                partition: key.1,
                committed_before: committed.0.get(key).copied().unwrap_or(*after),
                committed_after: *after,
                end_before: *ends.0.get(key)?,
                end_after: *ends.1.get(key)?,
            })
        })
        .collect();
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    GroupObs {
        group_id: g.group_id.clone(),
        protocol_type: g.protocol_type.clone(),
        group_type: g.group_type.clone(),
        state: if polls.is_empty() { "Unknown".into() } else { last.state.clone() },
        members: last.members.len(),
        member_changes,
        rebalancing_polls: polls.iter().filter(|p| p.rebalancing()).count() as u32,
        polls: polls.len() as u32,
        static_members: last.static_members,
        partitions,
    }
}
