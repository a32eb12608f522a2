//! Group configs (Kafka 4.2's `GroupConfig`, KIP-848 and KIP-932): the configs of the GROUP config resource,
//! their types, defaults (the broker's `group.*` settings) and bounds, and the validation Kafka applies before
//! storing a group's configs. The table (`defs`) is what DescribeConfigs lists; [`GroupSettings`] is a group's
//! effective configuration for the coordinators; [`GroupConfigCache`] serves it from the metastore.

mod cache;
mod defs;
mod reset;

pub use cache::GroupConfigCache;
pub use defs::{BrokerGroupSettings, ConfigKind, GROUP_CONFIGS, GroupConfigDef, lookup, name};
pub use reset::ShareAutoOffsetReset;

use std::collections::BTreeMap;

/// Why a group's configs were refused; each message names the config, as Kafka's do (INVALID_CONFIG).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupConfigError {
    #[error("unknown group config name: {0}")]
    Unknown(String),
    #[error("invalid value {value} for configuration {name}: {reason}")]
    Invalid { name: String, value: String, reason: String },
    #[error("{name} must be {relation} {bound_name} ({bound}); got {value}")]
    OutOfBounds { name: &'static str, value: i32, relation: &'static str, bound_name: &'static str, bound: i32 },
    #[error("{session} ({session_ms}) must be greater than {heartbeat} ({heartbeat_ms})")]
    SessionNotAboveHeartbeat { session: &'static str, session_ms: i32, heartbeat: &'static str, heartbeat_ms: i32 },
}

/// Share groups' isolation level (`share.isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadUncommitted,
    ReadCommitted,
}

/// A group's effective configuration: its explicit configs over the broker's defaults. The share-group
/// coordinator reads its `share_*` fields; the KIP-848 coordinator the `consumer_*` ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    pub consumer_session_timeout_ms: i32,
    pub consumer_heartbeat_interval_ms: i32,
    pub share_session_timeout_ms: i32,
    pub share_heartbeat_interval_ms: i32,
    pub share_record_lock_duration_ms: i32,
    pub share_auto_offset_reset: ShareAutoOffsetReset,
    pub share_isolation_level: IsolationLevel,
    pub streams_session_timeout_ms: i32,
    pub streams_heartbeat_interval_ms: i32,
    pub streams_num_standby_replicas: i32,
    pub streams_initial_rebalance_delay_ms: i32,
}

/// One line of a described group config: the effective value and whether the group sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroupConfig {
    pub def: &'static GroupConfigDef,
    pub value: String,
    /// Set on the group (Kafka's GROUP_CONFIG source), else the broker's default (DEFAULT_CONFIG).
    pub explicit: bool,
}

/// Checks one value against its config's type, lower bound and allowed values, and returns it as Kafka
/// shows it (an int without surrounding blanks).
pub fn parse_value(def: &GroupConfigDef, value: &str) -> Result<String, GroupConfigError> {
    let invalid = |reason: String| GroupConfigError::Invalid { name: def.name.into(), value: value.into(), reason };
    match def.kind {
        ConfigKind::Int => {
            let n = value.trim().parse::<i32>().map_err(|_| invalid("not a number of type int".into()))?;
            if n < def.at_least {
                return Err(invalid(format!("value must be at least {}", def.at_least)));
            }
            Ok(n.to_string())
        }
        ConfigKind::String if def.name == name::SHARE_AUTO_OFFSET_RESET => {
            ShareAutoOffsetReset::parse(value).map_err(invalid)?;
            Ok(value.to_string())
        }
        ConfigKind::String => {
            if !def.allowed.is_empty() && !def.allowed.contains(&value) {
                return Err(invalid(format!("string must be one of: {}", def.allowed.join(", "))));
            }
            Ok(value.to_string())
        }
    }
}

/// Validates a group's whole explicit config set as Kafka does before storing it: every name known, every
/// value well-formed, then the effective values (explicit over `broker`'s defaults) within the broker's
/// bounds, and each session timeout greater than its heartbeat interval. Returns the set with values in
/// Kafka's form.
pub fn validate(
    broker: &BrokerGroupSettings,
    configs: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, GroupConfigError> {
    if let Some(unknown) = configs.keys().find(|k| lookup(k).is_none()) {
        return Err(GroupConfigError::Unknown(unknown.clone()));
    }
    let mut parsed = BTreeMap::new();
    for (key, value) in configs {
        let def = lookup(key).ok_or_else(|| GroupConfigError::Unknown(key.clone()))?;
        parsed.insert(key.clone(), parse_value(def, value)?);
    }
    let int = |def: &GroupConfigDef| -> i32 {
        parsed.get(def.name).and_then(|v| v.parse().ok()).unwrap_or_else(|| broker.int(def.broker_default))
    };
    for def in GROUP_CONFIGS.iter().filter(|d| d.kind == ConfigKind::Int) {
        let value = int(def);
        if let Some(min) = def.broker_min
            && value < broker.int(min)
        {
            let (relation, bound_name, bound) = ("greater than or equal to", min, broker.int(min));
            return Err(GroupConfigError::OutOfBounds { name: def.name, value, relation, bound_name, bound });
        }
        if let Some(max) = def.broker_max
            && value > broker.int(max)
        {
            let (relation, bound_name, bound) = ("less than or equal to", max, broker.int(max));
            return Err(GroupConfigError::OutOfBounds { name: def.name, value, relation, bound_name, bound });
        }
    }
    for (session, heartbeat) in defs::SESSION_HEARTBEAT_PAIRS {
        let (s, h) = (lookup(session), lookup(heartbeat));
        let (Some(s), Some(h)) = (s, h) else { continue };
        let (session_ms, heartbeat_ms) = (int(s), int(h));
        if session_ms <= heartbeat_ms {
            return Err(GroupConfigError::SessionNotAboveHeartbeat {
                session: s.name,
                session_ms,
                heartbeat: h.name,
                heartbeat_ms,
            });
        }
    }
    Ok(parsed)
}

/// Every group config with its effective value for a group whose explicit configs are `configs`, in the
/// table's (alphabetical) order.
pub fn describe(broker: &BrokerGroupSettings, configs: &BTreeMap<String, String>) -> Vec<DescribedGroupConfig> {
    GROUP_CONFIGS
        .iter()
        .map(|def| match configs.get(def.name) {
            Some(v) => DescribedGroupConfig { def, value: v.clone(), explicit: true },
            None => DescribedGroupConfig { def, value: broker.value(def.broker_default), explicit: false },
        })
        .collect()
}

/// A group's effective configuration. A stored value that no longer reads (it was checked when stored, so
/// only a damaged store has one) falls back to the broker's default.
pub fn resolve(broker: &BrokerGroupSettings, configs: &BTreeMap<String, String>) -> GroupSettings {
    let int = |name: &str| -> i32 {
        let Some(def) = lookup(name) else { return 0 };
        configs
            .get(name)
            .and_then(|v| parse_value(def, v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| broker.int(def.broker_default))
    };
    let string = |name: &str| -> String {
        let def = lookup(name);
        let explicit = configs.get(name).filter(|v| def.is_some_and(|d| parse_value(d, v).is_ok()));
        explicit.cloned().unwrap_or_else(|| def.map(|d| broker.value(d.broker_default)).unwrap_or_default())
    };
    let reset = ShareAutoOffsetReset::parse(&string(name::SHARE_AUTO_OFFSET_RESET)).unwrap_or_default();
    let isolation = match string(name::SHARE_ISOLATION_LEVEL).as_str() {
        "read_committed" => IsolationLevel::ReadCommitted,
        _ => IsolationLevel::ReadUncommitted,
    };
    GroupSettings {
        consumer_session_timeout_ms: int(name::CONSUMER_SESSION_TIMEOUT_MS),
        consumer_heartbeat_interval_ms: int(name::CONSUMER_HEARTBEAT_INTERVAL_MS),
        share_session_timeout_ms: int(name::SHARE_SESSION_TIMEOUT_MS),
        share_heartbeat_interval_ms: int(name::SHARE_HEARTBEAT_INTERVAL_MS),
        share_record_lock_duration_ms: int(name::SHARE_RECORD_LOCK_DURATION_MS),
        share_auto_offset_reset: reset,
        share_isolation_level: isolation,
        streams_session_timeout_ms: int(name::STREAMS_SESSION_TIMEOUT_MS),
        streams_heartbeat_interval_ms: int(name::STREAMS_HEARTBEAT_INTERVAL_MS),
        streams_num_standby_replicas: int(name::STREAMS_NUM_STANDBY_REPLICAS),
        streams_initial_rebalance_delay_ms: int(name::STREAMS_INITIAL_REBALANCE_DELAY_MS),
    }
}

#[cfg(test)]
mod tests;
