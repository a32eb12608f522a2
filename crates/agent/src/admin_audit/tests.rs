use super::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weft_audit::{ConfigChange, QuotaChange};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

#[test]
fn error_names_are_kafkas() {
    assert_eq!(error_name(29), "TOPIC_AUTHORIZATION_FAILED");
    assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
    assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_eq!(error_name(58), "SASL_AUTHENTICATION_FAILED");
    assert_eq!(error_name(32_000), "UNKNOWN_ERROR_32000");
}

#[test]
fn results_find_their_resource_by_name_not_position() {
    use delete_groups_response::DeletableGroupResult;
    let req = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("a")), GroupId(s("b"))]);
    let resp = DeleteGroupsResponse::default().with_results(vec![
        DeletableGroupResult::default().with_group_id(GroupId(s("b"))).with_error_code(30),
        DeletableGroupResult::default().with_group_id(GroupId(s("a"))),
    ]);
    let lines = DeleteGroupsRequest::lines(req.plan(), &resp);
    let got: Vec<(&str, i16)> = lines.iter().map(|l| (l.resource_name.as_str(), l.code)).collect();
    assert_eq!(got, [("a", 0), ("b", 30)]);
}

#[test]
fn a_resource_without_a_result_is_not_dropped() {
    let lines = pair(vec![Planned::new("x", "TOPIC", "x", Change::DeleteGroup)], Vec::new());
    assert_eq!(lines[0].code, -1);
}

#[test]
fn config_changes_name_operations_and_hide_secrets() {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let req = IncrementalAlterConfigsRequest::default().with_validate_only(true).with_resources(vec![
        AlterConfigsResource::default().with_resource_type(2).with_resource_name(s("orders")).with_configs(vec![
            AlterableConfig::default().with_name(s("retention.ms")).with_config_operation(0).with_value(Some(s("5"))),
            AlterableConfig::default()
                .with_name(s("ssl.key.password"))
                .with_config_operation(0)
                .with_value(Some(s("pw"))),
            AlterableConfig::default().with_name(s("cleanup.policy")).with_config_operation(1),
        ]),
    ]);
    assert!(req.validate_only());
    let resp = IncrementalAlterConfigsResponse::default().with_responses(vec![
        incremental_alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(2)
            .with_resource_name(s("orders")),
    ]);
    let lines = IncrementalAlterConfigsRequest::lines(req.plan(), &resp);
    assert_eq!((lines[0].resource_type.as_str(), lines[0].code), ("TOPIC", 0));
    let Change::AlterConfigs { incremental: true, configs } = &lines[0].change else { panic!("{:?}", lines[0]) };
    assert_eq!(configs[0], ConfigChange::new("retention.ms", "set", Some("5")));
    assert_eq!((configs[1].value.as_deref(), configs[1].redacted), (None, true));
    assert_eq!(configs[2].operation, "delete");
}

#[test]
fn a_topic_deleted_by_id_is_named_from_the_response() {
    use delete_topics_request::DeleteTopicState;
    use delete_topics_response::DeletableTopicResult;
    let id = uuid::Uuid::from_u128(7);
    let req = DeleteTopicsRequest::default().with_topics(vec![DeleteTopicState::default().with_topic_id(id)]);
    let resp = DeleteTopicsResponse::default().with_responses(vec![
        DeletableTopicResult::default().with_name(Some(TopicName(s("orders")))).with_topic_id(id),
    ]);
    let lines = DeleteTopicsRequest::lines(req.plan(), &resp);
    assert_eq!(lines[0].resource_name, "orders");
    assert_eq!(lines[0].change, Change::DeleteTopic { topic_id: Some(id.to_string()) });
}

#[test]
fn scram_changes_name_user_and_mechanism_only() {
    use alter_user_scram_credentials_request::{ScramCredentialDeletion, ScramCredentialUpsertion};
    use alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
    let req = AlterUserScramCredentialsRequest::default()
        .with_deletions(vec![ScramCredentialDeletion::default().with_name(s("bob")).with_mechanism(2)])
        .with_upsertions(vec![
            ScramCredentialUpsertion::default()
                .with_name(s("alice"))
                .with_mechanism(1)
                .with_iterations(4096)
                .with_salted_password(bytes::Bytes::from_static(b"SALTED")),
        ]);
    let resp = AlterUserScramCredentialsResponse::default().with_results(vec![
        AlterUserScramCredentialsResult::default().with_user(s("alice")),
        AlterUserScramCredentialsResult::default().with_user(s("bob")).with_error_code(91),
    ]);
    let lines = AlterUserScramCredentialsRequest::lines(req.plan(), &resp);
    assert_eq!((lines[0].resource_name.as_str(), lines[0].code), ("bob", 91));
    assert_eq!(
        lines[1].change,
        Change::ScramCredential {
            mechanism: "SCRAM-SHA-256".into(),
            operation: "upsert".into(),
            iterations: Some(4096)
        }
    );
    assert!(!format!("{lines:?}").contains("SALTED"));
}

#[test]
fn deleted_acls_are_one_line_each_and_empty_filters_one_line() {
    use delete_acls_request::DeleteAclsFilter;
    use delete_acls_response::{DeleteAclsFilterResult, DeleteAclsMatchingAcl};
    let filter = DeleteAclsFilter::default().with_resource_type_filter(1).with_operation(1).with_permission_type(1);
    let req = DeleteAclsRequest::default().with_filters(vec![filter.clone(), filter]);
    let hit = |name: &str| {
        DeleteAclsMatchingAcl::default()
            .with_resource_type(2)
            .with_resource_name(s(name))
            .with_pattern_type(3)
            .with_principal(s("User:bob"))
            .with_host(s("*"))
            .with_operation(3)
            .with_permission_type(3)
    };
    let resp = DeleteAclsResponse::default().with_filter_results(vec![
        DeleteAclsFilterResult::default().with_matching_acls(vec![hit("a"), hit("b")]),
        DeleteAclsFilterResult::default(),
    ]);
    let lines = DeleteAclsRequest::lines(req.plan(), &resp);
    let names: Vec<(&str, &str)> = lines.iter().map(|l| (l.resource_type.as_str(), l.resource_name.as_str())).collect();
    assert_eq!(names, [("TOPIC", "a"), ("TOPIC", "b"), ("ANY", "")]);
    assert!(
        matches!(&lines[0].change, Change::Acl { operation, permission, .. } if operation == "READ" && permission == "ALLOW")
    );
}

#[test]
fn quota_entries_are_named_by_entity() {
    use alter_client_quotas_request::{EntityData, EntryData, OpData};
    let entity = vec![
        EntityData::default().with_entity_type(s("user")).with_entity_name(Some(s("alice"))),
        EntityData::default().with_entity_type(s("client-id")).with_entity_name(None),
    ];
    let req =
        AlterClientQuotasRequest::default().with_entries(vec![EntryData::default().with_entity(entity).with_ops(
            vec![
                OpData::default().with_key(s("producer_byte_rate")).with_value(1024.0),
                OpData::default().with_key(s("request_percentage")).with_remove(true),
            ],
        )]);
    let echo = vec![
        alter_client_quotas_response::EntityData::default()
            .with_entity_type(s("user"))
            .with_entity_name(Some(s("alice"))),
        alter_client_quotas_response::EntityData::default().with_entity_type(s("client-id")).with_entity_name(None),
    ];
    let resp = AlterClientQuotasResponse::default()
        .with_entries(vec![alter_client_quotas_response::EntryData::default().with_entity(echo).with_error_code(42)]);
    let lines = AlterClientQuotasRequest::lines(req.plan(), &resp);
    assert_eq!((lines[0].resource_name.as_str(), lines[0].code), ("user=alice,client-id=<default>", 42));
    let Change::ClientQuota { quotas, .. } = &lines[0].change else { panic!() };
    assert_eq!(quotas[1], QuotaChange { key: "request_percentage".into(), value: None, remove: true });
}
