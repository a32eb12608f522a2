//! Checks a parsed scenario's values, naming the offending key (`producers[0].ramp.max`), so that a bad file
//! fails before anything is created on the cluster.

use std::collections::BTreeSet;

use super::model::{GroupProtocol, KeySpec, ProducerSpec, RecordSize, SCENARIO_VERSION, Scenario};

/// Largest record payload a scenario may ask for (librdkafka's `message.max.bytes` ceiling is 1 GB).
pub const MAX_RECORD_BYTES: u64 = 100_000_000;
/// The e2e header (magic, run id, send time) every value carries.
pub const MIN_RECORD_BYTES: u64 = crate::payload::E2E_HEADER_LEN as u64;
/// Most distinct keys a distribution may draw from (its table is 8 bytes a key).
pub const MAX_KEYS: u64 = 1_000_000;
const MAX_CLIENTS: u32 = 1000;
/// Most clients (producers, and group members over all groups) one run may start: each holds an OS thread
/// and librdkafka's own threads and buffers.
pub const MAX_TOTAL_CLIENTS: u64 = 256;
/// Most payload bytes one producer group may hold (`count` x the largest record): each producer keeps a
/// record buffer of that size.
pub const MAX_GROUP_RECORD_BYTES: u64 = 1_000_000_000;
/// The `acks` values a producer may use (Kafka's `acks`).
const ACKS: [&str; 4] = ["0", "1", "all", "-1"];
/// The codecs a producer may use (Kafka's `compression.type`).
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
const MAX_GROUPS: u32 = 100;
const MAX_PARTITIONS: i32 = 100_000;
const MAX_SECS: u64 = 7 * 24 * 3600;
const MAX_RATE: u64 = 10_000_000;

/// A bad value: the key it is at and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub key: String,
    pub message: String,
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { key: key.into(), message: message.into() }
}

fn check(ok: bool, key: impl Into<String>, message: impl Into<String>) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err(bad(key, message)) }
}

/// Checks every value of `s`; the first problem found is returned.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    check(s.version == SCENARIO_VERSION, "version", format!("{} is not supported (expected 1)", s.version))?;
    check(valid_name(&s.name), "name", format!("`{}` must be 1-100 letters, digits, `-`, `_` or `.`", s.name))?;
    check(
        (1..=MAX_SECS).contains(&s.duration_secs),
        "duration_secs",
        format!("{} is not in 1..={MAX_SECS}", s.duration_secs),
    )?;
    check(s.warmup_secs <= MAX_SECS, "warmup_secs", format!("{} is above {MAX_SECS}", s.warmup_secs))?;
    check(!s.topics.is_empty(), "topics", "at least one topic is needed")?;
    let mut names = BTreeSet::new();
    for (i, t) in s.topics.iter().enumerate() {
        let key = format!("topics[{i}]");
        check(
            valid_name(&t.name),
            format!("{key}.name"),
            format!("`{}` must be 1-100 letters, digits, `-`, `_` or `.`", t.name),
        )?;
        check(names.insert(t.name.as_str()), format!("{key}.name"), format!("`{}` is listed twice", t.name))?;
        check(
            (1..=MAX_PARTITIONS).contains(&t.partitions),
            format!("{key}.partitions"),
            format!("{} is not in 1..={MAX_PARTITIONS}", t.partitions),
        )?;
    }
    check(!s.producers.is_empty(), "producers", "at least one producer group is needed")?;
    let topic_ok = |topic: &Option<String>, key: String| match topic {
        Some(t) => check(names.contains(t.as_str()), key, format!("`{t}` is not one of the scenario's topics")),
        None => Ok(()),
    };
    let mut ramps = 0;
    for (i, p) in s.producers.iter().enumerate() {
        let key = format!("producers[{i}]");
        topic_ok(&p.topic, format!("{key}.topic"))?;
        check(
            (1..=MAX_CLIENTS).contains(&p.count),
            format!("{key}.count"),
            format!("{} is not in 1..={MAX_CLIENTS}", p.count),
        )?;
        if let Some(rate) = p.rate {
            check((1..=MAX_RATE).contains(&rate), format!("{key}.rate"), format!("{rate} is not in 1..={MAX_RATE}"))?;
        }
        if let Some(r) = &p.ramp {
            ramps += 1;
            check(p.rate.is_none(), format!("{key}.ramp"), "give either `rate` or `ramp`, not both")?;
            check(
                (1..=MAX_RATE).contains(&r.start),
                format!("{key}.ramp.start"),
                format!("{} is not in 1..={MAX_RATE}", r.start),
            )?;
            check(r.step > 0, format!("{key}.ramp.step"), "must be above 0")?;
            check(
                (1..=MAX_SECS).contains(&r.step_secs),
                format!("{key}.ramp.step_secs"),
                format!("{} is not in 1..={MAX_SECS}", r.step_secs),
            )?;
            check(
                (r.start..=MAX_RATE).contains(&r.max),
                format!("{key}.ramp.max"),
                format!("{} is not in {}..={MAX_RATE} (start..)", r.max, r.start),
            )?;
        }
        check_size(&p.record_size, &format!("{key}.record_size"))?;
        check(
            u64::from(p.count).saturating_mul(p.record_size.bounds().1) <= MAX_GROUP_RECORD_BYTES,
            format!("{key}.record_size"),
            format!(
                "{} producers of records up to {} bytes exceed {MAX_GROUP_RECORD_BYTES} bytes",
                p.count,
                p.record_size.bounds().1
            ),
        )?;
        check_client_config(p, &key)?;
        check_keys(&p.keys, &format!("{key}.keys"))?;
        check(
            (1..=2_147_483_647).contains(&p.batch_size),
            format!("{key}.batch_size"),
            format!("{} is not in 1..=2147483647", p.batch_size),
        )?;
        check(p.linger_ms <= 900_000, format!("{key}.linger_ms"), format!("{} is above 900000", p.linger_ms))?;
        if let Some(n) = p.transaction_records {
            check(
                (1..=1_000_000).contains(&n),
                format!("{key}.transaction_records"),
                format!("{n} is not in 1..=1000000"),
            )?;
        }
        check(
            p.tombstone_percent <= 100,
            format!("{key}.tombstone_percent"),
            format!("{} is above 100", p.tombstone_percent),
        )?;
        check(
            p.tombstone_percent == 0 || p.keys != KeySpec::None,
            format!("{key}.tombstone_percent"),
            "tombstones need keys (set `keys`)",
        )?;
    }
    check(ramps <= 1, "producers", "only one producer group may ramp")?;
    check_client_count(s)?;
    for (i, c) in s.consumers.iter().enumerate() {
        let key = format!("consumers[{i}]");
        topic_ok(&c.topic, format!("{key}.topic"))?;
        check(
            (1..=MAX_CLIENTS).contains(&c.count),
            format!("{key}.count"),
            format!("{} is not in 1..={MAX_CLIENTS}", c.count),
        )?;
        check(
            (1..=MAX_GROUPS).contains(&c.groups),
            format!("{key}.groups"),
            format!("{} is not in 1..={MAX_GROUPS}", c.groups),
        )?;
        if let Some(every) = c.rebalance_every_secs {
            check(
                (1..=MAX_SECS).contains(&every),
                format!("{key}.rebalance_every_secs"),
                format!("{every} is not in 1..={MAX_SECS}"),
            )?;
            check(
                c.protocol != GroupProtocol::Share,
                format!("{key}.rebalance_every_secs"),
                "share consumers do not rebalance",
            )?;
        }
        check(
            c.protocol != GroupProtocol::Share || c.groups == 1,
            format!("{key}.groups"),
            "a share consumer set is one group",
        )?;
    }
    match &s.objective {
        Some(o) => {
            check(
                o.percentile > 0.0 && o.percentile <= 100.0,
                "objective.percentile",
                format!("{} is not in (0, 100]", o.percentile),
            )?;
            check(o.max_ms > 0.0 && o.max_ms.is_finite(), "objective.max_ms", format!("{} must be above 0", o.max_ms))?;
            let share_only = s.consumers.iter().all(|c| c.protocol == GroupProtocol::Share);
            check(
                o.latency != super::model::LatencyKind::EndToEnd || !share_only,
                "objective.latency",
                "end_to_end needs a consumer group (classic or consumer protocol)",
            )?;
        }
        None => check(ramps == 0, "objective", "a ramp needs an objective")?,
    }
    Ok(())
}

/// `acks` and `compression` are values Kafka knows, and idempotence (transactions too) has `acks = all`, as
/// the Java client and librdkafka require.
fn check_client_config(p: &ProducerSpec, key: &str) -> Result<(), Invalid> {
    check(
        ACKS.contains(&p.acks.as_str()),
        format!("{key}.acks"),
        format!("`{}` is not one of {}", p.acks, ACKS.join(", ")),
    )?;
    check(
        CODECS.contains(&p.compression.as_str()),
        format!("{key}.compression"),
        format!("`{}` is not one of {}", p.compression, CODECS.join(", ")),
    )?;
    let idempotent = p.idempotence || p.transaction_records.is_some();
    check(
        !idempotent || p.acks == "all" || p.acks == "-1",
        format!("{key}.acks"),
        format!("`{}` with idempotence or transactions: they need acks = \"all\"", p.acks),
    )
}

/// The run's clients (producers, and members of every group) stay under [`MAX_TOTAL_CLIENTS`].
fn check_client_count(s: &Scenario) -> Result<(), Invalid> {
    let producers: u64 = s.producers.iter().map(|p| u64::from(p.count)).sum();
    let members: u64 = s.consumers.iter().map(|c| u64::from(c.count) * u64::from(c.groups)).sum();
    check(
        producers + members <= MAX_TOTAL_CLIENTS,
        "consumers",
        format!(
            "{producers} producers and {members} group members are {} clients, above the {MAX_TOTAL_CLIENTS} one run may start",
            producers + members
        ),
    )
}

fn valid_name(name: &str) -> bool {
    (1..=100).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn check_size(size: &RecordSize, key: &str) -> Result<(), Invalid> {
    let (min, max) = size.bounds();
    let range = MIN_RECORD_BYTES..=MAX_RECORD_BYTES;
    check(range.contains(&min), key, format!("{min} bytes is not in {MIN_RECORD_BYTES}..={MAX_RECORD_BYTES}"))?;
    check(range.contains(&max), key, format!("{max} bytes is not in {MIN_RECORD_BYTES}..={MAX_RECORD_BYTES}"))?;
    check(min <= max, key, format!("min {min} is above max {max}"))
}

fn check_keys(keys: &KeySpec, key: &str) -> Result<(), Invalid> {
    let count = match *keys {
        KeySpec::None => return Ok(()),
        KeySpec::Uniform { count } => count,
        KeySpec::Zipf { count, exponent } => {
            check(
                exponent > 0.0 && exponent <= 10.0,
                format!("{key}.exponent"),
                format!("{exponent} is not in (0, 10]"),
            )?;
            count
        }
    };
    check((1..=MAX_KEYS).contains(&count), format!("{key}.count"), format!("{count} is not in 1..={MAX_KEYS}"))
}
