//! What an administrative change changed, as the audit line's `change` object: one kind per admin API
//! (topic created, configs altered, ACL created ...), with the values that matter and never a secret.
//! Config values whose name marks them secret (passwords, JAAS configs, keys, tokens) are left out and
//! flagged `redacted`, whether or not the config exists, because a refused request can carry one too.

use serde::Serialize;

/// The change one audit line records, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// CreateTopics: partitions and replication factor as asked (-1: the broker's default), and configs.
    CreateTopic { partitions: i32, replication_factor: i16, configs: Vec<ConfigChange> },
    /// DeleteTopics; `topic_id` when the request named the topic by id.
    DeleteTopic {
        #[serde(skip_serializing_if = "Option::is_none")]
        topic_id: Option<String>,
    },
    /// CreatePartitions: the new partition count.
    CreatePartitions { count: i32 },
    /// AlterConfigs (`incremental: false`, the whole set replaced) or IncrementalAlterConfigs.
    AlterConfigs { incremental: bool, configs: Vec<ConfigChange> },
    /// DeleteRecords: records of `partition` before `offset` (-1: the high watermark) deleted.
    DeleteRecords { partition: i32, offset: i64 },
    /// CreateAcls or DeleteAcls: one binding (the resource is the line's resource).
    Acl { pattern_type: String, principal: String, host: String, operation: String, permission: String },
    /// DeleteAcls: a filter that deleted nothing or failed (`ANY` fields shown as null).
    AclFilter {
        resource_type: String,
        resource_name: Option<String>,
        pattern_type: String,
        principal: Option<String>,
        host: Option<String>,
        operation: String,
        permission: String,
    },
    /// AlterUserScramCredentials: a credential set (`upsert`, with its iterations) or deleted; never the
    /// salt or salted password.
    ScramCredential {
        mechanism: String,
        operation: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        iterations: Option<i32>,
    },
    /// AlterClientQuotas: the entity (Kafka's entity types, a null name for the default) and the quotas
    /// set or removed.
    ClientQuota { entity: Vec<QuotaEntity>, quotas: Vec<QuotaChange> },
    /// DeleteGroups: the group and its committed offsets.
    DeleteGroup,
    /// OffsetDelete: the group's committed offset of one partition.
    DeleteOffset { topic: String, partition: i32 },
    /// AlterShareGroupOffsets: the share-partition start offset of one partition set.
    AlterShareOffset { topic: String, partition: i32, start_offset: i64 },
    /// DeleteShareGroupOffsets: the share-group state of every partition of a topic.
    DeleteShareOffsets { topic: String },
}

/// One config of a change: `operation` is `set`, `delete`, `append` or `subtract`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    pub name: String,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The value was left out because the name marks a secret.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl ConfigChange {
    /// A change of `name`, its value kept only if the name does not mark a secret.
    pub fn new(name: &str, operation: &str, value: Option<&str>) -> Self {
        let redacted = value.is_some() && is_secret(name);
        ConfigChange {
            name: name.to_string(),
            operation: operation.to_string(),
            value: if redacted { None } else { value.map(str::to_string) },
            redacted,
        }
    }
}

/// One component of a client quota entity (`user`, `client-id`, `ip`); `name` null is the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaEntity {
    pub entity_type: String,
    pub name: Option<String>,
}

/// One quota of a change: `value` set, or removed (`remove: true`, no value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaChange {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
}

/// Whether a config named `name` holds a secret: Kafka's PASSWORD-typed configs and their kin
/// (`ssl.key.password`, `sasl.jaas.config`, `*.secret`, `ssl.keystore.key`, tokens, credentials).
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    const MARKS: [&str; 6] = ["password", "secret", "jaas", "token", "credential", "private"];
    MARKS.iter().any(|m| name.contains(m)) || name.ends_with(".key") || name.ends_with("keystore.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_by_name() {
        for secret in [
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "sasl.jaas.config",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config",
            "password.encoder.secret",
            "ssl.keystore.key",
            "sasl.oauthbearer.token.endpoint.url.token",
            "SSL.KEY.PASSWORD",
        ] {
            assert!(is_secret(secret), "{secret}");
        }
        for plain in ["retention.ms", "cleanup.policy", "ssl.keystore.location", "min.insync.replicas", "keys"] {
            assert!(!is_secret(plain), "{plain}");
        }
    }

    #[test]
    fn a_secret_value_is_left_out() {
        let c = ConfigChange::new("sasl.jaas.config", "set", Some("org.apache...password=\"hunter2\";"));
        assert_eq!((c.value, c.redacted), (None, true));
        let c = ConfigChange::new("retention.ms", "set", Some("1000"));
        assert_eq!((c.value.as_deref(), c.redacted), (Some("1000"), false));
        let c = ConfigChange::new("ssl.key.password", "delete", None);
        assert!(!c.redacted, "nothing to hide when no value is given");
    }
}
