//! The table of Kafka 4.2's group configs and the broker settings they default to and are bounded by.

use std::collections::BTreeMap;

/// The group config names.
pub mod name {
    pub const CONSUMER_HEARTBEAT_INTERVAL_MS: &str = "consumer.heartbeat.interval.ms";
    pub const CONSUMER_SESSION_TIMEOUT_MS: &str = "consumer.session.timeout.ms";
    pub const SHARE_AUTO_OFFSET_RESET: &str = "share.auto.offset.reset";
    pub const SHARE_HEARTBEAT_INTERVAL_MS: &str = "share.heartbeat.interval.ms";
    pub const SHARE_ISOLATION_LEVEL: &str = "share.isolation.level";
    pub const SHARE_RECORD_LOCK_DURATION_MS: &str = "share.record.lock.duration.ms";
    pub const SHARE_SESSION_TIMEOUT_MS: &str = "share.session.timeout.ms";
    pub const STREAMS_HEARTBEAT_INTERVAL_MS: &str = "streams.heartbeat.interval.ms";
    pub const STREAMS_INITIAL_REBALANCE_DELAY_MS: &str = "streams.initial.rebalance.delay.ms";
    pub const STREAMS_NUM_STANDBY_REPLICAS: &str = "streams.num.standby.replicas";
    pub const STREAMS_SESSION_TIMEOUT_MS: &str = "streams.session.timeout.ms";
}

/// Kafka's DescribeConfigs config types of the group configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    String = 2,
    Int = 3,
}

/// One group config.
#[derive(Debug, PartialEq, Eq)]
pub struct GroupConfigDef {
    pub name: &'static str,
    pub kind: ConfigKind,
    /// The broker setting that gives the default (e.g. `group.consumer.session.timeout.ms`).
    pub broker_default: &'static str,
    /// Kafka's lower bound of the value itself (ints).
    pub at_least: i32,
    /// The broker settings that bound the value, if any.
    pub broker_min: Option<&'static str>,
    pub broker_max: Option<&'static str>,
    /// The allowed values of an enumeration (empty: any, or checked by its own parser).
    pub allowed: &'static [&'static str],
    pub doc: &'static str,
}

const fn int(name: &'static str, broker_default: &'static str, at_least: i32, doc: &'static str) -> GroupConfigDef {
    GroupConfigDef {
        name,
        kind: ConfigKind::Int,
        broker_default,
        at_least,
        broker_min: None,
        broker_max: None,
        allowed: &[],
        doc,
    }
}

const fn bounded(
    name: &'static str,
    broker_default: &'static str,
    at_least: i32,
    (min, max): (&'static str, &'static str),
    doc: &'static str,
) -> GroupConfigDef {
    GroupConfigDef { broker_min: Some(min), broker_max: Some(max), ..int(name, broker_default, at_least, doc) }
}

/// Kafka 4.2's group configs, in name order (as Kafka lists them).
pub static GROUP_CONFIGS: &[GroupConfigDef] = &[
    bounded(
        name::CONSUMER_HEARTBEAT_INTERVAL_MS,
        "group.consumer.heartbeat.interval.ms",
        1,
        ("group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"),
        "How often members of this consumer group (KIP-848) are told to heartbeat.",
    ),
    bounded(
        name::CONSUMER_SESSION_TIMEOUT_MS,
        "group.consumer.session.timeout.ms",
        1,
        ("group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"),
        "How long a member of this consumer group (KIP-848) may go without a heartbeat before it is removed.",
    ),
    GroupConfigDef {
        name: name::SHARE_AUTO_OFFSET_RESET,
        kind: ConfigKind::String,
        broker_default: "group.share.auto.offset.reset",
        at_least: 0,
        broker_min: None,
        broker_max: None,
        allowed: &[],
        doc: "Where a share-partition starts when the share group has no state for it: earliest, latest, or \
              by_duration:<ISO-8601 duration> (that long before now; not negative).",
    },
    bounded(
        name::SHARE_HEARTBEAT_INTERVAL_MS,
        "group.share.heartbeat.interval.ms",
        1,
        ("group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"),
        "How often members of this share group are told to heartbeat.",
    ),
    GroupConfigDef {
        name: name::SHARE_ISOLATION_LEVEL,
        kind: ConfigKind::String,
        broker_default: "group.share.isolation.level",
        at_least: 0,
        broker_min: None,
        broker_max: None,
        allowed: &["read_committed", "read_uncommitted"],
        doc: "Which transactional records this share group delivers: read_committed only committed ones, \
              read_uncommitted all of them (aborted ones too). Other records are delivered either way.",
    },
    bounded(
        name::SHARE_RECORD_LOCK_DURATION_MS,
        "group.share.record.lock.duration.ms",
        1000,
        ("group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"),
        "How long a share consumer holds an acquired record before it becomes available again.",
    ),
    bounded(
        name::SHARE_SESSION_TIMEOUT_MS,
        "group.share.session.timeout.ms",
        1,
        ("group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"),
        "How long a member of this share group may go without a heartbeat before it is removed.",
    ),
    bounded(
        name::STREAMS_HEARTBEAT_INTERVAL_MS,
        "group.streams.heartbeat.interval.ms",
        1,
        ("group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms"),
        "How often members of this streams group (KIP-1071) are told to heartbeat.",
    ),
    int(
        name::STREAMS_INITIAL_REBALANCE_DELAY_MS,
        "group.streams.initial.rebalance.delay.ms",
        0,
        "How long this streams group waits for more members before its first assignment.",
    ),
    GroupConfigDef {
        broker_max: Some("group.streams.max.standby.replicas"),
        ..int(
            name::STREAMS_NUM_STANDBY_REPLICAS,
            "group.streams.num.standby.replicas",
            0,
            "Standby replicas of each task of this streams group.",
        )
    },
    bounded(
        name::STREAMS_SESSION_TIMEOUT_MS,
        "group.streams.session.timeout.ms",
        1,
        ("group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms"),
        "How long a member of this streams group may go without a heartbeat before it is removed.",
    ),
];

/// (session timeout, heartbeat interval) pairs: the session must be longer than the interval.
pub(super) const SESSION_HEARTBEAT_PAIRS: [(&str, &str); 3] = [
    (name::CONSUMER_SESSION_TIMEOUT_MS, name::CONSUMER_HEARTBEAT_INTERVAL_MS),
    (name::SHARE_SESSION_TIMEOUT_MS, name::SHARE_HEARTBEAT_INTERVAL_MS),
    (name::STREAMS_SESSION_TIMEOUT_MS, name::STREAMS_HEARTBEAT_INTERVAL_MS),
];

/// The group config named `name`.
pub fn lookup(name: &str) -> Option<&'static GroupConfigDef> {
    GROUP_CONFIGS.iter().find(|d| d.name == name)
}

/// Kafka 4.2's defaults of the broker's `group.*` settings that group configs default to or are bounded by.
const KAFKA_INTS: &[(&str, i32)] = &[
    ("group.consumer.heartbeat.interval.ms", 5_000),
    ("group.consumer.min.heartbeat.interval.ms", 5_000),
    ("group.consumer.max.heartbeat.interval.ms", 15_000),
    ("group.consumer.session.timeout.ms", 45_000),
    ("group.consumer.min.session.timeout.ms", 45_000),
    ("group.consumer.max.session.timeout.ms", 60_000),
    ("group.share.heartbeat.interval.ms", 5_000),
    ("group.share.min.heartbeat.interval.ms", 5_000),
    ("group.share.max.heartbeat.interval.ms", 15_000),
    ("group.share.session.timeout.ms", 45_000),
    ("group.share.min.session.timeout.ms", 45_000),
    ("group.share.max.session.timeout.ms", 60_000),
    ("group.share.record.lock.duration.ms", 30_000),
    ("group.share.min.record.lock.duration.ms", 15_000),
    ("group.share.max.record.lock.duration.ms", 3_600_000),
    ("group.streams.heartbeat.interval.ms", 5_000),
    ("group.streams.min.heartbeat.interval.ms", 5_000),
    ("group.streams.max.heartbeat.interval.ms", 15_000),
    ("group.streams.session.timeout.ms", 45_000),
    ("group.streams.min.session.timeout.ms", 45_000),
    ("group.streams.max.session.timeout.ms", 60_000),
    ("group.streams.initial.rebalance.delay.ms", 3_000),
    ("group.streams.num.standby.replicas", 0),
    ("group.streams.max.standby.replicas", 2),
];

const KAFKA_STRINGS: &[(&str, &str)] =
    &[("group.share.auto.offset.reset", "latest"), ("group.share.isolation.level", "read_uncommitted")];

/// The broker's `group.*` settings behind the group configs: Kafka's defaults, with the agent's own options
/// (e.g. `group.consumer.session.timeout.ms`) over them. Weft has no options for the bounds, so each bound
/// is Kafka's, widened where needed to admit the agent's default (Kafka refuses to start with a default
/// outside its bounds; an agent configured for fast tests keeps working).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerGroupSettings {
    ints: BTreeMap<&'static str, i32>,
    strings: BTreeMap<&'static str, String>,
}

impl Default for BrokerGroupSettings {
    fn default() -> Self {
        BrokerGroupSettings {
            ints: KAFKA_INTS.iter().copied().collect(),
            strings: KAFKA_STRINGS.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }
}

impl BrokerGroupSettings {
    /// Kafka's defaults with `overrides` (broker setting name, value) over them, bounds widened to admit
    /// them. A name that is not one of these settings is ignored.
    pub fn new(overrides: &[(&str, i32)]) -> Self {
        let mut s = BrokerGroupSettings::default();
        for (name, value) in overrides {
            if let Some(slot) = s.ints.get_mut(*name) {
                *slot = *value;
            }
        }
        for def in GROUP_CONFIGS {
            let default = s.int(def.broker_default);
            if let Some(min) = def.broker_min.and_then(|m| s.ints.get_mut(m)) {
                *min = (*min).min(default);
            }
            if let Some(max) = def.broker_max.and_then(|m| s.ints.get_mut(m)) {
                *max = (*max).max(default);
            }
        }
        s
    }

    /// The int setting `name` (0 for a name that is not one).
    pub fn int(&self, name: &str) -> i32 {
        self.ints.get(name).copied().unwrap_or(0)
    }

    /// The setting `name` as text.
    pub fn value(&self, name: &str) -> String {
        match self.strings.get(name) {
            Some(v) => v.clone(),
            None => self.int(name).to_string(),
        }
    }
}
