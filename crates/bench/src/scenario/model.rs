//! The scenario file format (TOML, `version = 1`): what a `weft bench --scenario` run creates, produces and
//! consumes. Only the shape and defaults live here; `validate` checks the values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only scenario format version this build reads.
pub const SCENARIO_VERSION: u32 = 1;

/// One benchmark scenario.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Measured seconds after the warmup; for a ramp, a cap on the whole ramp.
    pub duration_secs: u64,
    /// Seconds of load before measuring; its latencies are left out of the histograms and the ramp.
    #[serde(default)]
    pub warmup_secs: u64,
    pub topics: Vec<TopicSpec>,
    #[serde(default)]
    pub producers: Vec<ProducerSpec>,
    #[serde(default)]
    pub consumers: Vec<ConsumerSpec>,
    /// The latency a ramp holds the target to; required with a ramp.
    pub objective: Option<ObjectiveSpec>,
}

/// A topic created for the run (its name gets a per-run suffix, so runs never read each other's records).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Topic configs set at creation, e.g. `"cleanup.policy" = "compact"`.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// A group of identical producers sharing one rate.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProducerSpec {
    /// The topic's `name` in `topics` [default: the first topic].
    pub topic: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    /// Records per second of the whole group; without it (and without `ramp`) as fast as possible.
    pub rate: Option<u64>,
    /// Raise the group's rate step by step until the objective breaks.
    pub ramp: Option<RampSpec>,
    #[serde(default)]
    pub record_size: RecordSize,
    #[serde(default)]
    pub keys: KeySpec,
    #[serde(default = "default_acks")]
    pub acks: String,
    #[serde(default = "default_compression")]
    pub compression: String,
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    #[serde(default = "default_batch_size")]
    pub batch_size: u64,
    #[serde(default)]
    pub idempotence: bool,
    /// Records per transaction: each producer is transactional and commits every this many records.
    pub transaction_records: Option<u32>,
    /// Percentage of records sent as tombstones (null value) for their key: compaction churn.
    #[serde(default)]
    pub tombstone_percent: u8,
}

/// A stepped ramp of the offered rate: `start`, `start + step`, ... up to `max`, each held `step_secs`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RampSpec {
    pub start: u64,
    pub step: u64,
    pub step_secs: u64,
    pub max: u64,
}

/// Payload bytes of each record: a fixed size, or uniform between `min` and `max`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(untagged, expecting = "a byte count, or a table { min = BYTES, max = BYTES }")]
pub enum RecordSize {
    Fixed(u64),
    Range(SizeRange),
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SizeRange {
    pub min: u64,
    pub max: u64,
}

impl Default for RecordSize {
    fn default() -> Self {
        RecordSize::Fixed(1024)
    }
}

impl RecordSize {
    pub fn bounds(&self) -> (u64, u64) {
        match *self {
            RecordSize::Fixed(n) => (n, n),
            RecordSize::Range(SizeRange { min, max }) => (min, max),
        }
    }
}

/// How record keys are chosen.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Default)]
#[serde(tag = "distribution", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeySpec {
    /// No key: the client spreads records over partitions.
    #[default]
    None,
    /// Keys `0..count`, each equally likely.
    Uniform { count: u64 },
    /// Keys `0..count` with Zipf skew: key `k` (from 0) is drawn with weight `1 / (k + 1)^exponent`.
    Zipf { count: u64, exponent: f64 },
}

/// A set of consumer groups reading one topic.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub topic: Option<String>,
    /// Members per group.
    #[serde(default = "one")]
    pub count: u32,
    /// Independent groups, each reading every record (fan-out).
    #[serde(default = "one")]
    pub groups: u32,
    #[serde(default)]
    pub protocol: GroupProtocol,
    /// Rebalance storm: every this many seconds one member of each group leaves and joins again.
    pub rebalance_every_secs: Option<u64>,
}

/// The group protocol of a consumer set.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup (`group.protocol=classic`).
    #[default]
    Classic,
    /// KIP-848 (`group.protocol=consumer`).
    Consumer,
    /// A share group (KIP-932): drains what the producers appended, each record accepted once.
    Share,
}

/// Which latency an objective bounds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    ProduceAck,
    EndToEnd,
}

impl LatencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyKind::ProduceAck => "produce_ack",
            LatencyKind::EndToEnd => "end_to_end",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSpec {
    pub latency: LatencyKind,
    pub percentile: f64,
    pub max_ms: f64,
}

fn one() -> u32 {
    1
}
fn default_partitions() -> i32 {
    8
}
fn default_acks() -> String {
    "all".to_string()
}
fn default_compression() -> String {
    "lz4".to_string()
}
fn default_linger_ms() -> u64 {
    5
}
fn default_batch_size() -> u64 {
    1_048_576
}
