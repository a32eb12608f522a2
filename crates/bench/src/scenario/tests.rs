use super::*;

const MINIMAL: &str = r#"
version = 1
name = "t"
duration_secs = 5
[[topics]]
name = "a"
[[producers]]
rate = 10
"#;

fn err(text: &str) -> String {
    parse("t.toml", text).unwrap_err().to_string()
}

#[test]
fn every_shipped_scenario_parses_under_its_name() {
    for ((name, _), parsed) in SHIPPED.iter().zip(shipped()) {
        let s = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&s.name, name);
        assert!(!s.description.is_empty(), "{name} has a description");
        assert!(!s.producers.is_empty());
    }
    for required in ["steady-1k", "fan-out", "many-partitions", "large-records", "latency-slo"] {
        assert!(load(required).is_ok(), "{required} is shipped");
    }
}

#[test]
fn shipped_scenarios_have_the_features_they_are_named_for() {
    let fan = load("fan-out").unwrap();
    assert_eq!(fan.consumers.iter().map(|c| c.groups).sum::<u32>(), 3);
    assert!(fan.consumers.iter().any(|c| c.protocol == GroupProtocol::Consumer), "KIP-848 exercised");
    let slo = load("latency-slo").unwrap();
    assert!(slo.ramp().is_some() && slo.objective.is_some());
    let churn = load("compaction-churn").unwrap();
    assert_eq!(churn.topics[0].configs.get("cleanup.policy").map(String::as_str), Some("compact"));
    assert!(churn.producers[0].tombstone_percent > 0);
    assert!(matches!(churn.producers[0].keys, KeySpec::Zipf { .. }));
    assert!(load("rebalance-storm").unwrap().consumers[0].rebalance_every_secs.is_some());
    assert!(load("transactions").unwrap().producers[0].transaction_records.is_some());
    assert_eq!(load("share-queue").unwrap().consumers[0].protocol, GroupProtocol::Share);
    assert_eq!(load("large-records").unwrap().producers[0].record_size.bounds(), (65536, 1048576));
}

#[test]
fn defaults_fill_what_a_file_leaves_out() {
    let s = parse("t.toml", MINIMAL).unwrap();
    let p = &s.producers[0];
    assert_eq!((p.count, p.acks.as_str(), p.compression.as_str(), p.linger_ms), (1, "all", "lz4", 5));
    assert_eq!((p.record_size, p.keys, p.idempotence), (RecordSize::Fixed(1024), KeySpec::None, false));
    assert_eq!((s.topics[0].partitions, s.warmup_secs), (8, 0));
    assert!(s.consumers.is_empty() && s.objective.is_none());
}

#[test]
fn unknown_keys_are_rejected_with_the_file_and_key() {
    let e = err(&format!("{MINIMAL}colour = \"red\"\n"));
    assert!(e.contains("t.toml") && e.contains("colour"), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
    let e = err("version = 1\nname = \"t\"\nspeed = 3\n");
    assert!(e.contains("line 3, column 1") && e.contains("speed"), "{e}");
    let e = err(&MINIMAL.replace("rate = 10", "rate = 10\nlinger = 5"));
    assert!(e.contains("unknown field") && e.contains("linger"), "{e}");
    let e = err(&MINIMAL
        .replace("rate = 10", "rate = 10\nkeys = { distribution = \"zipf\", count = 5, exponent = 1.0, hot = 1 }"));
    assert!(e.contains("hot"), "{e}");
    let e = err(&MINIMAL.replace("rate = 10", "rate = 10\nkeys = { distribution = \"gauss\", count = 5 }"));
    assert!(e.contains("gauss"), "{e}");
}

#[test]
fn bad_values_are_rejected_naming_the_key() {
    let cases = [
        ("version = 1", "version = 2", "`version`"),
        ("rate = 10", "rate = 0", "`producers[0].rate`"),
        ("rate = 10", "rate = 10\ncount = 0", "`producers[0].count`"),
        ("rate = 10", "rate = 10\nrecord_size = 10", "`producers[0].record_size`"),
        ("rate = 10", "rate = 10\nrecord_size = { min = 500, max = 100 }", "`producers[0].record_size`"),
        ("rate = 10", "rate = 10\ntopic = \"b\"", "`producers[0].topic`"),
        ("rate = 10", "rate = 10\ntombstone_percent = 5", "`producers[0].tombstone_percent`"),
        (
            "rate = 10",
            "rate = 10\nkeys = { distribution = \"zipf\", count = 10, exponent = 0.0 }",
            "`producers[0].keys.exponent`",
        ),
        ("rate = 10", "rate = 10\nkeys = { distribution = \"uniform\", count = 0 }", "`producers[0].keys.count`"),
        ("rate = 10", "ramp = { start = 10, step = 10, step_secs = 1, max = 100 }", "`objective`"),
        ("rate = 10", "rate = 10\nramp = { start = 10, step = 10, step_secs = 1, max = 100 }", "`producers[0].ramp`"),
        ("duration_secs = 5", "duration_secs = 0", "`duration_secs`"),
        ("name = \"a\"", "name = \"a\"\npartitions = 0", "`topics[0].partitions`"),
        ("name = \"t\"", "name = \"t t\"", "`name`"),
        ("rate = 10", "rate = 10\nacks = \"2\"", "`producers[0].acks`"),
        ("rate = 10", "rate = 10\ncompression = \"bogus\"", "`producers[0].compression`"),
        ("rate = 10", "rate = 10\nacks = \"1\"\nidempotence = true", "`producers[0].acks`"),
        ("rate = 10", "rate = 10\nacks = \"0\"\ntransaction_records = 5", "`producers[0].acks`"),
        ("rate = 10", "rate = 10\ncount = 20\nrecord_size = 100000000", "`producers[0].record_size`"),
        ("rate = 10", "rate = 10\ncount = 257", "`consumers`"),
    ];
    for (from, to, key) in cases {
        let text = MINIMAL.replace(from, to);
        assert_ne!(text, MINIMAL, "{from}");
        let e = err(&text);
        assert!(e.contains("t.toml") && e.contains(key), "{to}: {e}");
    }
    let fan_out = format!("{MINIMAL}[[consumers]]\ncount = 16\ngroups = 16\n");
    assert!(err(&fan_out).contains("257 clients"), "{}", err(&fan_out));
    for ok in ["acks = \"-1\"\nidempotence = true", "acks = \"0\"\ncompression = \"zstd\""] {
        parse("t.toml", &MINIMAL.replace("rate = 10", &format!("rate = 10\n{ok}"))).unwrap();
    }
    let with_consumer = format!("{MINIMAL}[[consumers]]\ngroups = 0\n");
    assert!(err(&with_consumer).contains("`consumers[0].groups`"));
    let share_storm = format!("{MINIMAL}[[consumers]]\nprotocol = \"share\"\nrebalance_every_secs = 3\n");
    assert!(err(&share_storm).contains("`consumers[0].rebalance_every_secs`"));
    let bad_protocol = format!("{MINIMAL}[[consumers]]\nprotocol = \"eager\"\n");
    assert!(err(&bad_protocol).contains("eager"));
    let objective = format!("{MINIMAL}[objective]\nlatency = \"produce_ack\"\npercentile = 120.0\nmax_ms = 5.0\n");
    assert!(err(&objective).contains("`objective.percentile`"));
    assert!(parse("t.toml", "version = 1\n").unwrap_err().to_string().contains("missing field"));
}

#[test]
fn unknown_names_and_missing_files_say_what_is_shipped() {
    let e = load("no-such-scenario").unwrap_err().to_string();
    assert!(e.contains("no-such-scenario") && e.contains("steady-1k"), "{e}");
}

#[test]
fn files_load_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    assert_eq!(load(path.to_str().unwrap()).unwrap().name, "t");
    std::fs::write(&path, MINIMAL.replace("rate = 10", "rate = -1")).unwrap();
    let e = load(path.to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("mine.toml"), "{e}");
}

#[test]
fn overrides_shorten_and_are_checked() {
    let s = load("latency-slo").unwrap();
    let short =
        s.clone().with_overrides(Overrides { duration_secs: Some(3), warmup_secs: Some(0), step_secs: Some(1) });
    let short = short.unwrap();
    assert_eq!((short.duration_secs, short.warmup_secs), (3, 0));
    assert_eq!(short.ramp().unwrap().step_duration(), std::time::Duration::from_secs(1));
    let e = s.with_overrides(Overrides { duration_secs: Some(0), ..Overrides::default() }).unwrap_err();
    assert!(e.to_string().contains("`duration_secs`"), "{e}");
}
