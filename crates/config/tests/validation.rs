//! Every rule of the table refuses a bad value with an error naming the option and the value, from the
//! command line and from the library (`AgentConfig::validate`).

mod common;

use common::{resolve, strings};
use weft_config::{AgentConfig, options};

#[test]
fn every_checked_option_refuses_a_bad_value_naming_it() {
    let mut checked = 0;
    for o in options() {
        for check in o.checks {
            let (bad, rule) = match *check {
                "positive" => ("0", "must be greater than 0"),
                "non_negative" => ("-1", "must not be negative"),
                "percent" => ("101", "must be between 1 and 100"),
                other => panic!("{}: no test value for rule {other}", o.key),
            };
            let flag = format!("--{}", o.flag());
            let err = resolve(&[format!("{flag}={bad}")], &[]).expect_err(&flag);
            assert_eq!(err, format!("{flag} {rule}, was {bad}"));
            let err = resolve(&[], &[(o.env(), bad.to_string())]).expect_err(&flag);
            assert_eq!(err, format!("{flag} {rule}, was {bad}"));
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} rules");
}

#[test]
fn options_without_a_rule_accept_zero() {
    for key in ["flush_interval_ms", "max_fetch_wait_ms", "cache_bytes", "group_initial_rebalance_delay_ms"]
        .into_iter()
        .chain(["gc_grace_ms", "merge_min_age_ms", "node_id", "offsets_retention_minutes"])
        .chain(["producer_id_expiration_ms", "transactional_id_expiration_ms"])
    {
        let flag = format!("--{}", weft_config::flag(key));
        let c = resolve(&strings(&[&flag, "0"]), &[]).unwrap_or_else(|e| panic!("{flag}: {e}"));
        assert_eq!(c.written(key).as_deref(), Some("0"));
    }
}

#[test]
fn session_timeouts_must_be_ordered() {
    let err =
        resolve(&strings(&["--group-min-session-timeout-ms", "7000", "--group-max-session-timeout-ms", "6000"]), &[])
            .expect_err("min above max");
    assert_eq!(err, "--group-min-session-timeout-ms (7000) must be at most --group-max-session-timeout-ms (6000)");
    resolve(&strings(&["--group-min-session-timeout-ms", "7000", "--group-max-session-timeout-ms", "7000"]), &[])
        .expect("min equal to max");
    let err = resolve(&strings(&["--group-consumer-heartbeat-interval-ms", "45000"]), &[]).expect_err("beat = session");
    assert_eq!(
        err,
        "--group-consumer-heartbeat-interval-ms (45000) must be less than --group-consumer-session-timeout-ms (45000)"
    );
}

#[test]
fn the_library_validates_too() {
    assert!(AgentConfig::default().validate().is_ok());
    let c = AgentConfig { flush_bytes: 0, ..AgentConfig::default() };
    assert_eq!(c.validate().expect_err("zero").to_string(), "--flush-bytes must be greater than 0, was 0");
    let c = AgentConfig { maintenance_interval: std::time::Duration::ZERO, ..AgentConfig::default() };
    assert_eq!(c.validate().expect_err("zero").to_string(), "--maintenance-interval-ms must be greater than 0, was 0");
    let c = AgentConfig { default_partitions: -3, ..AgentConfig::default() };
    assert_eq!(c.validate().expect_err("negative").to_string(), "--default-partitions must be greater than 0, was -3");
}

#[test]
fn roles_are_a_known_non_empty_list() {
    let c = resolve(&strings(&["--roles", "jobs"]), &[]).expect("jobs only");
    assert_eq!((c.roles.kafka, c.roles.jobs), (false, true));
    assert_eq!(resolve(&[], &[]).expect("default").written("roles").as_deref(), Some("kafka,jobs"));
    let err = resolve(&strings(&["--roles", "kafka,cron"]), &[]).expect_err("unknown role");
    assert_eq!(
        err,
        "invalid --roles \"kafka,cron\": expected a comma-separated list of kafka and jobs: unknown role \"cron\" \
         (known roles: kafka, jobs)"
    );
    resolve(&strings(&["--roles", ""]), &[]).expect_err("no role");
}

#[test]
fn node_ids_are_generated_unless_given() {
    assert_eq!(resolve(&[], &[]).expect("default").node_id, None);
    assert_eq!(resolve(&strings(&["--node-id", "-1"]), &[]).expect("-1").node_id, None);
    assert_eq!(resolve(&strings(&["--node-id", "4"]), &[]).expect("4").node_id, Some(4));
    resolve(&strings(&["--node-id", "-2"]), &[]).expect_err("below -1");
}

#[test]
fn broker_heartbeats_come_before_the_session_ends() {
    let err = resolve(&strings(&["--broker-heartbeat-interval-ms", "9000"]), &[]).expect_err("beat = session");
    assert_eq!(err, "--broker-heartbeat-interval-ms (9000) must be less than --broker-session-timeout-ms (9000)");
}
