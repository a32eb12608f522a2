use super::*;
use std::time::Duration;

fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_table_is_kafka_4_2s_in_name_order_and_every_default_is_valid() {
    let names: Vec<&str> = GROUP_CONFIGS.iter().map(|d| d.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 11);
    let broker = BrokerGroupSettings::default();
    let defaults: BTreeMap<String, String> =
        describe(&broker, &BTreeMap::new()).into_iter().map(|d| (d.def.name.to_string(), d.value)).collect();
    assert_eq!(validate(&broker, &defaults).as_ref(), Ok(&defaults), "the defaults set explicitly are valid");
    assert_eq!(defaults[name::CONSUMER_SESSION_TIMEOUT_MS], "45000");
    assert_eq!(defaults[name::SHARE_RECORD_LOCK_DURATION_MS], "30000");
    assert_eq!(defaults[name::SHARE_AUTO_OFFSET_RESET], "latest");
    assert_eq!(defaults[name::SHARE_ISOLATION_LEVEL], "read_uncommitted");
}

#[test]
fn values_are_checked_for_type_range_and_allowed_values() {
    let broker = BrokerGroupSettings::default();
    let refused = |k: &str, v: &str| validate(&broker, &configs(&[(k, v)])).unwrap_err().to_string();
    assert_eq!(refused("no.such", "1"), "unknown group config name: no.such");
    assert!(refused(name::CONSUMER_SESSION_TIMEOUT_MS, "soon").contains("not a number of type int"));
    assert!(refused(name::CONSUMER_SESSION_TIMEOUT_MS, "99999999999").contains("not a number"));
    assert!(refused(name::CONSUMER_SESSION_TIMEOUT_MS, "0").contains("at least 1"));
    assert!(refused(name::SHARE_RECORD_LOCK_DURATION_MS, "999").contains("at least 1000"));
    assert!(refused(name::SHARE_ISOLATION_LEVEL, "READ_COMMITTED").contains("read_committed, read_uncommitted"));
    assert!(refused(name::SHARE_AUTO_OFFSET_RESET, "none").contains("by_duration"));
    let ok = validate(&broker, &configs(&[(name::SHARE_AUTO_OFFSET_RESET, "by_duration:P1D")])).unwrap();
    assert_eq!(ok[name::SHARE_AUTO_OFFSET_RESET], "by_duration:P1D");
    let trimmed = validate(&broker, &configs(&[(name::CONSUMER_SESSION_TIMEOUT_MS, " 50000 ")])).unwrap();
    assert_eq!(trimmed[name::CONSUMER_SESSION_TIMEOUT_MS], "50000", "ints shown as kafka shows them");
}

#[test]
fn effective_values_stay_within_the_brokers_bounds() {
    let broker = BrokerGroupSettings::default();
    let refused = |pairs: &[(&str, &str)]| validate(&broker, &configs(pairs)).unwrap_err();
    assert_eq!(
        refused(&[(name::CONSUMER_SESSION_TIMEOUT_MS, "44999")]).to_string(),
        "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms \
         (45000); got 44999"
    );
    assert!(matches!(
        refused(&[(name::CONSUMER_HEARTBEAT_INTERVAL_MS, "15001")]),
        GroupConfigError::OutOfBounds { bound_name: "group.consumer.max.heartbeat.interval.ms", bound: 15000, .. }
    ));
    assert!(matches!(
        refused(&[(name::SHARE_RECORD_LOCK_DURATION_MS, "3600001")]),
        GroupConfigError::OutOfBounds { bound_name: "group.share.max.record.lock.duration.ms", .. }
    ));
    assert!(matches!(
        refused(&[(name::STREAMS_NUM_STANDBY_REPLICAS, "3")]),
        GroupConfigError::OutOfBounds { bound_name: "group.streams.max.standby.replicas", bound: 2, .. }
    ));
    // Bounds compare the effective values: the heartbeat against the default session timeout too.
    let narrow = BrokerGroupSettings::new(&[("group.share.max.heartbeat.interval.ms", 60_000)]);
    let err = validate(&narrow, &configs(&[(name::SHARE_HEARTBEAT_INTERVAL_MS, "45000")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "share.session.timeout.ms (45000) must be greater than share.heartbeat.interval.ms (45000)"
    );
    assert!(validate(&broker, &configs(&[(name::STREAMS_INITIAL_REBALANCE_DELAY_MS, "0")])).is_ok());
}

#[test]
fn the_agents_defaults_widen_kafkas_bounds() {
    let fast = BrokerGroupSettings::new(&[
        ("group.consumer.session.timeout.ms", 6_000),
        ("group.consumer.heartbeat.interval.ms", 500),
    ]);
    assert_eq!(fast.int("group.consumer.min.session.timeout.ms"), 6_000);
    assert_eq!(fast.int("group.consumer.max.session.timeout.ms"), 60_000);
    assert_eq!(fast.int("group.consumer.min.heartbeat.interval.ms"), 500);
    assert!(validate(&fast, &configs(&[(name::CONSUMER_SESSION_TIMEOUT_MS, "7000")])).is_ok());
    assert_eq!(resolve(&fast, &BTreeMap::new()).consumer_heartbeat_interval_ms, 500);
}

#[test]
fn settings_take_the_groups_values_over_the_defaults() {
    let broker = BrokerGroupSettings::default();
    let s = resolve(
        &broker,
        &configs(&[
            (name::CONSUMER_HEARTBEAT_INTERVAL_MS, "6000"),
            (name::SHARE_AUTO_OFFSET_RESET, "by_duration:PT10M"),
            (name::SHARE_ISOLATION_LEVEL, "read_committed"),
            (name::SHARE_RECORD_LOCK_DURATION_MS, "garbage"),
        ]),
    );
    assert_eq!(s.consumer_heartbeat_interval_ms, 6000);
    assert_eq!(s.consumer_session_timeout_ms, 45000);
    assert_eq!(s.share_auto_offset_reset, ShareAutoOffsetReset::ByDuration(Duration::from_secs(600)));
    assert_eq!(s.share_isolation_level, IsolationLevel::ReadCommitted);
    assert_eq!(s.share_record_lock_duration_ms, 30000, "an unreadable stored value falls back to the default");
    let described = describe(&broker, &configs(&[(name::SHARE_ISOLATION_LEVEL, "read_committed")]));
    let explicit: Vec<&str> = described.iter().filter(|d| d.explicit).map(|d| d.def.name).collect();
    assert_eq!(explicit, [name::SHARE_ISOLATION_LEVEL]);
}
