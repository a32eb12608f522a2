//! Prometheus metrics. Counters and histograms are recorded where things happen (through the `metrics`
//! facade, also used by the storage and meta crates); gauges that describe state (consumer lag, group
//! members, open transactions, process CPU and memory) are computed when `/metrics` is scraped.
//!
//! One recorder serves the process (the facade is global); every agent in it renders the same registry.
//! Metric names are listed in `deploy/` and checked against a live scrape by the client test suite.

use crate::Agent;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Latency buckets in seconds: 0.5 ms to 30 s.
const SECONDS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Size buckets in bytes: 1 KiB to 64 MiB.
const BYTES: &[f64] = &[1024.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 8388608.0, 16777216.0, 67108864.0];

/// Lag is reported for at most this many groups per scrape (bounded work per scrape).
const MAX_LAG_GROUPS: usize = 1000;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle, or `None` if another recorder was
/// installed first (then metrics are not rendered, and `/metrics` says so).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), BYTES));
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder could not be configured");
                    return None;
                }
            };
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    // Present from the start, so alerts on them evaluate to 0 rather than to nothing.
                    metrics::counter!("weft_flush_errors_total").increment(0);
                    metrics::counter!("weft_transactions_total", "result" => "committed").increment(0);
                    metrics::counter!("weft_transactions_total", "result" => "aborted").increment(0);
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder was already installed");
                    None
                }
            }
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("weft_requests_total", "Kafka requests received, by API and version");
    describe_histogram!("weft_request_duration_seconds", Unit::Seconds, "Time from request decode to response, by API");
    describe_counter!("weft_request_errors_total", "Error codes returned, by API and Kafka error code");
    describe_gauge!("weft_connections_active", "Open client connections");
    describe_counter!("weft_connections_total", "Client connections accepted");
    describe_counter!("weft_bytes_in_total", "Record bytes appended, by topic");
    describe_counter!("weft_records_in_total", "Records appended, by topic");
    describe_counter!("weft_bytes_out_total", "Record bytes served to fetches, by topic");
    describe_counter!("weft_records_out_total", "Records served to fetches (control records excluded), by topic");
    describe_histogram!("weft_flush_size_bytes", Unit::Bytes, "Size of each flushed segment object");
    describe_histogram!("weft_flush_duration_seconds", Unit::Seconds, "Flush stages: upload wait and metastore commit");
    describe_counter!("weft_flush_errors_total", "Flushes that failed (producers got an error)");
    describe_counter!("weft_consumer_group_rebalances_total", "Completed rebalances (joins), by group");
    describe_gauge!("weft_consumer_group_members", "Members of each group");
    describe_gauge!("weft_consumer_group_lag", "High watermark minus committed offset, by group, topic and partition");
    describe_counter!("weft_transactions_total", "Transactions ended, by result (committed, aborted)");
    describe_gauge!("weft_transactions_open", "Transactions ongoing or being completed");
    describe_gauge!("process_cpu_seconds_total", "CPU time used by the process");
    describe_gauge!("process_resident_memory_bytes", "Resident memory of the process");
    describe_gauge!("process_open_fds", "Open file descriptors of the process");
}

/// Counts one error code returned by `api` (zero is not an error and is not counted).
pub fn error(api: &'static str, code: i16) {
    if code != 0 {
        metrics::counter!("weft_request_errors_total", "api" => api, "code" => code.to_string()).increment(1);
    }
}

/// Renders the exposition text after refreshing the scrape-time gauges.
pub async fn render(agent: &Agent) -> Option<String> {
    let handle = HANDLE.get().cloned().flatten()?;
    refresh_groups(agent).await;
    refresh_transactions(agent).await;
    refresh_process();
    handle.run_upkeep();
    Some(handle.render())
}

async fn refresh_groups(agent: &Agent) {
    for (group, _protocol, _state) in agent.groups.list() {
        let members = agent.groups.describe(&group).map(|g| g.members.len()).unwrap_or(0);
        metrics::gauge!("weft_consumer_group_members", "group" => group).set(members as f64);
    }
    let groups = match agent.meta.groups_with_offsets().await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: listing groups failed");
            return;
        }
    };
    for group in groups.into_iter().take(MAX_LAG_GROUPS) {
        let Ok(offsets) = agent.meta.committed_offsets(&group, None).await else { continue };
        for o in offsets {
            let Ok(Some(topic)) = agent.topics.get(agent.meta.as_ref(), &o.topic).await else { continue };
            let Ok(Some(bounds)) = agent.partitions.offsets(agent.meta.as_ref(), topic.topic.id, o.partition).await
            else {
                continue;
            };
            let lag = (bounds.next_offset - o.offset).max(0);
            metrics::gauge!("weft_consumer_group_lag", "group" => group.clone(), "topic" => o.topic, "partition" => o.partition.to_string())
                .set(lag as f64);
        }
    }
}

async fn refresh_transactions(agent: &Agent) {
    use weft_meta::TxnState;
    let open = [TxnState::Ongoing, TxnState::PrepareCommit, TxnState::PrepareAbort];
    if let Ok(t) = agent.meta.list_transactions(Some(&open)).await {
        metrics::gauge!("weft_transactions_open").set(t.len() as f64);
    }
}

/// Linux process figures from /proc (absent elsewhere).
fn refresh_process() {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the state field; in clock
        // ticks, which Linux fixes at 100 per second for user space.
        let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
        metrics::gauge!("process_cpu_seconds_total").set(ticks / 100.0);
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    {
        metrics::gauge!("process_resident_memory_bytes").set(kb * 1024.0);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(dir.count() as f64);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn process_figures_are_read_from_proc() {
        let handle = super::install().expect("recorder installs in a test process");
        super::refresh_process();
        let text = handle.render();
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        assert!(text.contains("process_cpu_seconds_total"), "{text}");
    }
}
