//! The schema validation a topic asks for: Confluent's `confluent.key.schema.validation` /
//! `confluent.value.schema.validation` with their subject name strategies, and Weft's deep validation. Parsed
//! once per topic cache entry, so the produce path pays one branch on topics that leave validation off.

/// Confluent's default subject name strategy: the subject is `<topic>-key` / `<topic>-value`.
pub const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
/// The subject name strategies Confluent's serializers and brokers know, by class name and by short name.
pub const SUBJECT_NAME_STRATEGIES: &[&str] = &[
    TOPIC_NAME_STRATEGY,
    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
    "TopicNameStrategy",
    "RecordNameStrategy",
    "TopicRecordNameStrategy",
];
/// Weft's own: deep validation of payloads on topics with schema validation on.
pub const SCHEMA_VALIDATION_DEEP: &str = "weft.schema.validation.deep";

/// Which part of a record a rule checks; names the subject suffix of the topic name strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub fn as_str(&self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

/// How the subject of a record's schema is named, as Confluent's serializers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectStrategy {
    /// `<topic>-key` / `<topic>-value`.
    Topic,
    /// The schema's record name (Avro full name, Protobuf message full name, JSON title).
    Record,
    /// `<topic>-<record name>`.
    TopicRecord,
}

impl SubjectStrategy {
    /// A config value (class name or short name; the config's validation admits no others).
    pub fn parse(value: &str) -> SubjectStrategy {
        match value.rsplit('.').next().unwrap_or(value) {
            "RecordNameStrategy" => SubjectStrategy::Record,
            "TopicRecordNameStrategy" => SubjectStrategy::TopicRecord,
            _ => SubjectStrategy::Topic,
        }
    }

    /// The subject a record's schema is registered under; `record_name` is needed by the record strategies.
    pub fn subject(&self, topic: &str, side: Side, record_name: Option<&str>) -> Option<String> {
        match self {
            SubjectStrategy::Topic => Some(format!("{topic}-{}", side.as_str())),
            SubjectStrategy::Record => record_name.map(str::to_string),
            SubjectStrategy::TopicRecord => record_name.map(|name| format!("{topic}-{name}")),
        }
    }
}

/// The checks a topic's records get before they are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaValidation {
    pub key: Option<SubjectStrategy>,
    pub value: Option<SubjectStrategy>,
    /// Also decode each payload with its schema.
    pub deep: bool,
}

impl SchemaValidation {
    /// The rules of a topic from its effective configs; `None` when neither side is validated.
    pub fn from_configs<'a>(effective: impl Fn(&str) -> Option<&'a str>) -> Option<SchemaValidation> {
        let on = |name: &str| effective(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let strategy = |name: &str| SubjectStrategy::parse(effective(name).unwrap_or(TOPIC_NAME_STRATEGY));
        let key = on("confluent.key.schema.validation").then(|| strategy("confluent.key.subject.name.strategy"));
        let value = on("confluent.value.schema.validation").then(|| strategy("confluent.value.subject.name.strategy"));
        if key.is_none() && value.is_none() {
            return None;
        }
        Some(SchemaValidation { key, value, deep: on(SCHEMA_VALIDATION_DEEP) })
    }

    /// The sides to check with their strategies.
    pub fn sides(&self) -> impl Iterator<Item = (Side, SubjectStrategy)> {
        [(Side::Key, self.key), (Side::Value, self.value)].into_iter().filter_map(|(side, s)| s.map(|s| (side, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use std::collections::BTreeMap;

    fn rules(pairs: &[(&str, &str)]) -> Option<SchemaValidation> {
        let configs: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let cluster = BTreeMap::new();
        SchemaValidation::from_configs(|name| config::effective(&configs, &cluster, name).map(|(v, _)| v))
    }

    #[test]
    fn off_unless_a_side_is_on() {
        assert_eq!(rules(&[]), None);
        assert_eq!(rules(&[("weft.schema.validation.deep", "true")]), None);
        let value = rules(&[("confluent.value.schema.validation", "true")]).unwrap();
        assert_eq!((value.key, value.value, value.deep), (None, Some(SubjectStrategy::Topic), false));
    }

    #[test]
    fn strategies_by_class_or_short_name() {
        let r = rules(&[
            ("confluent.key.schema.validation", "TRUE"),
            ("confluent.key.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"),
            ("confluent.value.schema.validation", "true"),
            ("confluent.value.subject.name.strategy", "TopicRecordNameStrategy"),
            ("weft.schema.validation.deep", "true"),
        ])
        .unwrap();
        assert_eq!(r.key, Some(SubjectStrategy::Record));
        assert_eq!(r.value, Some(SubjectStrategy::TopicRecord));
        assert!(r.deep);
        assert_eq!(r.sides().count(), 2);
    }

    #[test]
    fn subjects_follow_confluent_naming() {
        assert_eq!(SubjectStrategy::Topic.subject("t", Side::Value, None).as_deref(), Some("t-value"));
        assert_eq!(SubjectStrategy::Topic.subject("t", Side::Key, Some("x.Y")).as_deref(), Some("t-key"));
        assert_eq!(SubjectStrategy::Record.subject("t", Side::Value, Some("x.Y")).as_deref(), Some("x.Y"));
        assert_eq!(SubjectStrategy::TopicRecord.subject("t", Side::Key, Some("x.Y")).as_deref(), Some("t-x.Y"));
        assert_eq!(SubjectStrategy::Record.subject("t", Side::Key, None), None);
    }
}
