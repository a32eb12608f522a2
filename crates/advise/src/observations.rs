//! What the advisor observed of a cluster over one sampling window: the input of every rule, and part of the
//! `--json` output so each recommendation's evidence can be checked against the raw figures.
//!
//! Kept apart from how it is collected (`collect`) so the rules can be tested on constructed traffic.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Observations {
    /// Seconds between the first and the second sample of offsets.
    pub window_secs: f64,
    /// Brokers (agents) in the cluster's metadata.
    pub brokers: usize,
    pub topics: Vec<TopicObs>,
    pub groups: Vec<GroupObs>,
    /// Per-client-id produce traffic, only a Weft agent reports it (`/v1/clients`); empty against Kafka.
    pub clients: Vec<ClientObs>,
}

/// Topic configs that matter to the rules (from DescribeConfigs); `None` when not reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TopicConfigs {
    pub retention_ms: Option<i64>,
    pub cleanup_policy: Option<String>,
    pub compression_type: Option<String>,
    pub segment_bytes: Option<i64>,
    pub max_message_bytes: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TopicObs {
    pub name: String,
    pub configs: TopicConfigs,
    pub partitions: Vec<PartitionObs>,
    /// What the latest batches of the topic's partitions looked like; `None` when nothing could be sampled.
    pub sample: Option<RecordSample>,
}

impl TopicObs {
    /// Records per second written to the whole topic during the window.
    pub fn records_per_sec(&self, window_secs: f64) -> f64 {
        self.partitions.iter().map(|p| p.records_per_sec(window_secs)).sum()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PartitionObs {
    pub partition: i32,
    pub start_offset: i64,
    /// Log end offset at the first and at the second sample.
    pub end_before: i64,
    pub end_after: i64,
}

impl PartitionObs {
    pub fn produced(&self) -> i64 {
        (self.end_after - self.end_before).max(0)
    }

    pub fn records_per_sec(&self, window_secs: f64) -> f64 {
        per_sec(self.produced() as f64, window_secs)
    }
}

/// Figures from the raw batches of a topic's latest data (headers, and keys and sizes of the records).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordSample {
    pub batches: u64,
    pub records: u64,
    /// Batch bytes as stored (compressed when the batch is).
    pub batch_bytes: u64,
    /// Bytes of the batches' record sections as stored, and after decompression.
    pub stored_record_bytes: u64,
    pub uncompressed_record_bytes: u64,
    /// Batches per codec name.
    pub codecs: BTreeMap<String, u64>,
    /// For uncompressed batches: the record bytes compressed here with zstd and with lz4, to estimate the gain.
    pub estimate: Option<CompressionEstimate>,
    /// Batches with a producer id (idempotent or transactional) and without.
    pub idempotent_batches: u64,
    pub plain_batches: u64,
    /// Distinct producer ids seen.
    pub producers: u64,
    /// Median milliseconds between consecutive batches of the same producer in a partition (linger effect).
    pub median_batch_gap_ms: Option<f64>,
    /// Records with a key, distinct keys, and the most frequent key's share of the keyed records.
    pub keyed_records: u64,
    pub distinct_keys: u64,
    pub top_key: Option<String>,
    pub top_key_share: f64,
}

impl RecordSample {
    pub fn records_per_batch(&self) -> f64 {
        ratio(self.records as f64, self.batches as f64)
    }

    pub fn bytes_per_batch(&self) -> f64 {
        ratio(self.batch_bytes as f64, self.batches as f64)
    }

    /// Share of the sampled batches that are not compressed.
    pub fn uncompressed_share(&self) -> f64 {
        ratio(self.codecs.get("none").copied().unwrap_or(0) as f64, self.batches as f64)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CompressionEstimate {
    pub input_bytes: u64,
    pub zstd_bytes: u64,
    pub lz4_bytes: u64,
}

impl CompressionEstimate {
    /// Input bytes over zstd output bytes.
    pub fn zstd_ratio(&self) -> f64 {
        ratio(self.input_bytes as f64, self.zstd_bytes as f64)
    }

    pub fn lz4_ratio(&self) -> f64 {
        ratio(self.input_bytes as f64, self.lz4_bytes as f64)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupObs {
    pub group_id: String,
    /// "consumer" (classic protocol), "" or another type; KIP-848 groups list as "consumer" with group type.
    pub protocol_type: String,
    /// "classic" or "consumer" (KIP-848), when the cluster says.
    pub group_type: Option<String>,
    /// State at the end of the window.
    pub state: String,
    pub members: usize,
    /// Membership changes seen while polling the group through the window (a new or a departed member id),
    /// and polls that found it rebalancing.
    pub member_changes: u32,
    pub rebalancing_polls: u32,
    pub polls: u32,
    /// Members with a `group.instance.id` (static membership).
    pub static_members: usize,
    pub partitions: Vec<GroupPartitionObs>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupPartitionObs {
    pub topic: String,
    pub partition: i32,
    pub committed_before: i64,
    pub committed_after: i64,
    pub end_before: i64,
    pub end_after: i64,
}

impl GroupPartitionObs {
    pub fn lag_before(&self) -> i64 {
        (self.end_before - self.committed_before).max(0)
    }

    pub fn lag_after(&self) -> i64 {
        (self.end_after - self.committed_after).max(0)
    }
}

/// One producer client id as a Weft agent saw it during the window (differences of two `/v1/clients` reads).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientObs {
    pub client_id: String,
    pub requests: u64,
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub uncompressed_bytes: u64,
    pub codecs: BTreeMap<String, u64>,
    /// Decompressed over stored record bytes, as the agent measured (1.0 when nothing is compressed).
    pub compression_ratio: f64,
    pub window_secs: f64,
}

impl ClientObs {
    pub fn requests_per_sec(&self) -> f64 {
        per_sec(self.requests as f64, self.window_secs)
    }

    pub fn batches_per_sec(&self) -> f64 {
        per_sec(self.batches as f64, self.window_secs)
    }

    pub fn records_per_batch(&self) -> f64 {
        ratio(self.records as f64, self.batches as f64)
    }

    pub fn bytes_per_batch(&self) -> f64 {
        ratio(self.bytes as f64, self.batches as f64)
    }

    pub fn batches_per_request(&self) -> f64 {
        ratio(self.batches as f64, self.requests as f64)
    }
}

/// `n` over `secs`, 0 for an empty window.
pub fn per_sec(n: f64, secs: f64) -> f64 {
    ratio(n, secs)
}

pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
