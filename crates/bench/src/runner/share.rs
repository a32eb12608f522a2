//! A scenario's share consumers: after the producers stopped, the existing share-group drain
//! (`crate::share`, KIP-932) reads everything the run appended; its accepted count is taken into the
//! intervals each second, and its exactly-once verdict becomes a problem of the run when it fails.

use anyhow::{Result, anyhow};
use indicatif::ProgressBar;

use super::control::Control;
use crate::args::BenchArgs;
use crate::cluster::PartitionRange;

/// Drains `ranges` of `args.topic` with `args.share_consumers` share consumers, ticking meanwhile; returns
/// the verdict's complaint, if any. Consumed bytes are counted at the run's mean produced record size.
pub(crate) async fn drain(
    control: &mut Control,
    args: BenchArgs,
    ranges: Vec<PartitionRange>,
    group_index: usize,
) -> Result<Option<String>> {
    let bar = ProgressBar::hidden();
    let task = {
        let bar = bar.clone();
        tokio::spawn(async move { crate::share::run_share(&args, ranges, &bar).await })
    };
    let mean_bytes = control.meter.mean_record_bytes();
    let mut counted = 0;
    loop {
        let finished = task.is_finished();
        let accepted = bar.position();
        let new = accepted.saturating_sub(counted);
        control.meter.accepted(group_index, new, (new as f64 * mean_bytes) as u64);
        counted = accepted;
        if finished {
            break;
        }
        control.tick().await;
    }
    let (report, verdict) = task.await.map_err(|e| anyhow!("the share drain panicked: {e}"))??;
    let new = report.throughput.records.saturating_sub(counted);
    control.meter.accepted(group_index, new, (new as f64 * mean_bytes) as u64);
    Ok(verdict.check().err().map(|e| format!("share group {}: {e:#}", report.group)))
}
