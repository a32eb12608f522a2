//! `weft plan`: a capacity and cost planner. From a workload (write and read rates, retention, record
//! and batch sizes, partitions, zones), given as flags or observed on a running cluster (`--from-metrics`),
//! it computes the Weft agents needed, object-store requests and bytes per hour, stored bytes, metastore
//! load, and a monthly cost beside an Apache Kafka cluster with replication 3 on EBS.
//!
//! The model is a pure function ([`plan`]) of [`Inputs`]; every capacity and price is an input with a
//! documented default and source (docs/plan.md). I/O lives only in [`scrape`] and [`run`].

mod args;
mod inputs;
mod kafka;
mod plan;
mod render;
pub mod scrape;
mod weft;

use std::time::Duration;

use serde::Serialize;

pub use args::PlanArgs;
pub use inputs::{GIB, HOURS_PER_MONTH, Inputs, MB};
pub use kafka::{KafkaCost, KafkaCrossZone, KafkaPlan};
pub use plan::{Plan, Workload, plan};
pub use render::table;
pub use scrape::Observed;
pub use weft::{Agents, MetastoreLoad, ObjectStore, WeftCost, WeftPlan};

/// Longest `--sample-secs` accepted (an hour).
const MAX_SAMPLE_SECS: f64 = 3600.0;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("invalid input: {name} {value} {rule}")]
    Invalid { name: &'static str, value: f64, rule: &'static str },
    #[error("no write rate: give --write-mb-per-sec or --from-metrics")]
    NoWriteRate,
    #[error("nothing was produced during the {secs} s sample: give --write-mb-per-sec")]
    NothingProduced { secs: f64 },
    #[error("cannot scrape {url}: {reason}")]
    Scrape { url: String, reason: String },
}

/// What `--json` prints: the plan, and what was observed when `--from-metrics` was given.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    #[serde(flatten)]
    pub plan: Plan,
}

/// Observes (when asked), plans, and returns the text `weft plan` prints.
pub async fn report(args: &PlanArgs) -> Result<String, PlanError> {
    let observed = if args.from_metrics.is_empty() {
        None
    } else {
        let secs = args.sample_secs;
        if !(secs.is_finite() && secs > 0.0 && secs <= MAX_SAMPLE_SECS) {
            return Err(PlanError::Invalid {
                name: "sample seconds",
                value: secs,
                rule: "must be above 0 and at most 3600",
            });
        }
        Some(scrape::observe(&args.from_metrics, Duration::from_secs_f64(secs)).await?)
    };
    let inputs = args.inputs(observed.as_ref())?;
    let plan = plan(&inputs);
    if args.json {
        let report = Report { observed, plan };
        // Serializing plain numbers, strings and booleans cannot fail; NaN was refused by validation.
        Ok(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n")
    } else {
        Ok(table(&plan, observed.as_ref()))
    }
}

/// `weft plan`: prints the plan.
pub async fn run(args: PlanArgs) -> anyhow::Result<()> {
    print!("{}", report(&args).await?);
    Ok(())
}
