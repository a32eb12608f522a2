//! Partition rules: skewed partitions (key choice, partitioner), hot keys (key design), idle partitions (fewer
//! partitions).

use super::{Recommendation, Severity, num};
use crate::observations::{Observations, TopicObs};

/// Fewer records than this written to a topic during the window say nothing about its distribution.
pub const MIN_RECORDS_FOR_DISTRIBUTION: i64 = 50;
/// A partition written at this many times the topic's mean rate is hot: its consumer and its share of the
/// agent's work set the topic's ceiling.
pub const SKEW_FACTOR: f64 = 2.0;
/// Sampled keyed records needed before a key's share means anything.
pub const MIN_KEYED_SAMPLE: u64 = 100;
/// One key carrying this share of the keyed records pins that share to one partition, whatever the count.
pub const HOT_KEY_SHARE: f64 = 0.2;
/// A topic with at least this share of its partitions idle during the window has more than it uses.
pub const IDLE_SHARE: f64 = 0.5;

pub fn recommend(obs: &Observations) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for t in obs.topics.iter().filter(|t| t.partitions.len() >= 2) {
        out.extend(skew(t, obs.window_secs));
        out.extend(hot_key(t));
        out.extend(idle(t));
    }
    out
}

fn produced(t: &TopicObs) -> i64 {
    t.partitions.iter().map(|p| p.produced()).sum()
}

fn skew(t: &TopicObs, window: f64) -> Option<Recommendation> {
    let total = produced(t);
    if total < MIN_RECORDS_FOR_DISTRIBUTION {
        return None;
    }
    let hottest = t.partitions.iter().max_by_key(|p| p.produced())?;
    let mean = total as f64 / t.partitions.len() as f64;
    let factor = hottest.produced() as f64 / mean;
    if factor < SKEW_FACTOR {
        return None;
    }
    let keyed = t.sample.as_ref().is_some_and(|s| s.keyed_records > 0);
    let suggested = if keyed {
        "a key with more distinct, evenly used values (or a compound key)".to_string()
    } else {
        "the default sticky partitioner (no custom partitioner or fixed partition)".to_string()
    };
    Some(Recommendation {
        id: "partition-skew",
        severity: Severity::Warning,
        target: format!("topic {}", t.name),
        setting: if keyed { "record key choice".into() } else { "partitioner".into() },
        current: format!(
            "partition {} takes {}% of the records",
            hottest.partition,
            num(100.0 * hottest.produced() as f64 / total as f64)
        ),
        suggested,
        effect: format!(
            "the hottest partition's load down {}x to the mean; the topic's throughput no longer bound by one partition",
            num(factor)
        ),
        evidence: format!(
            "partition {} written at {} records/s, {}x the mean of {} records/s over {} partitions",
            hottest.partition,
            num(hottest.records_per_sec(window)),
            num(factor),
            num(mean / window.max(f64::MIN_POSITIVE)),
            t.partitions.len()
        ),
    })
}

fn hot_key(t: &TopicObs) -> Option<Recommendation> {
    let s = t.sample.as_ref()?;
    let fair = 1.0 / t.partitions.len() as f64;
    if s.keyed_records < MIN_KEYED_SAMPLE || s.top_key_share < HOT_KEY_SHARE || s.top_key_share < 2.0 * fair {
        return None;
    }
    let key = s.top_key.clone().unwrap_or_default();
    Some(Recommendation {
        id: "hot-key",
        severity: Severity::Warning,
        target: format!("topic {}", t.name),
        setting: "record key".into(),
        current: format!("key {key:?} on {}% of keyed records", num(100.0 * s.top_key_share)),
        suggested: format!(
            "split key {key:?} (e.g. add a sub-key or bucket suffix) if its records need no common order; more partitions do not help"
        ),
        effect: format!(
            "its partition's share from at least {}% toward the fair {}%",
            num(100.0 * s.top_key_share),
            num(100.0 * fair)
        ),
        evidence: format!(
            "{} keyed records sampled, {} distinct keys, the top key on {}% of them",
            s.keyed_records,
            s.distinct_keys,
            num(100.0 * s.top_key_share)
        ),
    })
}

fn idle(t: &TopicObs) -> Option<Recommendation> {
    let total = produced(t);
    if total < MIN_RECORDS_FOR_DISTRIBUTION {
        return None;
    }
    let n = t.partitions.len();
    let idle = t.partitions.iter().filter(|p| p.produced() == 0).count();
    if (idle as f64) < IDLE_SHARE * n as f64 {
        return None;
    }
    let few_keys = t.sample.as_ref().filter(|s| s.keyed_records > 0 && (s.distinct_keys as usize) < n);
    let evidence_keys = few_keys.map(|s| format!("; only {} distinct keys sampled", s.distinct_keys));
    Some(Recommendation {
        id: "idle-partitions",
        severity: Severity::Info,
        target: format!("topic {}", t.name),
        setting: "partitions".into(),
        current: n.to_string(),
        suggested: format!(
            "{} (a new topic: partitions cannot be removed){}",
            n - idle,
            if few_keys.is_some() { ", or keys with more distinct values" } else { "" }
        ),
        effect: format!("{idle} fewer partitions to track, fetch and commit, with the same throughput"),
        evidence: format!(
            "{idle} of {n} partitions received no record while the topic took {total} records{}",
            evidence_keys.unwrap_or_default()
        ),
    })
}
