//! The stored form of a group's coordinator state: a versioned JSON document, Weft's counterpart of the
//! records Kafka keeps in its offsets topic (GroupMetadata for classic groups; ConsumerGroupMetadata,
//! MemberMetadata, TargetAssignment and CurrentMemberAssignment for KIP-848 groups).
//!
//! The document carries a `version`; a build decodes every version up to [`VERSION`] and refuses newer ones
//! (so a rolled-back agent does not silently drop state it cannot read). Byte fields are base64. Samples of
//! each version are checked in (`tests/golden/`) and must keep decoding, so an upgrade never strands state.
//! Only durable facts are stored: no deadlines, no waiters, no pending member ids.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The document version this build writes.
pub const VERSION: u32 = 1;

/// Why a stored document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("group state document version {found} is newer than this build reads ({supported})")]
    TooNew { found: u32, supported: u32 },
    #[error("group state document is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("group state document has a bad topic id {0:?}")]
    BadTopicId(String),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    version: u32,
    #[serde(flatten)]
    group: StoredGroup,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// One group's state, by protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredGroup {
    Classic(ClassicState),
    Consumer(ConsumerState),
}

/// A classic group as Kafka's GroupMetadata record holds it (only Empty or Stable generations are stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicState {
    pub protocol_type: Option<String>,
    pub generation: i32,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    /// "Empty" or "Stable".
    pub state: String,
    pub members: Vec<ClassicMemberState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicMemberState {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// Every protocol the member offered, in its order of preference (Kafka keeps only the chosen one's
    /// subscription; keeping all lets a rejoin with unchanged protocols avoid a rebalance).
    pub protocols: Vec<ProtocolState>,
    #[serde(with = "base64_bytes")]
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolState {
    pub name: String,
    #[serde(with = "base64_bytes")]
    pub metadata: Bytes,
}

/// A KIP-848 group: its epoch, the target assignment and each member's reconciled state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerState {
    pub group_epoch: i32,
    /// "uniform" or "range"; absent until a member names one.
    pub assignor: Option<String>,
    /// The topics of the last target computation.
    pub topics: Vec<TopicState>,
    pub members: Vec<ConsumerMemberState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    pub name: String,
    pub topic_id: String,
    pub partitions: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberState {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    /// The topics the regex subscribed the member to when stored (matched and authorized at its heartbeat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribed_regex_topics: Vec<String>,
    /// What the member was last told it owns.
    pub assigned: Vec<PartitionsState>,
    /// Its target assignment; partitions targeted but not yet assigned are pending (held by another member).
    pub target: Vec<PartitionsState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionsState {
    pub topic_id: String,
    pub partitions: Vec<i32>,
}

/// Encodes a group's state as the current document version.
pub fn encode(group: &StoredGroup) -> String {
    let envelope = Envelope { version: VERSION, group: group.clone() };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// Decodes a stored document of any version this build reads.
pub fn decode(document: &str) -> Result<StoredGroup, DecodeError> {
    let VersionOnly { version } = serde_json::from_str(document)?;
    if version > VERSION {
        return Err(DecodeError::TooNew { found: version, supported: VERSION });
    }
    // Version 1 is the only one so far; a later version converts older documents here.
    let envelope: Envelope = serde_json::from_str(document)?;
    Ok(envelope.group)
}

/// Partitions grouped by topic, in a stable order.
pub fn partitions_state(set: &std::collections::BTreeSet<crate::consumer::Tp>) -> Vec<PartitionsState> {
    let mut by_topic: std::collections::BTreeMap<uuid::Uuid, Vec<i32>> = std::collections::BTreeMap::new();
    for (t, p) in set {
        by_topic.entry(*t).or_default().push(*p);
    }
    by_topic.into_iter().map(|(t, partitions)| PartitionsState { topic_id: t.to_string(), partitions }).collect()
}

/// The set of partitions a stored list names.
pub fn partitions_set(
    stored: &[PartitionsState],
) -> Result<std::collections::BTreeSet<crate::consumer::Tp>, DecodeError> {
    let mut out = std::collections::BTreeSet::new();
    for t in stored {
        let id = parse_topic_id(&t.topic_id)?;
        out.extend(t.partitions.iter().map(|p| (id, *p)));
    }
    Ok(out)
}

pub fn parse_topic_id(s: &str) -> Result<uuid::Uuid, DecodeError> {
    uuid::Uuid::parse_str(s).map_err(|_| DecodeError::BadTopicId(s.to_string()))
}

mod base64_bytes {
    use super::{Bytes, Engine, STANDARD};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map(Bytes::from).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic() -> StoredGroup {
        StoredGroup::Classic(ClassicState {
            protocol_type: Some("consumer".into()),
            generation: 7,
            protocol_name: Some("range".into()),
            leader: Some("m1".into()),
            state: "Stable".into(),
            members: vec![ClassicMemberState {
                member_id: "m1".into(),
                group_instance_id: Some("pod-0".into()),
                client_id: "client".into(),
                client_host: "/127.0.0.1".into(),
                session_timeout_ms: 45_000,
                rebalance_timeout_ms: 300_000,
                protocols: vec![ProtocolState { name: "range".into(), metadata: Bytes::from_static(&[0, 3, 0xff]) }],
                assignment: Bytes::from_static(b"\x00\x01assigned"),
            }],
        })
    }

    fn consumer() -> StoredGroup {
        let topic = "00000000-0000-0000-0000-000000000007".to_string();
        StoredGroup::Consumer(ConsumerState {
            group_epoch: 4,
            assignor: Some("uniform".into()),
            topics: vec![TopicState { name: "t".into(), topic_id: topic.clone(), partitions: 3 }],
            members: vec![ConsumerMemberState {
                member_id: "c1".into(),
                instance_id: None,
                client_id: "client".into(),
                client_host: "/127.0.0.1".into(),
                member_epoch: 4,
                previous_member_epoch: 3,
                subscribed_topic_names: vec!["t".into()],
                subscribed_topic_regex: None,
                subscribed_regex_topics: Vec::new(),
                assigned: vec![PartitionsState { topic_id: topic.clone(), partitions: vec![0, 1] }],
                target: vec![PartitionsState { topic_id: topic, partitions: vec![0, 1, 2] }],
            }],
        })
    }

    /// Each checked-in sample decodes to its group, and this build still writes it byte for byte (a format
    /// change needs a new version and a new sample, with the old samples kept).
    #[test]
    fn golden_documents_still_decode() {
        for (name, group) in [("classic-v1", classic()), ("consumer-v1", consumer())] {
            let path = format!("{}/tests/golden/group-state-{name}.json", env!("CARGO_MANIFEST_DIR"));
            if std::env::var_os("WEFT_BLESS").is_some() {
                std::fs::write(&path, encode(&group) + "\n").unwrap();
            }
            let sample = std::fs::read_to_string(&path).expect("golden sample (run with WEFT_BLESS=1 to create)");
            assert_eq!(decode(sample.trim_end()).unwrap(), group, "{name} decodes");
            assert_eq!(encode(&group), sample.trim_end(), "{name}: the format changed; add a version");
        }
    }

    #[test]
    fn newer_or_malformed_documents_are_refused() {
        let newer = encode(&classic()).replacen("\"version\":1", "\"version\":2", 1);
        assert!(matches!(decode(&newer), Err(DecodeError::TooNew { found: 2, supported: 1 })));
        assert!(matches!(decode("{\"version\":1,\"kind\":\"other\"}"), Err(DecodeError::Malformed(_))));
        assert!(matches!(decode("not json"), Err(DecodeError::Malformed(_))));
    }
}
