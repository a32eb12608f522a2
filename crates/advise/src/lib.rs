//! `weft advise`: reads a running cluster's observed traffic and recommends concrete client and topic settings,
//! each with its expected effect and the observed figure behind it. Works against Kafka (admin APIs and raw
//! record sampling over the Kafka protocol) and uses Weft's per-client produce table when the target is Weft.
//!
//! The pipeline: `collect` (over `brokers`, `topics`, `groups`, `sampling` with `batch_stats`, `weft_clients`)
//! builds [`Observations`]; [`rules::recommend`] turns them into recommendations; `report` prints them.

mod batch_stats;
mod brokers;
mod collect;
mod groups;
pub mod observations;
mod report;
pub mod rules;
mod sampling;
mod topics;
mod weft_clients;

pub use observations::Observations;
pub use report::Report;
pub use rules::{Recommendation, Severity, recommend};

use anyhow::Result;
use std::time::Duration;
use weft_admin::ConnArgs;

#[derive(clap::Args, Debug, Clone)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Seconds between the two samples of offsets (rates, lag trend); groups are polled every second meanwhile
    #[arg(long, default_value_t = 10)]
    pub sample_secs: u64,
    /// Only these topics (repeatable); all non-internal topics by default
    #[arg(long)]
    pub topic: Vec<String>,
    /// Weft's admin HTTP base URL (e.g. http://127.0.0.1:9644, user:password@ for --admin-auth basic) for
    /// per-client produce figures; by default the bootstrap host's port 9644 is tried
    #[arg(long, alias = "metrics-url")]
    pub admin_url: Option<String>,
    /// Do not look for a Weft admin endpoint (advice from the Kafka protocol only)
    #[arg(long, conflicts_with = "admin_url")]
    pub no_admin: bool,
    /// Most bytes fetched per partition when sampling its latest batches
    #[arg(long, default_value_t = 1 << 20)]
    pub sample_bytes_per_partition: i32,
    /// Most bytes fetched when sampling, over all partitions
    #[arg(long, default_value_t = 64 << 20)]
    pub sample_max_bytes: u64,
    /// Most partitions observed (topics in name order)
    #[arg(long, default_value_t = 2000)]
    pub max_partitions: usize,
}

/// Observes the cluster and returns the report (observations, recommendations, notes).
pub async fn execute(args: &AdviseArgs) -> Result<Report> {
    let mut brokers = brokers::Brokers::connect(&args.conn).await?;
    let admin = match (&args.admin_url, args.no_admin) {
        (_, true) => None,
        (Some(url), _) => Some((weft_clients::admin_base(Some(url), &args.conn.bootstrap_servers), true)),
        (None, _) => Some((weft_clients::admin_base(None, &args.conn.bootstrap_servers), false)),
    };
    let plan = collect::Plan {
        window: Duration::from_secs(args.sample_secs.max(1)),
        topics: args.topic.clone(),
        max_partitions: args.max_partitions,
        budget: sampling::Budget {
            per_partition: args.sample_bytes_per_partition.max(1),
            total: args.sample_max_bytes,
        },
        admin,
    };
    let (observations, notes) = collect::observe(&mut brokers, &plan).await?;
    let recommendations = recommend(&observations);
    Ok(Report { version: 1, recommendations, observations, notes })
}

pub async fn run(args: AdviseArgs) -> Result<()> {
    let report = execute(&args).await?;
    report.print(args.conn.json)
}
