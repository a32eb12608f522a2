//! Group configs (the GROUP config resource, KIP-848 / KIP-932) over the wire: described with defaults and
//! sources, changed by IncrementalAlterConfigs and AlterConfigs, refused with INVALID_CONFIG naming the
//! config, audited, used by KIP-848 heartbeats, and dropped with the group by DeleteGroups.

mod common;

use common::{Conn, s};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::*;

const GROUP: i8 = 32;

async fn describe(c: &mut Conn, group: &str) -> DescribeConfigsResult {
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_include_documentation(true)
        .with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(GROUP)
                .with_resource_name(s(group))
                .with_configuration_keys(None),
        ]);
    c.call(4, &req).await.results.remove(0)
}

fn value(r: &DescribeConfigsResult, name: &str) -> (String, i8) {
    let e = r.configs.iter().find(|e| e.name.as_str() == name).unwrap_or_else(|| panic!("{name} in {r:?}"));
    (e.value.as_deref().unwrap_or_default().to_string(), e.config_source)
}

/// IncrementalAlterConfigs of one group: (name, operation, value); the code and message.
async fn alter(c: &mut Conn, group: &str, ops: &[(&str, i8, Option<&str>)], validate_only: bool) -> (i16, String) {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let configs = ops
        .iter()
        .map(|(n, op, v)| AlterableConfig::default().with_name(s(n)).with_config_operation(*op).with_value(v.map(s)))
        .collect();
    let req = IncrementalAlterConfigsRequest::default().with_validate_only(validate_only).with_resources(vec![
        AlterConfigsResource::default().with_resource_type(GROUP).with_resource_name(s(group)).with_configs(configs),
    ]);
    let r = c.call(1, &req).await.responses.remove(0);
    (r.error_code, r.error_message.as_deref().unwrap_or_default().to_string())
}

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_configs_are_described_changed_validated_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let audit_log = dir.path().join("audit.log");
    config.audit_log = Some(audit_log.clone());
    let meta = weft_meta::open(&config.metastore_url()).await.unwrap();
    let agent = weft_agent::start_on(
        config,
        meta.clone(),
        std::sync::Arc::new(weft_agent::clock::SystemClock),
        std::sync::Arc::new(weft_agent::clock::RandomIds),
    )
    .await
    .expect("agent starts");
    let mut c = Conn::open(agent.kafka_addr, "admin").await;

    // Every group config, from the broker's defaults, before the group exists.
    let fresh = describe(&mut c, "g1").await;
    assert_eq!(fresh.error_code, 0, "{fresh:?}");
    assert_eq!(fresh.configs.len(), 11);
    assert_eq!(value(&fresh, "consumer.session.timeout.ms"), ("45000".into(), 5));
    assert_eq!(value(&fresh, "share.auto.offset.reset"), ("latest".into(), 5));
    let lock = fresh.configs.iter().find(|e| e.name.as_str() == "share.record.lock.duration.ms").unwrap();
    assert_eq!((lock.config_type, lock.read_only), (3, false));
    assert!(lock.documentation.as_deref().is_some_and(|d| !d.is_empty()));

    // SET: the group's own values, with the GROUP_CONFIG source (and synonym).
    let ops =
        [("consumer.heartbeat.interval.ms", SET, Some("7000")), ("share.auto.offset.reset", SET, Some("earliest"))];
    assert_eq!(alter(&mut c, "g1", &ops, false).await, (0, String::new()));
    let set = describe(&mut c, "g1").await;
    assert_eq!(value(&set, "consumer.heartbeat.interval.ms"), ("7000".into(), 8));
    assert_eq!(value(&set, "share.auto.offset.reset"), ("earliest".into(), 8));
    let e = set.configs.iter().find(|e| e.name.as_str() == "consumer.heartbeat.interval.ms").unwrap();
    assert_eq!(e.synonyms[0].source, 8);

    // Refusals: out of the broker's bounds, unknown, a list operation, a value of the wrong type; nothing stored.
    let (code, message) = alter(&mut c, "g1", &[("consumer.session.timeout.ms", SET, Some("1000"))], false).await;
    assert_eq!(code, 40, "{message}");
    assert!(message.contains("group.consumer.min.session.timeout.ms"), "{message}");
    let (code, message) = alter(&mut c, "g1", &[("session.timeout.ms", SET, Some("1"))], false).await;
    assert_eq!((code, message.as_str()), (40, "unknown group config name: session.timeout.ms"));
    assert_eq!(alter(&mut c, "g1", &[("share.isolation.level", APPEND, Some("x"))], false).await.0, 40);
    let (code, message) = alter(&mut c, "g1", &[("share.record.lock.duration.ms", SET, Some("soon"))], false).await;
    assert_eq!(code, 40, "{message}");
    assert!(message.contains("share.record.lock.duration.ms"), "{message}");
    let (code, _) = alter(&mut c, "", &[("share.isolation.level", SET, Some("read_committed"))], false).await;
    assert_eq!(code, 42, "an empty group name is INVALID_REQUEST");
    // validate_only checks without storing.
    let only = [("share.record.lock.duration.ms", SET, Some("20000"))];
    assert_eq!(alter(&mut c, "g1", &only, true).await.0, 0);
    assert_eq!(value(&describe(&mut c, "g1").await, "share.record.lock.duration.ms"), ("30000".into(), 5));

    // A KIP-848 member of the group is told the group's heartbeat interval.
    let join = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(s("g1").into())
        .with_member_id(s("m-1"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(10_000)
        .with_subscribed_topic_names(Some(vec![]))
        .with_topic_partitions(Some(vec![]));
    let beat = c.call(0, &join).await;
    assert_eq!((beat.error_code, beat.heartbeat_interval_ms), (0, 7000), "{beat:?}");

    // DELETE returns a config to the default; the next heartbeat carries it.
    assert_eq!(alter(&mut c, "g1", &[("consumer.heartbeat.interval.ms", DELETE, None)], false).await.0, 0);
    assert_eq!(value(&describe(&mut c, "g1").await, "consumer.heartbeat.interval.ms"), ("5000".into(), 5));
    let again = join.clone().with_member_id(beat.member_id.clone().unwrap()).with_member_epoch(beat.member_epoch);
    let beat = c.call(0, &again).await;
    assert_eq!((beat.error_code, beat.heartbeat_interval_ms), (0, 5000), "{beat:?}");

    // The legacy AlterConfigs replaces the group's whole set.
    use alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let legacy = AlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default().with_resource_type(GROUP).with_resource_name(s("g1")).with_configs(vec![
            AlterableConfig::default().with_name(s("share.isolation.level")).with_value(Some(s("read_committed"))),
        ]),
    ]);
    assert_eq!(c.call(2, &legacy).await.responses[0].error_code, 0);
    let replaced = describe(&mut c, "g1").await;
    assert_eq!(value(&replaced, "share.isolation.level"), ("read_committed".into(), 8));
    assert_eq!(value(&replaced, "share.auto.offset.reset"), ("latest".into(), 5), "not in the new set");
    assert_eq!(meta.group_configs("g1").await.unwrap().configs.len(), 1);

    // DeleteGroups drops the group's configs with it (once its last member left).
    let leave = again.with_member_id(beat.member_id.clone().unwrap()).with_member_epoch(-1);
    assert_eq!(c.call(0, &leave).await.error_code, 0);
    let deleted = c.call(2, &DeleteGroupsRequest::default().with_groups_names(vec![s("g1").into()])).await;
    assert_eq!(deleted.results[0].error_code, 0, "{deleted:?}");
    assert!(meta.group_configs("g1").await.unwrap().configs.is_empty());
    assert_eq!(value(&describe(&mut c, "g1").await, "share.isolation.level"), ("read_uncommitted".into(), 5));

    agent.shutdown();
    agent.wait().await;
    // Each change is audited with the GROUP resource type; refused ones too.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit_log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let group_changes: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["resource_type"] == "GROUP" && l["resource_name"] == "g1").collect();
    assert!(group_changes.len() >= 8, "{lines:?}");
    assert!(group_changes.iter().any(|l| l["api"] == "AlterConfigs" && l["outcome"] == "success"), "{lines:?}");
}
