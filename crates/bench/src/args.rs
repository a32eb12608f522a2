//! Command-line arguments of `weft bench` and the librdkafka configurations
//! derived from them.

use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::Serialize;

/// Default `linger.ms` of the throughput (produce) phase.
pub const DEFAULT_PRODUCE_LINGER_MS: u64 = 5;
/// Default `linger.ms` of the end-to-end phase: small, so that measured
/// latency is not dominated by client-side batching.
pub const DEFAULT_E2E_LINGER_MS: u64 = 1;
/// Default warmup of the e2e phase in seconds.
const DEFAULT_E2E_WARMUP_SECS: u64 = 2;
/// librdkafka's own default for `message.max.bytes`.
const LIBRDKAFKA_MESSAGE_MAX_BYTES: u64 = 1_000_000;
/// Headroom above `batch.size` for request framing.
const REQUEST_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Upper bound librdkafka accepts for `message.max.bytes`.
const LIBRDKAFKA_MESSAGE_MAX_BYTES_LIMIT: u64 = 1_000_000_000;

/// Which phases of the benchmark to run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Produce `--records` records as fast as possible.
    Produce,
    /// Read the topic from its beginning up to the high watermarks seen at start.
    Consume,
    /// Produce at a fixed `--rate` and measure produce-to-consume latency.
    E2e,
    /// `produce`, then consume exactly what was produced, then `e2e`.
    All,
    /// `produce`, then drain the topic with a share group of `--share-consumers` (KIP-932) and check
    /// that every record was accepted exactly once.
    Share,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Produce => "produce",
            Mode::Consume => "consume",
            Mode::E2e => "e2e",
            Mode::All => "all",
            Mode::Share => "share",
        })
    }
}

/// Benchmark a Kafka-protocol broker (Weft or Apache Kafka) with a real Kafka
/// client (librdkafka).
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Comma-separated `host:port` list of brokers to bootstrap from.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub bootstrap_servers: String,

    /// Phases to run; `all` runs produce, then consumes what was produced, then e2e.
    #[arg(long, value_enum, default_value_t = Mode::All)]
    pub mode: Mode,

    /// Topic to use; created if missing (except in `consume` mode).
    #[arg(long, default_value = "weft-bench")]
    pub topic: String,

    /// Partition count used when the topic has to be created (replication factor 1).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,

    /// Payload size of each record in bytes (e2e uses at least 24 bytes for its header).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub record_size: u64,

    /// Number of records to produce in the produce phase.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,

    /// Optional time cap in seconds for the produce and consume phases [default: no cap]; with
    /// `--scenario`, the scenario's measured duration (and the cap on its ramp).
    #[arg(long)]
    pub duration_secs: Option<u64>,

    /// Run a scenario: a shipped one's name (`weft bench scenarios` lists them) or a TOML file. The
    /// scenario replaces `--mode` and the topic, rate and producer settings.
    #[arg(long, value_name = "NAME|FILE")]
    pub scenario: Option<String>,

    /// `--scenario`: hold each ramp step this many seconds instead of the scenario's `step_secs`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub step_secs: Option<u64>,

    /// `--scenario`: where to write report.json and report.html [default: weft-bench-<scenario>-<UTC time>].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<std::path::PathBuf>,

    /// `--scenario`: process id of the target when it runs on this host, so its CPU and memory are sampled.
    #[arg(long)]
    pub target_pid: Option<u32>,

    /// `--scenario`: keep the run's topics instead of deleting them at the end.
    #[arg(long)]
    pub keep_topics: bool,

    /// Producer `acks` (`all`, `1`, `0`, ...).
    #[arg(long, default_value = "all")]
    pub acks: String,

    /// Producer `compression.type` (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    #[arg(long, default_value = "lz4")]
    pub compression: String,

    /// Producer `linger.ms` [default: 5 for produce, 1 for e2e; when given it applies to both].
    #[arg(long)]
    pub linger_ms: Option<u64>,

    /// Producer `batch.size` in bytes.
    #[arg(long, default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1..=2_147_483_647))]
    pub batch_size: u64,

    /// Consumer `fetch.wait.max.ms` (longest time the broker may hold a fetch).
    #[arg(long, default_value_t = 100)]
    pub fetch_wait_max_ms: u64,

    /// Target produce rate of the e2e phase in records per second.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub rate: u64,

    /// Measured duration of the e2e phase in seconds (after the warmup).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub e2e_duration_secs: u64,

    /// Warmup in seconds of the e2e phase [default: 2], or of a `--scenario` [default: the scenario's];
    /// its samples are not counted.
    #[arg(long)]
    pub warmup_secs: Option<u64>,

    /// Timeout in seconds for metadata, topic creation and watermark requests.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,

    /// The agent's Prometheus endpoint (e.g. `http://127.0.0.1:9644/metrics`): report the object-store
    /// requests of each phase, PUTs per GiB produced and GETs per GiB consumed, from its counters before
    /// and after the phase. Best against an otherwise idle agent: the counters cover all its traffic.
    #[arg(long)]
    pub metrics_url: Option<String>,

    /// Frame each value of the produce phase in Confluent's wire format with this schema id (magic byte 0 and
    /// the id, then pseudo-random bytes), to measure broker-side schema validation. An Avro schema
    /// `{"type":"fixed","name":"F","size":<record-size minus 5>}` also passes deep validation.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub schema_id: Option<i32>,

    /// `--mode share`: share consumers in the group, each with its own member id and share sessions.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub share_consumers: u16,

    /// `--mode share`: the share group [default: a new one per run].
    #[arg(long)]
    pub share_group: Option<String>,

    /// `--mode share`: ShareFetch MaxRecords (librdkafka's `max.poll.records`).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i32).range(1..))]
    pub share_max_records: i32,

    /// `--mode share`: RELEASE this percentage of the records on their first delivery (accept them on the
    /// next) and report the redelivery latency.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub share_release_percent: u8,

    /// `--mode share`: a group config set before the consumers join (after `share.auto.offset.reset=earliest`),
    /// KEY=VALUE, repeatable, e.g. share.record.lock.duration.ms=15000.
    #[arg(long = "share-group-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub share_group_config: Vec<(String, String)>,

    /// Print the final summary as one JSON object on stdout (disables progress bars).
    #[arg(long)]
    pub json: bool,

    /// Extra librdkafka producer setting, KEY=VALUE; repeatable, overrides the defaults above.
    #[arg(long = "producer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub producer_config: Vec<(String, String)>,

    /// Extra librdkafka consumer setting, KEY=VALUE; repeatable, overrides the defaults above.
    #[arg(long = "consumer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub consumer_config: Vec<(String, String)>,

    /// A librdkafka property for every client, e.g. -X security.protocol=SASL_SSL -X ssl.ca.location=ca.pem
    /// (repeatable; wins over --command-config), as the other `weft` client commands take it.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub property: Vec<(String, String)>,

    /// A Java properties file of client properties for every client (as Kafka's tools take), e.g. the
    /// security settings of a SASL_SSL listener.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,

    /// The properties read from `--command-config`, set by the caller that reads the file (the `weft`
    /// CLI, with the reader the other client commands use) before [`crate::run`]; `None`: not read.
    #[arg(skip)]
    pub command_config_properties: Option<Vec<(String, String)>>,
}

/// Parses a `KEY=VALUE` pair; the value may itself contain `=`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

impl BenchArgs {
    /// Timeout for metadata / admin / watermark requests.
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Warmup of the e2e phase.
    pub(crate) fn e2e_warmup_secs(&self) -> u64 {
        self.warmup_secs.unwrap_or(DEFAULT_E2E_WARMUP_SECS)
    }

    /// Optional cap for the produce and consume phases.
    pub(crate) fn duration_cap(&self) -> Option<Duration> {
        self.duration_secs.map(Duration::from_secs)
    }

    /// Configuration shared by every client: bootstrap servers, then the `--command-config` properties,
    /// then the `-X` ones (later ones win).
    pub(crate) fn base_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("client.id", "weft-bench")
            .set("log.connection.close", "false")
            .set("socket.connection.setup.timeout.ms", (self.timeout_secs.max(1) * 1000).to_string());
        for (key, value) in self.command_config_properties.iter().flatten().chain(&self.property) {
            config.set(key, value);
        }
        config
    }

    /// Fails when `--command-config` was given but its properties were not read (a caller bug, which
    /// would otherwise connect without the security settings the file holds).
    pub(crate) fn check_command_config(&self) -> anyhow::Result<()> {
        match (&self.command_config, &self.command_config_properties) {
            (Some(path), None) => anyhow::bail!("--command-config {} was not read", path.display()),
            _ => Ok(()),
        }
    }

    /// The producer's effective `message.timeout.ms` (0, i.e. infinite, and
    /// unparsable values are treated as librdkafka's default of 300 s).
    pub(crate) fn message_timeout(&self, e2e: bool) -> Duration {
        let ms = self
            .producer_config(e2e)
            .get("message.timeout.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .unwrap_or(300_000);
        Duration::from_millis(ms)
    }

    /// Producer configuration; `e2e` selects the latency-oriented linger default.
    pub(crate) fn producer_config(&self, e2e: bool) -> ClientConfig {
        let default_linger = if e2e { DEFAULT_E2E_LINGER_MS } else { DEFAULT_PRODUCE_LINGER_MS };
        let linger = self.linger_ms.unwrap_or(default_linger);
        let mut config = self.base_config();
        config
            .set("acks", &self.acks)
            .set("compression.type", &self.compression)
            .set("linger.ms", linger.to_string())
            .set("batch.size", self.batch_size.to_string())
            .set("message.max.bytes", message_max_bytes(self.batch_size, self.record_size).to_string())
            .set("message.timeout.ms", "60000");
        for (key, value) in &self.producer_config {
            config.set(key, value);
        }
        config
    }

    /// Consumer configuration for `assign`-based reading (no group coordination,
    /// no commits). librdkafka needs a `group.id` to allow `assign`, so a
    /// unique one is generated; it is never joined or committed to.
    /// `partition_eof` enables end-of-partition events (used to detect the end
    /// of the consume phase).
    pub(crate) fn consumer_config(&self, purpose: &str, partition_eof: bool) -> ClientConfig {
        let mut config = self.base_config();
        let group = format!("weft-bench-{purpose}-{}", std::process::id());
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", partition_eof.to_string())
            .set("auto.offset.reset", "earliest")
            .set("fetch.max.bytes", (50 * 1024 * 1024).to_string())
            .set("max.partition.fetch.bytes", (10 * 1024 * 1024).to_string())
            .set("fetch.wait.max.ms", self.fetch_wait_max_ms.to_string());
        for (key, value) in &self.consumer_config {
            config.set(key, value);
        }
        config
    }
}

/// `message.max.bytes` for the producer: large enough that `batch.size` (and
/// a single record) is not silently capped by librdkafka's 1 MB default.
pub(crate) fn message_max_bytes(batch_size: u64, record_size: u64) -> u64 {
    batch_size
        .max(record_size)
        .saturating_add(REQUEST_OVERHEAD_BYTES)
        .clamp(LIBRDKAFKA_MESSAGE_MAX_BYTES, LIBRDKAFKA_MESSAGE_MAX_BYTES_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn defaults() {
        let args = Cli::try_parse_from(["bench"]).unwrap().bench;
        assert_eq!(args.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(args.mode, Mode::All);
        assert_eq!(args.topic, "weft-bench");
        assert_eq!(args.partitions, 8);
        assert_eq!(args.record_size, 1024);
        assert_eq!(args.records, 1_000_000);
        assert_eq!(args.duration_secs, None);
        assert_eq!(args.acks, "all");
        assert_eq!(args.compression, "lz4");
        assert_eq!(args.linger_ms, None);
        assert_eq!(args.batch_size, 1_048_576);
        assert_eq!(args.rate, 5000);
        assert_eq!(args.e2e_duration_secs, 30);
        assert_eq!((args.warmup_secs, args.e2e_warmup_secs()), (None, 2));
        assert_eq!(
            (args.scenario.clone(), args.step_secs, args.report_dir.clone(), args.target_pid, args.keep_topics),
            (None, None, None, None, false)
        );
        assert!(!args.json);
        assert_eq!(args.metrics_url, None);
        assert_eq!((args.share_consumers, args.share_max_records, args.share_release_percent), (1, 500, 0));
        let produce = args.producer_config(false);
        assert_eq!(produce.get("linger.ms"), Some("5"));
        let e2e = args.producer_config(true);
        assert_eq!(e2e.get("linger.ms"), Some("1"));
        assert_eq!(args.message_timeout(false), Duration::from_secs(60));
    }

    #[test]
    fn passthrough_and_linger_override() {
        let args = Cli::try_parse_from([
            "bench",
            "--mode",
            "e2e",
            "--linger-ms",
            "7",
            "--producer-config",
            "acks=1",
            "--producer-config",
            "sasl.jaas=a=b",
            "--consumer-config",
            "fetch.wait.max.ms=5",
        ])
        .unwrap()
        .bench;
        assert_eq!(args.mode, Mode::E2e);
        let p = args.producer_config(true);
        assert_eq!(p.get("linger.ms"), Some("7"));
        assert_eq!(p.get("acks"), Some("1"));
        assert_eq!(p.get("sasl.jaas"), Some("a=b"));
        let c = args.consumer_config("test", true);
        assert_eq!(c.get("fetch.wait.max.ms"), Some("5"));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        let zero = Cli::try_parse_from(["bench", "--producer-config", "message.timeout.ms=0"]).unwrap().bench;
        assert_eq!(zero.message_timeout(true), Duration::from_secs(300));
    }

    #[test]
    fn command_config_properties_apply_to_every_client_and_x_wins() {
        let mut args = Cli::try_parse_from(["bench", "--command-config", "client.properties", "-X", "sasl.username=x"])
            .unwrap()
            .bench;
        assert!(args.check_command_config().is_err(), "the file was not read");
        args.command_config_properties =
            Some(vec![("security.protocol".into(), "SASL_SSL".into()), ("sasl.username".into(), "from-file".into())]);
        assert!(args.check_command_config().is_ok());
        for config in [args.base_config(), args.producer_config(false), args.consumer_config("t", false)] {
            assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
            assert_eq!(config.get("sasl.username"), Some("x"), "-X wins over the file");
        }
    }

    #[test]
    fn key_value_parsing() {
        assert_eq!(parse_key_value("a=b"), Ok(("a".to_string(), "b".to_string())));
        assert_eq!(parse_key_value("a="), Ok(("a".to_string(), String::new())));
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=x").is_err());
    }

    #[test]
    fn invalid_values_rejected() {
        assert!(Cli::try_parse_from(["bench", "--rate", "0"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--partitions", "0"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--mode", "bogus"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--share-consumers", "0"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--share-release-percent", "101"]).is_err());
    }

    #[test]
    fn message_max_bytes_covers_batch() {
        assert_eq!(message_max_bytes(1000, 10), 1_000_000);
        assert_eq!(message_max_bytes(1_048_576, 1024), 1_048_576 + 65_536);
        assert_eq!(message_max_bytes(u64::MAX, 1), 1_000_000_000);
    }
}
