//! Every option can be set by flag, `WEFT_*` variable and TOML key, with flag > variable > file > default;
//! and the written forms that are not plain values (milliseconds, minutes, `off`) mean what they meant.

mod common;

use common::{resolve, strings};
use std::time::Duration;
use weft_config::{AgentConfig, Kind, OptionInfo, options};

/// Three distinct values an option accepts (each also valid with every other option at its default),
/// as written on the command line and as a TOML value.
fn samples(o: &OptionInfo) -> [(String, String); 3] {
    let quoted = |s: &str| (s.to_string(), format!("{s:?}"));
    match o.kind {
        // Less than the default --broker-session-timeout-ms, as the heartbeat must be.
        Kind::Number if o.key == "broker_heartbeat_interval_ms" => {
            ["1001", "1002", "1003"].map(|n| (n.to_string(), n.to_string()))
        }
        // A share, from 1 to 100.
        Kind::Number if o.checks.contains(&"percent") => ["11", "12", "13"].map(|n| (n.to_string(), n.to_string())),
        Kind::Text if o.key == "listeners" => {
            ["PLAINTEXT://127.0.0.1:1001", "PLAINTEXT://127.0.0.1:1002", "PLAINTEXT://127.0.0.1:1003"].map(quoted)
        }
        Kind::Text if o.key == "advertised_listeners" => {
            ["PLAINTEXT://a.example:1", "PLAINTEXT://b.example:2", "PLAINTEXT://c.example:3"].map(quoted)
        }
        Kind::Text if o.key == "listener_security_protocol_map" => {
            ["PLAINTEXT:PLAINTEXT", "PLAINTEXT:SSL", "PLAINTEXT:SASL_PLAINTEXT"].map(quoted)
        }
        // mtls is valid only with --admin-ssl and required client certificates.
        Kind::Choice(_) if o.key == "admin_auth" => ["basic", "none", "basic"].map(quoted),
        Kind::Number => ["10001", "10002", "10003"].map(|n| (n.to_string(), n.to_string())),
        Kind::Bool => ["false", "true", "false"].map(|b| (b.to_string(), b.to_string())),
        Kind::Address => [1001, 1002, 1003].map(|p| quoted(&format!("127.0.0.1:{p}"))),
        Kind::Text => ["a.example:1", "b.example:2", "c.example:3"].map(quoted),
        Kind::Path => ["/tmp/weft-a", "/tmp/weft-b", "/tmp/weft-c"].map(quoted),
        Kind::Decimal => ["0.5", "1.25", "2.5"].map(|n| (n.to_string(), n.to_string())),
        // Names other than the first (the default), so each layer visibly sets one.
        Kind::Choice(names) => [1, 2, 1].map(|i| quoted(names[i % names.len()])),
        Kind::Roles => ["kafka", "jobs", "kafka,jobs"].map(quoted),
        Kind::Mechanisms => ["PLAIN", "SCRAM-SHA-256", "PLAIN,SCRAM-SHA-512"].map(quoted),
    }
}

fn toml_file(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).expect("write the test's TOML file");
    path.display().to_string()
}

#[test]
fn every_option_by_flag_variable_and_file_in_that_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let default = AgentConfig::default();
    for o in options() {
        let [(flag, _), (env, _), (_, file)] = samples(&o);
        let path = toml_file(&dir, &format!("{} = {file}\n", o.key));
        let config = strings(&["--config", &path]);
        let flag_args = strings(&["--config", &path, &format!("--{}", o.flag()), &flag]);
        let vars = vec![(o.env(), env.clone())];
        let seen = |args: &[String], vars: &[(String, String)]| {
            let c = resolve(args, vars).unwrap_or_else(|e| panic!("{}: {e}", o.key));
            c.written(o.key).unwrap_or_else(|| panic!("{}: not a key", o.key))
        };
        assert_eq!(seen(&flag_args, &vars), flag, "{}: the flag wins", o.key);
        assert_eq!(seen(&config, &vars), env, "{}: the variable wins over the file", o.key);
        let file_value = samples(&o)[2].0.clone();
        assert_eq!(seen(&config, &[]), file_value, "{}: the file sets it", o.key);
        assert_eq!(seen(&[], &[]), default.written(o.key).unwrap_or_default(), "{}: the default", o.key);
        let config_var = vec![("WEFT_CONFIG".to_string(), path.clone())];
        assert_eq!(seen(&[], &config_var), file_value, "{}: WEFT_CONFIG names the file", o.key);
    }
}

#[test]
fn nothing_given_is_the_default_config() {
    let c = resolve(&[], &[]).expect("defaults are valid");
    assert_eq!(format!("{c:?}"), format!("{:?}", AgentConfig::default()));
    assert_eq!(format!("{c:?}"), format!("{:?}", AgentConfig::with_data_dir("weft-data")));
    assert_eq!(c.listen, "127.0.0.1:9092".parse().expect("addr"));
    assert_eq!(c.admin_listen, Some("127.0.0.1:9644".parse().expect("addr")));
    assert_eq!(c.flush_interval, None, "the store's default applies");
    assert_eq!(c.effective_flush_interval(), Duration::from_millis(4));
    assert_eq!(c.group_max_size, usize::MAX);
    assert_eq!(c.offsets_retention, Duration::from_secs(7 * 24 * 3600));
}

#[test]
fn durations_are_written_in_the_unit_of_their_name() {
    let c = resolve(&strings(&["--flush-interval-ms", "5", "--offsets-retention-minutes", "2"]), &[]).expect("valid");
    assert_eq!(c.flush_interval, Some(Duration::from_millis(5)));
    assert_eq!(c.offsets_retention, Duration::from_secs(120));
    let c = resolve(&strings(&["--offsets-retention-minutes", &u64::MAX.to_string()]), &[]).expect("valid");
    assert_eq!(c.offsets_retention, Duration::from_secs(u64::MAX), "minutes saturate");
}

#[test]
fn admin_listen_off_or_empty_disables_it() {
    for off in ["off", ""] {
        let c = resolve(&strings(&["--admin-listen", off]), &[]).expect("valid");
        assert_eq!(c.admin_listen, None, "{off:?}");
        let c = resolve(&[], &[("WEFT_ADMIN_LISTEN".into(), off.into())]).expect("valid");
        assert_eq!(c.admin_listen, None, "variable {off:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = toml_file(&dir, "admin_listen = \"off\"\n");
    assert_eq!(resolve(&strings(&["--config", &path]), &[]).expect("valid").admin_listen, None);
    let err = resolve(&strings(&["--admin-listen", "nope"]), &[]).expect_err("refused");
    assert_eq!(err, "invalid --admin-listen \"nope\": expected HOST:PORT or off: invalid socket address syntax");
}

#[test]
fn booleans_take_true_or_false() {
    let c = resolve(&strings(&["--auto-create-topics", "false"]), &[]).expect("valid");
    assert!(!c.auto_create_topics);
    let c = resolve(&[], &[("WEFT_AUTO_CREATE_TOPICS".into(), "false".into())]).expect("valid");
    assert!(!c.auto_create_topics);
    assert!(resolve(&strings(&["--auto-create-topics", "yes"]), &[]).is_err());
}

#[test]
fn a_file_with_an_unknown_or_mistyped_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, needle) in [
        ("flush_interval = 5\n", "unknown field `flush_interval`"),
        ("config = \"other.toml\"\n", "unknown field `config`"),
        ("flush-bytes = 5\n", "unknown field `flush-bytes`"),
        ("flush_bytes = \"5\"\n", "invalid type"),
        ("auto_create_topics = \"false\"\n", "invalid type"),
        ("flush_bytes = \n", "invalid config file"),
    ] {
        let path = toml_file(&dir, text);
        let err = resolve(&strings(&["--config", &path]), &[]).expect_err(text);
        assert!(err.starts_with(&format!("invalid config file {path}: ")), "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
    }
    let missing = dir.path().join("missing.toml").display().to_string();
    let err = resolve(&strings(&["--config", &missing]), &[]).expect_err("missing file");
    assert!(err.starts_with(&format!("cannot read config file {missing}: ")), "{err}");
}

#[test]
fn a_bad_flag_value_is_refused_by_clap() {
    for args in [["--flush-bytes", "-1"], ["--node-id", "x"], ["--listen", "nowhere"], ["--flush-interval-ms", "1.5"]] {
        let err = resolve(&[format!("{}={}", args[0], args[1])], &[]).expect_err(args[0]);
        assert!(err.contains(&format!("invalid value '{}' for '{} ", args[1], args[0])), "{err}");
    }
}

#[test]
fn the_object_store_model_is_one_of_its_names() {
    use weft_config::ObjectStoreModel;
    let c = resolve(&strings(&["--object-store-model", "s3-express"]), &[]).expect("valid");
    assert_eq!(c.object_store_model, ObjectStoreModel::S3Express);
    assert_eq!(c.effective_flush_interval(), Duration::from_millis(250), "a modelled S3 flushes as S3 does");
    assert_eq!(resolve(&[], &[]).expect("valid").object_store_model, ObjectStoreModel::Off);
    let err = resolve(&strings(&["--object-store-model", "s4"]), &[]).expect_err("refused");
    assert_eq!(
        err,
        "invalid --object-store-model \"s4\": expected off, s3-standard or s3-express: unknown name \"s4\""
    );
}

#[test]
fn prices_are_decimal_and_not_negative() {
    let c = resolve(&strings(&["--object-store-put-price-per-1000", "0.0055"]), &[]).expect("valid");
    assert_eq!(c.object_store_put_price, 0.0055);
    for bad in ["NaN", "inf"] {
        let err = resolve(&strings(&["--object-store-get-price-per-1000", bad]), &[]).expect_err(bad);
        assert!(err.contains("must not be negative"), "{bad}: {err}");
    }
}
