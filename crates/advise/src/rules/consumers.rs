//! Consumer rules: growing lag (consumers, partitions, fetch settings, with a catch-up estimate), lag close to
//! retention (data about to be deleted unread), and frequent rebalances (static membership, session timeout,
//! KIP-848).

use super::{Recommendation, Severity, duration, num};
use crate::observations::{GroupObs, Observations, TopicObs, per_sec};

/// Lag below this many records is noise for any consumer.
pub const MIN_LAG: i64 = 100;
/// Lag growing slower than this (records per second) is not a trend over a short window.
pub const MIN_LAG_GROWTH_PER_SEC: f64 = 1.0;
/// Backlog older than this share of retention.ms is one slowdown away from being deleted unread.
pub const RETENTION_RISK_SHARE: f64 = 0.5;
/// A projected loss of unread data sooner than this is reported even when the backlog is still young.
pub const RETENTION_HORIZON_SECS: f64 = 86_400.0;
/// Membership changes plus rebalancing polls in one window from which rebalances count as frequent: one can
/// be a deploy, two within a minute or so is churn.
pub const REBALANCE_EVENTS: u32 = 2;
/// The catch-up time aimed for when sizing consumers.
pub const CATCH_UP_TARGET_SECS: f64 = 600.0;

/// A group's consumption of one topic over the window.
struct TopicLag<'a> {
    topic: &'a str,
    partitions: usize,
    lag_before: i64,
    lag_after: i64,
    produce_rate: f64,
    consume_rate: f64,
}

pub fn recommend(obs: &Observations) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for g in &obs.groups {
        for lag in topic_lags(g, obs.window_secs) {
            let topic = obs.topics.iter().find(|t| t.name == lag.topic);
            let partitions = topic.map_or(lag.partitions, |t| t.partitions.len());
            out.extend(growing(g, &lag, partitions, obs.window_secs));
            out.extend(topic.and_then(|t| near_retention(g, &lag, t)));
        }
        out.extend(rebalances(g));
    }
    out
}

fn topic_lags(g: &GroupObs, window: f64) -> Vec<TopicLag<'_>> {
    let mut topics: Vec<&str> = g.partitions.iter().map(|p| p.topic.as_str()).collect();
    topics.dedup();
    topics.sort_unstable();
    topics.dedup();
    topics
        .into_iter()
        .map(|topic| {
            let ps: Vec<_> = g.partitions.iter().filter(|p| p.topic == topic).collect();
            let sum = |f: &dyn Fn(&crate::observations::GroupPartitionObs) -> i64| ps.iter().map(|p| f(p)).sum::<i64>();
            TopicLag {
                topic,
                partitions: ps.len(),
                lag_before: sum(&|p| p.lag_before()),
                lag_after: sum(&|p| p.lag_after()),
                produce_rate: per_sec(sum(&|p| (p.end_after - p.end_before).max(0)) as f64, window),
                consume_rate: per_sec(sum(&|p| (p.committed_after - p.committed_before).max(0)) as f64, window),
            }
        })
        .collect()
}

fn growing(g: &GroupObs, lag: &TopicLag, partitions: usize, window: f64) -> Option<Recommendation> {
    let growth = per_sec((lag.lag_after - lag.lag_before) as f64, window);
    if lag.lag_after < MIN_LAG || growth < MIN_LAG_GROWTH_PER_SEC {
        return None;
    }
    // The rate that clears the backlog within the target while keeping up with producers.
    let needed = lag.produce_rate + lag.lag_after as f64 / CATCH_UP_TARGET_SECS;
    let (setting, current, suggested, effect) = if g.members == 0 {
        (
            "consumers".to_string(),
            "no member in the group".to_string(),
            format!("start consumers (up to {partitions}, one per partition)"),
            format!(
                "consumption from 0 to at least {} records/s is needed to catch up in {}",
                num(needed),
                duration(CATCH_UP_TARGET_SECS)
            ),
        )
    } else if g.members < partitions {
        let scaled = lag.consume_rate * partitions as f64 / g.members as f64;
        (
            "consumers".to_string(),
            format!("{} members for {partitions} partitions", g.members),
            format!(
                "{partitions} members (one per partition); then max.poll.records / fetch.min.bytes for bigger polls"
            ),
            catch_up(lag, scaled, needed),
        )
    } else {
        (
            "partitions and consumers".to_string(),
            format!("{partitions} partitions, {} members", g.members),
            format!(
                "more partitions and as many consumers, or faster processing per poll (max.poll.records, fetch.max.bytes); {} records/s needed",
                num(needed)
            ),
            catch_up(lag, lag.consume_rate, needed),
        )
    };
    Some(Recommendation {
        id: "lag-growing",
        severity: Severity::Warning,
        target: format!("group {} on {}", g.group_id, lag.topic),
        setting,
        current,
        suggested,
        effect,
        evidence: format!(
            "lag {} -> {} records in {}s (+{}/s): produced {}/s, consumed {}/s",
            lag.lag_before,
            lag.lag_after,
            num(window),
            num(growth),
            num(lag.produce_rate),
            num(lag.consume_rate)
        ),
    })
}

/// The catch-up estimate at consumption `rate`.
fn catch_up(lag: &TopicLag, rate: f64, needed: f64) -> String {
    if rate > lag.produce_rate {
        let secs = lag.lag_after as f64 / (rate - lag.produce_rate);
        format!("at {} records/s consumed the backlog clears in about {}", num(rate), duration(secs))
    } else {
        format!(
            "at {} records/s consumed the lag keeps growing; {} records/s clears it in {}",
            num(rate),
            num(needed),
            duration(CATCH_UP_TARGET_SECS)
        )
    }
}

fn near_retention(g: &GroupObs, lag: &TopicLag, t: &TopicObs) -> Option<Recommendation> {
    let retention_ms = t.configs.retention_ms.filter(|r| *r > 0)?;
    if t.configs.cleanup_policy.as_deref().is_some_and(|p| !p.contains("delete")) || lag.produce_rate <= 0.0 {
        return None;
    }
    let retention = retention_ms as f64 / 1000.0;
    // How far behind the consumer is, in time: the backlog divided by the rate it was written at.
    let backlog = lag.lag_after as f64 / lag.produce_rate;
    // The backlog's age grows by (produced - consumed) / produced seconds every second.
    let aging = (lag.produce_rate - lag.consume_rate) / lag.produce_rate;
    let until_loss = (aging > 0.0).then(|| ((retention - backlog) / aging).max(0.0));
    let at_risk = backlog >= RETENTION_RISK_SHARE * retention || until_loss.is_some_and(|s| s < RETENTION_HORIZON_SECS);
    if lag.lag_after < MIN_LAG || !at_risk {
        return None;
    }
    let when = until_loss.map_or_else(|| "if consumption slows".to_string(), |s| format!("in about {}", duration(s)));
    Some(Recommendation {
        id: "lag-near-retention",
        severity: Severity::Critical,
        target: format!("group {} on {}", g.group_id, lag.topic),
        setting: "retention.ms (topic) or consumer capacity".into(),
        current: format!("retention.ms={retention_ms}"),
        suggested: format!(
            "retention.ms={} or more, and consumers that keep up",
            (backlog * 4000.0).max(retention * 2000.0) as i64
        ),
        effect: format!(
            "unread records are deleted by retention {when} unless the consumers catch up; this keeps them"
        ),
        evidence: format!(
            "the group is {} behind ({} records at {} records/s) against a retention of {}",
            duration(backlog),
            lag.lag_after,
            num(lag.produce_rate),
            duration(retention)
        ),
    })
}

fn rebalances(g: &GroupObs) -> Option<Recommendation> {
    let events = g.member_changes + g.rebalancing_polls;
    if events < REBALANCE_EVENTS {
        return None;
    }
    let classic = g.group_type.as_deref() != Some("consumer");
    let mut suggested = Vec::new();
    if g.static_members < g.members || g.members == 0 {
        suggested.push("group.instance.id per consumer (static membership)".to_string());
    }
    suggested.push("session.timeout.ms=45000 and max.poll.interval.ms above the slowest poll".to_string());
    if classic {
        suggested.push("group.protocol=consumer (KIP-848: no stop-the-world rebalance)".to_string());
    }
    Some(Recommendation {
        id: "frequent-rebalances",
        severity: Severity::Warning,
        target: format!("group {}", g.group_id),
        setting: "group.instance.id / session.timeout.ms / group.protocol".into(),
        current: format!(
            "{} protocol, {} of {} members static",
            if classic { "classic" } else { "consumer" },
            g.static_members,
            g.members
        ),
        suggested: suggested.join("; "),
        effect: "restarts and slow polls no longer move partitions between members, so consumption stops less often"
            .into(),
        evidence: format!(
            "{} membership changes and {} of {} polls rebalancing during the window",
            g.member_changes, g.rebalancing_polls, g.polls
        ),
    })
}
