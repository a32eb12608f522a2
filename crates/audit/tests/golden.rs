//! The audit line format is a contract with whoever reads the file: every event kind and every change
//! kind rendered at a fixed time must match `golden/v<SCHEMA_VERSION>.jsonl` byte for byte. A deliberate
//! change within a version (a new field) is blessed with `WEFT_BLESS=1`; a breaking one takes a new
//! version and a new file beside the old.

use weft_audit::{AuditEvent, Change, ConfigChange, Outcome, QuotaChange, QuotaEntity, SCHEMA_VERSION};

fn admin(api: &str, resource_type: &str, name: &str, change: Change, error: Option<&str>) -> AuditEvent {
    AuditEvent::Admin {
        principal: "User:admin".into(),
        client: "10.0.0.7:51234".into(),
        client_id: "adminclient-1".into(),
        listener: "SASL_SSL".into(),
        api: api.into(),
        resource_type: resource_type.into(),
        resource_name: name.into(),
        validate_only: false,
        change,
        outcome: if error.is_some() { Outcome::Failure } else { Outcome::Success },
        error: error.map(str::to_string),
    }
}

fn samples() -> Vec<AuditEvent> {
    let acl = || Change::Acl {
        pattern_type: "LITERAL".into(),
        principal: "User:bob".into(),
        host: "*".into(),
        operation: "READ".into(),
        permission: "ALLOW".into(),
    };
    let mut validate = admin("CreatePartitions", "TOPIC", "orders", Change::CreatePartitions { count: 12 }, None);
    if let AuditEvent::Admin { validate_only, .. } = &mut validate {
        *validate_only = true;
    }
    vec![
        AuditEvent::Authentication {
            principal: "User:alice".into(),
            client: "10.0.0.7:51234".into(),
            listener: "SASL_SSL".into(),
            mechanism: "SCRAM-SHA-512".into(),
            outcome: Outcome::Success,
            reason: None,
        },
        AuditEvent::Authentication {
            principal: "unknown".into(),
            client: "10.0.0.7:51235".into(),
            listener: "SASL_PLAINTEXT".into(),
            mechanism: "PLAIN".into(),
            outcome: Outcome::Failure,
            reason: Some("invalid credentials".into()),
        },
        AuditEvent::Denied {
            principal: "User:bob".into(),
            client: "10.0.0.8:40000".into(),
            client_id: "rdkafka".into(),
            listener: "SASL_SSL".into(),
            operation: "WRITE".into(),
            resource_type: "TOPIC".into(),
            resource_name: "payments".into(),
        },
        admin(
            "CreateTopics",
            "TOPIC",
            "orders",
            Change::CreateTopic {
                partitions: 6,
                replication_factor: -1,
                configs: vec![ConfigChange::new("retention.ms", "set", Some("86400000"))],
            },
            None,
        ),
        admin(
            "DeleteTopics",
            "TOPIC",
            "old",
            Change::DeleteTopic { topic_id: None },
            Some("TOPIC_AUTHORIZATION_FAILED"),
        ),
        validate,
        admin(
            "IncrementalAlterConfigs",
            "BROKER",
            "",
            Change::AlterConfigs {
                incremental: true,
                configs: vec![
                    ConfigChange::new("log.retention.ms", "set", Some("1000")),
                    ConfigChange::new("sasl.jaas.config", "set", Some("secret")),
                    ConfigChange::new("cleanup.policy", "delete", None),
                ],
            },
            None,
        ),
        admin("DeleteRecords", "TOPIC", "orders", Change::DeleteRecords { partition: 3, offset: -1 }, None),
        admin("CreateAcls", "TOPIC", "orders", acl(), None),
        admin("DeleteAcls", "TOPIC", "orders", acl(), None),
        admin(
            "DeleteAcls",
            "ANY",
            "",
            Change::AclFilter {
                resource_type: "ANY".into(),
                resource_name: None,
                pattern_type: "ANY".into(),
                principal: Some("User:gone".into()),
                host: None,
                operation: "ANY".into(),
                permission: "ANY".into(),
            },
            None,
        ),
        admin(
            "AlterUserScramCredentials",
            "USER",
            "alice",
            Change::ScramCredential {
                mechanism: "SCRAM-SHA-256".into(),
                operation: "upsert".into(),
                iterations: Some(8192),
            },
            None,
        ),
        admin(
            "AlterClientQuotas",
            "CLIENT_QUOTA",
            "user=alice,client-id=<default>",
            Change::ClientQuota {
                entity: vec![
                    QuotaEntity { entity_type: "user".into(), name: Some("alice".into()) },
                    QuotaEntity { entity_type: "client-id".into(), name: None },
                ],
                quotas: vec![
                    QuotaChange { key: "producer_byte_rate".into(), value: Some(1048576.0), remove: false },
                    QuotaChange { key: "request_percentage".into(), value: None, remove: true },
                ],
            },
            Some("INVALID_REQUEST"),
        ),
        admin("DeleteGroups", "GROUP", "billing", Change::DeleteGroup, Some("NON_EMPTY_GROUP")),
        admin("OffsetDelete", "GROUP", "billing", Change::DeleteOffset { topic: "orders".into(), partition: 0 }, None),
    ]
}

#[test]
fn lines_match_the_golden_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/v{SCHEMA_VERSION}.jsonl"));
    let rendered: String = samples().iter().map(|e| e.to_line(1_796_000_000_123) + "\n").collect();
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    for (i, (got, want)) in rendered.lines().zip(golden.lines()).enumerate() {
        assert_eq!(got, want, "line {} of {}", i + 1, path.display());
    }
    assert_eq!(rendered.lines().count(), golden.lines().count(), "{} lines", path.display());
}

#[test]
fn no_secret_reaches_a_line() {
    let lines: String = samples().iter().map(|e| e.to_line(0)).collect();
    assert!(!lines.contains("secret\""), "{lines}");
    assert!(lines.contains("\"redacted\":true"));
}
