//! Topic configuration: Kafka's topic configs with their defaults, types, validation, and the broker-level
//! synonym each one inherits from. DescribeConfigs, CreateTopics and the produce path all read this table.

pub use crate::schema_rules::{SCHEMA_VALIDATION_DEEP, SUBJECT_NAME_STRATEGIES, TOPIC_NAME_STRATEGY};
use std::collections::BTreeMap;

/// Kafka's DescribeConfigs config types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// Kafka's DescribeConfigs config sources.
pub mod source {
    pub const TOPIC: i8 = 1;
    pub const DYNAMIC_DEFAULT_BROKER: i8 = 3;
    pub const STATIC_BROKER: i8 = 4;
    pub const DEFAULT: i8 = 5;
}

/// One topic config.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    /// The broker config this topic config falls back to.
    pub synonym: &'static str,
    /// Allowed values for enumerations (empty: any value of the type).
    pub allowed: &'static [&'static str],
    /// Inclusive lower bound for numbers.
    pub min: Option<f64>,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    default: &'static str,
    kind: ConfigType,
    synonym: &'static str,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef { name, default, kind, synonym, allowed: &[], min: None, doc }
}

const LONG_MAX: &str = "9223372036854775807";
use ConfigType::{Boolean, Double, Int, List, Long};

/// Kafka 4.x topic configs and their defaults.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        allowed: &["delete", "compact"],
        ..def("cleanup.policy", "delete", List, "log.cleanup.policy", "Retention policy: delete, compact, or both.")
    },
    TopicConfigDef {
        allowed: &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
        ..def(
            "compression.type",
            "producer",
            ConfigType::String,
            "compression.type",
            "Final compression type of the topic.",
        )
    },
    TopicConfigDef {
        min: Some(-1.0),
        ..def("compression.gzip.level", "-1", Int, "compression.gzip.level", "Gzip level.")
    },
    TopicConfigDef { min: Some(1.0), ..def("compression.lz4.level", "9", Int, "compression.lz4.level", "LZ4 level.") },
    TopicConfigDef {
        min: Some(-131072.0),
        ..def("compression.zstd.level", "3", Int, "compression.zstd.level", "Zstd level.")
    },
    def(
        "confluent.key.schema.validation",
        "false",
        Boolean,
        "confluent.key.schema.validation",
        "Refuse records whose key does not carry a schema id registered for the key subject (Confluent's).",
    ),
    TopicConfigDef {
        allowed: SUBJECT_NAME_STRATEGIES,
        ..def(
            "confluent.key.subject.name.strategy",
            TOPIC_NAME_STRATEGY,
            ConfigType::String,
            "confluent.key.subject.name.strategy",
            "How the key subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy.",
        )
    },
    def(
        "confluent.value.schema.validation",
        "false",
        Boolean,
        "confluent.value.schema.validation",
        "Refuse records whose value does not carry a schema id registered for the value subject (Confluent's).",
    ),
    TopicConfigDef {
        allowed: SUBJECT_NAME_STRATEGIES,
        ..def(
            "confluent.value.subject.name.strategy",
            TOPIC_NAME_STRATEGY,
            ConfigType::String,
            "confluent.value.subject.name.strategy",
            "How the value subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "delete.retention.ms",
            "86400000",
            Long,
            "log.cleaner.delete.retention.ms",
            "How long tombstones are retained on compacted topics.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "file.delete.delay.ms",
            "60000",
            Long,
            "log.segment.delete.delay.ms",
            "Grace period before deleting unreferenced data.",
        )
    },
    TopicConfigDef {
        min: Some(1.0),
        ..def(
            "flush.messages",
            LONG_MAX,
            Long,
            "log.flush.interval.messages",
            "Accepted for compatibility; every acked write is durable.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "flush.ms",
            LONG_MAX,
            Long,
            "log.flush.interval.ms",
            "Accepted for compatibility; every acked write is durable.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def("index.interval.bytes", "4096", Int, "log.index.interval.bytes", "Accepted for compatibility.")
    },
    TopicConfigDef {
        min: Some(-2.0),
        ..def(
            "local.retention.bytes",
            "-2",
            Long,
            "log.local.retention.bytes",
            "Tiered storage local retention (not applicable).",
        )
    },
    TopicConfigDef {
        min: Some(-2.0),
        ..def(
            "local.retention.ms",
            "-2",
            Long,
            "log.local.retention.ms",
            "Tiered storage local retention (not applicable).",
        )
    },
    TopicConfigDef {
        min: Some(1.0),
        ..def(
            "max.compaction.lag.ms",
            LONG_MAX,
            Long,
            "log.cleaner.max.compaction.lag.ms",
            "Maximum time a message stays uncompacted.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def("max.message.bytes", "1048588", Int, "message.max.bytes", "Largest record batch size allowed.")
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "message.timestamp.after.max.ms",
            "3600000",
            Long,
            "log.message.timestamp.after.max.ms",
            "How far in the future a CreateTime timestamp may be.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "message.timestamp.before.max.ms",
            LONG_MAX,
            Long,
            "log.message.timestamp.before.max.ms",
            "How far in the past a CreateTime timestamp may be.",
        )
    },
    TopicConfigDef {
        allowed: &["CreateTime", "LogAppendTime"],
        ..def(
            "message.timestamp.type",
            "CreateTime",
            ConfigType::String,
            "log.message.timestamp.type",
            "CreateTime or LogAppendTime.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "min.cleanable.dirty.ratio",
            "0.5",
            Double,
            "log.cleaner.min.cleanable.ratio",
            "Dirty ratio that triggers compaction.",
        )
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            "min.compaction.lag.ms",
            "0",
            Long,
            "log.cleaner.min.compaction.lag.ms",
            "Minimum time a message stays uncompacted.",
        )
    },
    TopicConfigDef {
        min: Some(1.0),
        ..def(
            "min.insync.replicas",
            "1",
            Int,
            "min.insync.replicas",
            "Accepted for compatibility; object storage replicates.",
        )
    },
    def("preallocate", "false", Boolean, "log.preallocate", "Accepted for compatibility."),
    def(
        "remote.storage.enable",
        "false",
        Boolean,
        "remote.log.storage.system.enable",
        "Tiered storage (every topic already lives in object storage).",
    ),
    TopicConfigDef {
        min: Some(-1.0),
        ..def(
            "retention.bytes",
            "-1",
            Long,
            "log.retention.bytes",
            "Maximum partition size before old data is deleted.",
        )
    },
    TopicConfigDef {
        min: Some(-1.0),
        ..def("retention.ms", "604800000", Long, "log.retention.ms", "Maximum age of data before it is deleted.")
    },
    TopicConfigDef {
        min: Some(14.0),
        ..def("segment.bytes", "1073741824", Int, "log.segment.bytes", "Accepted for compatibility.")
    },
    TopicConfigDef {
        min: Some(4.0),
        ..def("segment.index.bytes", "10485760", Int, "log.index.size.max.bytes", "Accepted for compatibility.")
    },
    TopicConfigDef {
        min: Some(0.0),
        ..def("segment.jitter.ms", "0", Long, "log.roll.jitter.ms", "Accepted for compatibility.")
    },
    TopicConfigDef {
        min: Some(1.0),
        ..def("segment.ms", "604800000", Long, "log.roll.ms", "Accepted for compatibility.")
    },
    def(
        "unclean.leader.election.enable",
        "false",
        Boolean,
        "unclean.leader.election.enable",
        "Accepted for compatibility.",
    ),
    def(
        SCHEMA_VALIDATION_DEEP,
        "false",
        Boolean,
        SCHEMA_VALIDATION_DEEP,
        "With schema validation on, also check that each payload decodes with its schema (Weft's).",
    ),
];

/// Topic configs Kafka 3.x accepted and Kafka 4 removed. Tools written for 3.x still send them. A 3.x broker
/// ignored `message.format.version` (record format 2 is forced from inter-broker protocol 3.0 on) and
/// `message.downconversion.enable` only governs down-conversion for Fetch v0-3, which Weft does not serve
/// (both KIP-724); so, as 3.x does, they are checked, logged and ignored, not stored.
/// `message.timestamp.difference.max.ms` (KIP-937) still had an effect in 3.x: it bounded timestamps both ways
/// wherever `message.timestamp.before.max.ms` / `after.max.ms` were not set; it is translated into those.
pub const REMOVED_IN_KAFKA_4: &[TopicConfigDef] = &[
    def(
        "message.format.version",
        "3.0-IV1",
        ConfigType::String,
        "log.message.format.version",
        "Removed in Kafka 4 (KIP-724); accepted and ignored.",
    ),
    def(
        "message.downconversion.enable",
        "true",
        Boolean,
        "log.message.downconversion.enable",
        "Removed in Kafka 4 (KIP-724); accepted and ignored.",
    ),
    TopicConfigDef {
        min: Some(0.0),
        ..def(
            TIMESTAMP_DIFFERENCE,
            LONG_MAX,
            Long,
            "log.message.timestamp.difference.max.ms",
            "Removed in Kafka 4 (KIP-937); sets message.timestamp.before.max.ms and after.max.ms where unset.",
        )
    },
];

pub const TIMESTAMP_DIFFERENCE: &str = "message.timestamp.difference.max.ms";

/// Kafka 3.x's reading of `message.timestamp.difference.max.ms = value`: the before/after bounds that the
/// topic does not set itself take its value.
pub fn apply_timestamp_difference(topic: &str, configs: &mut BTreeMap<String, String>, value: &str) {
    for key in ["message.timestamp.before.max.ms", "message.timestamp.after.max.ms"] {
        if !configs.contains_key(key) {
            configs.insert(key.to_string(), value.to_string());
            tracing::info!(topic, config = key, value, "set from {TIMESTAMP_DIFFERENCE}, as kafka 3.x reads it");
        }
    }
}

/// The removed config `name`, if it is one (see [`REMOVED_IN_KAFKA_4`]).
pub fn removed(name: &str) -> Option<&'static TopicConfigDef> {
    REMOVED_IN_KAFKA_4.iter().find(|d| d.name == name)
}

/// Checks the value of a removed config as Kafka 3.x did (a boolean, or a Kafka version such as `2.1`,
/// `0.10.2-IV0` or `3.0-IV1`), then logs that it is ignored. `value` is `None` for a deletion.
pub fn ignore_removed(topic: &str, def: &TopicConfigDef, value: Option<&str>) -> Result<(), ConfigError> {
    if let Some(v) = value {
        def.validate(v)?;
        if def.kind == ConfigType::String && !is_kafka_version(v) {
            let reason = "expected a kafka version such as 2.1 or 3.0-IV1".to_string();
            return Err(ConfigError::Invalid { name: def.name.into(), value: v.into(), reason });
        }
    }
    if def.name != TIMESTAMP_DIFFERENCE {
        tracing::warn!(topic, config = def.name, value, "topic config removed in kafka 4 is accepted and ignored");
    }
    Ok(())
}

/// Takes the removed configs out of a new topic's `configs`, checking and logging each (and translating
/// `message.timestamp.difference.max.ms`).
pub fn drop_removed(topic: &str, configs: &mut BTreeMap<String, String>) -> Result<(), ConfigError> {
    for def in REMOVED_IN_KAFKA_4 {
        if let Some(v) = configs.remove(def.name) {
            ignore_removed(topic, def, Some(&v))?;
            if def.name == TIMESTAMP_DIFFERENCE {
                apply_timestamp_difference(topic, configs, &v);
            }
        }
    }
    Ok(())
}

/// The shape of Kafka's version strings as Kafka 3.x's `MetadataVersion.fromVersionString` reads them: the
/// first three dot-separated segments of a `0.x` version, the first two otherwise (later segments, e.g. the
/// patch of `2.1.1`, are ignored), each numeric, the last one optionally followed by `-IVn`. (Kafka also
/// refuses versions it does not know; Weft ignores the value anyway, so any well-formed one is accepted.)
fn is_kafka_version(v: &str) -> bool {
    let keep = if v.starts_with("0.") { 3 } else { 2 };
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() < keep {
        return false;
    }
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let (last, iv) = parts[keep - 1].split_once("-IV").map_or((parts[keep - 1], None), |(r, iv)| (r, Some(iv)));
    parts[..keep - 1].iter().all(|p| numeric(p)) && numeric(last) && iv.is_none_or(numeric)
}

pub fn lookup(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The topic config whose cluster-wide default is the broker config `broker_name` (e.g. `log.retention.ms`).
/// These are the broker configs that can be changed at runtime, as cluster defaults.
pub fn by_synonym(broker_name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.synonym == broker_name)
}

/// Validates a set of cluster-wide dynamic broker configs.
pub fn validate_cluster(configs: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (name, value) in configs {
        let def = by_synonym(name).ok_or_else(|| ConfigError::NotDynamic(name.clone()))?;
        def.validate(value).map_err(|e| match e {
            ConfigError::Invalid { value, reason, .. } => ConfigError::Invalid { name: name.clone(), value, reason },
            other => other,
        })?;
    }
    Ok(())
}

/// Why a topic config was refused; the message names the key, as Kafka's does.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown topic config name: {0}")]
    Unknown(String),
    #[error("cannot update broker config {0} dynamically (only the cluster defaults of topic configs can be)")]
    NotDynamic(String),
    #[error("invalid value {value} for configuration {name}: {reason}")]
    Invalid { name: String, value: String, reason: String },
}

impl TopicConfigDef {
    /// Checks one value against the type, enumeration and bound of this config.
    pub fn validate(&self, value: &str) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { name: self.name.into(), value: value.into(), reason };
        let number = match self.kind {
            Boolean => {
                return match value.to_ascii_lowercase().as_str() {
                    "true" | "false" => Ok(()),
                    _ => Err(invalid("expected true or false".into())),
                };
            }
            Int => {
                value.trim().parse::<i32>().map(f64::from).map_err(|_| invalid("expected a 32-bit integer".into()))?
            }
            Long => value
                .trim()
                .parse::<i64>()
                .map(|v| v as f64)
                .map_err(|_| invalid("expected a 64-bit integer".into()))?,
            Double => value.trim().parse::<f64>().map_err(|_| invalid("expected a number".into()))?,
            ConfigType::String => {
                if !self.allowed.is_empty() && !self.allowed.contains(&value) {
                    return Err(invalid(format!("string must be one of: {}", self.allowed.join(", "))));
                }
                return Ok(());
            }
            List => {
                let items: Vec<&str> = value.split(',').map(str::trim).collect();
                if let Some(bad) = items.iter().find(|i| !self.allowed.is_empty() && !self.allowed.contains(i)) {
                    return Err(invalid(format!("{bad:?} is not one of: {}", self.allowed.join(", "))));
                }
                return Ok(());
            }
        };
        if let Some(min) = self.min
            && number < min
        {
            return Err(invalid(format!("value must be at least {min}")));
        }
        if self.name == "min.cleanable.dirty.ratio" && number > 1.0 {
            return Err(invalid("value must be at most 1".into()));
        }
        Ok(())
    }
}

/// Validates a set of explicit topic configs.
pub fn validate_all(configs: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (name, value) in configs {
        lookup(name).ok_or_else(|| ConfigError::Unknown(name.clone()))?.validate(value)?;
    }
    Ok(())
}

/// The effective value of topic config `name` and its source: the topic's own value, else the cluster-wide
/// dynamic default (keyed by the broker synonym), else Kafka's default.
pub fn effective<'a>(
    configs: &'a BTreeMap<String, String>,
    cluster: &'a BTreeMap<String, String>,
    name: &str,
) -> Option<(&'a str, i8)> {
    if let Some(v) = configs.get(name) {
        return Some((v.as_str(), source::TOPIC));
    }
    let def = lookup(name)?;
    match cluster.get(def.synonym) {
        Some(v) => Some((v.as_str(), source::DYNAMIC_DEFAULT_BROKER)),
        None => Some((def.default, source::DEFAULT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_types_enums_and_bounds() {
        let ok = |n: &str, v: &str| lookup(n).unwrap().validate(v);
        assert!(ok("retention.ms", "1000").is_ok());
        assert!(ok("retention.ms", "-1").is_ok());
        assert!(ok("retention.ms", "-5").is_err());
        assert!(ok("retention.ms", "soon").is_err());
        assert!(ok("cleanup.policy", "compact,delete").is_ok());
        assert!(ok("cleanup.policy", "shred").is_err());
        assert!(ok("message.timestamp.type", "LogAppendTime").is_ok());
        assert!(ok("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(ok("preallocate", "yes").is_err());
        let mut unknown = BTreeMap::new();
        unknown.insert("no.such.config".to_string(), "1".to_string());
        assert_eq!(validate_all(&unknown), Err(ConfigError::Unknown("no.such.config".into())));
    }

    #[test]
    fn effective_values_fall_back_to_cluster_then_kafka_defaults() {
        let mut topic = BTreeMap::new();
        let mut cluster = BTreeMap::new();
        assert_eq!(effective(&topic, &cluster, "retention.ms"), Some(("604800000", source::DEFAULT)));
        cluster.insert("log.retention.ms".to_string(), "5000".to_string());
        assert_eq!(effective(&topic, &cluster, "retention.ms"), Some(("5000", source::DYNAMIC_DEFAULT_BROKER)));
        topic.insert("retention.ms".to_string(), "7".to_string());
        assert_eq!(effective(&topic, &cluster, "retention.ms"), Some(("7", source::TOPIC)));
        assert_eq!(effective(&topic, &cluster, "no.such"), None);
        assert!(validate_cluster(&cluster).is_ok());
        cluster.insert("log.retention.ms".to_string(), "-9".to_string());
        assert!(
            matches!(validate_cluster(&cluster), Err(ConfigError::Invalid { name, .. }) if name == "log.retention.ms")
        );
        let mut not_dynamic = BTreeMap::new();
        not_dynamic.insert("listeners".to_string(), "x".to_string());
        assert_eq!(validate_cluster(&not_dynamic), Err(ConfigError::NotDynamic("listeners".into())));
    }

    #[test]
    fn configs_removed_in_kafka_4_are_checked_then_dropped() {
        let mut configs = BTreeMap::new();
        configs.insert("message.format.version".to_string(), "2.1-IV2".to_string());
        configs.insert("message.downconversion.enable".to_string(), "false".to_string());
        configs.insert("retention.ms".to_string(), "1000".to_string());
        assert_eq!(drop_removed("t", &mut configs), Ok(()));
        assert_eq!(configs.keys().collect::<Vec<_>>(), ["retention.ms"]);
        for (name, bad) in [("message.format.version", "latest"), ("message.downconversion.enable", "maybe")] {
            let mut configs = BTreeMap::from([(name.to_string(), bad.to_string())]);
            assert!(matches!(drop_removed("t", &mut configs), Err(ConfigError::Invalid { .. })), "{name}={bad}");
        }
        assert!(is_kafka_version("0.10.2") && is_kafka_version("3.0-IV1") && is_kafka_version("2.1"));
        assert!(
            !is_kafka_version("3")
                && !is_kafka_version("3.x")
                && !is_kafka_version("3.0-IV")
                && !is_kafka_version("0.10")
        );
        assert!(is_kafka_version("0.10.2.1") && is_kafka_version("2.1.1"), "later segments are ignored, as Kafka does");
        assert!(lookup("message.format.version").is_none(), "a removed config is not a live one");
    }

    #[test]
    fn timestamp_difference_sets_the_bounds_the_topic_leaves_unset() {
        let mut configs = BTreeMap::from([
            ("message.timestamp.difference.max.ms".to_string(), "60000".to_string()),
            ("message.timestamp.after.max.ms".to_string(), "1000".to_string()),
        ]);
        assert_eq!(drop_removed("t", &mut configs), Ok(()));
        assert_eq!(
            configs,
            BTreeMap::from([
                ("message.timestamp.after.max.ms".to_string(), "1000".to_string()),
                ("message.timestamp.before.max.ms".to_string(), "60000".to_string()),
            ])
        );
        let mut bad = BTreeMap::from([("message.timestamp.difference.max.ms".to_string(), "-1".to_string())]);
        assert!(drop_removed("t", &mut bad).is_err());
    }

    #[test]
    fn every_default_is_valid() {
        for d in TOPIC_CONFIGS {
            assert!(d.validate(d.default).is_ok(), "{} default {}", d.name, d.default);
        }
    }
}
