//! Prometheus metrics. Counters and histograms are recorded where things happen (through the `metrics`
//! facade, also used by the storage and meta crates); gauges that describe state (consumer lag, group
//! members, open transactions, process CPU and memory) are computed and written when `/metrics` is scraped.
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
                    metrics::counter!("weft_peer_reads_total", "result" => "peer").increment(0);
                    metrics::counter!("weft_accept_errors_total").increment(0);
                    metrics::counter!("weft_audit_write_errors_total").increment(0);
                    for op in ["commit_segment", "commit_offsets", "heartbeat_agent", "acquire_leases"] {
                        metrics::counter!("weft_metastore_errors_total", "op" => op).increment(0);
                    }
                    metrics::gauge!("weft_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
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
    describe_counter!(
        "weft_connection_timeouts_total",
        "Connections closed for inactivity, by reason (idle, frame_incomplete)"
    );
    describe_counter!(
        "weft_accept_errors_total",
        "Failed accepts on the Kafka listener (e.g. out of file descriptors)"
    );
    describe_counter!("weft_http_accept_errors_total", "Failed accepts on an HTTP listener, by listener (admin, peer)");
    describe_counter!(
        "weft_http_tls_failures_total",
        "Failed TLS handshakes on an HTTP listener, by listener (admin, peer) and reason (timeout, handshake, principal)"
    );
    describe_counter!(
        "weft_http_authentications_total",
        "Admin listener authentications, by method (basic, mtls) and result (success, failure, missing)"
    );
    describe_gauge!(
        "weft_request_bytes_reserved",
        Unit::Bytes,
        "Bytes reserved by requests being read (queued.max.request.bytes)"
    );
    describe_gauge!("weft_request_bytes_limit", Unit::Bytes, "The queued.max.request.bytes budget");
    describe_gauge!("weft_store_writable", "1 while the latest write to the store succeeded, by store (readiness)");
    describe_gauge!(
        "weft_agent_serves_clients",
        "1 when this agent has the kafka role (serves clients and is counted in weft_cluster_brokers), 0 for jobs only"
    );
    describe_gauge!("weft_cluster_brokers", "Live agents serving clients, as this agent last read the registry");
    describe_gauge!("weft_coordinator_shards", "Coordinator shards (of 50) whose lease this agent holds");
    describe_counter!("weft_bytes_in_total", "Record bytes appended, by topic");
    describe_counter!("weft_records_in_total", "Records appended, by topic");
    describe_counter!("weft_bytes_out_total", "Record bytes served to fetches, by topic");
    describe_counter!("weft_records_out_total", "Records served to fetches (control records excluded), by topic");
    describe_counter!(
        "weft_share_records_total",
        "Share-group records by event: acquired, redelivered, acknowledged, released, rejected, archived, lock_timeout"
    );
    describe_gauge!("weft_share_sessions", "Share sessions open on this agent");
    describe_gauge!("weft_share_partitions_loaded", "Share partitions whose state this agent holds");
    describe_histogram!("weft_flush_size_bytes", Unit::Bytes, "Size of each flushed segment object");
    describe_histogram!("weft_flush_duration_seconds", Unit::Seconds, "Flush stages: upload wait and metastore commit");
    describe_counter!("weft_flush_errors_total", "Flushes that failed (producers got an error)");
    describe_counter!(
        "weft_fetch_index_reads_total",
        "Index lookups of fetches, by source: tail (recent commits held in memory) or metastore"
    );
    describe_counter!(
        "weft_fetch_read_ahead_bytes_total",
        "Bytes of objects loaded into the segment cache ahead of a lagging consumer's next fetch"
    );
    describe_counter!("weft_object_store_requests_total", "Object store requests, by operation and result (ok, error)");
    describe_counter!(
        "weft_object_store_retries_total",
        "Object store attempts that failed and were repeated, by operation and reason (throttled, timeout, server, other)"
    );
    describe_gauge!(
        "weft_build_info",
        "Always 1, labelled with the agent's version (a mixed-version cluster shows two)"
    );
    describe_histogram!(
        "weft_object_store_request_duration_seconds",
        Unit::Seconds,
        "Object store request latency, by operation"
    );
    describe_counter!("weft_object_store_bytes_total", "Bytes written to and read from the object store, by operation");
    describe_counter!("weft_cache_requests_total", "Segment cache lookups, by result (hit, miss)");
    describe_counter!(
        "weft_peer_reads_total",
        "Cache misses read from the agent of this zone owning the object, by result (peer, or fallback to the \
         object store with the reason: unreachable, timeout, status, length, cooling_down, error)"
    );
    describe_counter!("weft_peer_read_bytes_total", Unit::Bytes, "Bytes read from other agents of this zone");
    describe_counter!(
        "weft_peer_served_total",
        "Peer reads this agent answered for others of its zone, by result (ok, bad_request, not_found, bad_range, \
         too_large, forbidden, error)"
    );
    describe_counter!("weft_peer_served_bytes_total", Unit::Bytes, "Bytes served to other agents of this zone");
    describe_security();
    describe_histogram!(
        "weft_metastore_transaction_duration_seconds",
        Unit::Seconds,
        "Metastore write transaction latency, by operation"
    );
    describe_counter!("weft_metastore_errors_total", "Metastore write transactions that failed, by operation");
    describe_counter!("weft_consumer_group_rebalances_total", "Completed rebalances (joins), by group");
    describe_counter!("weft_transactions_total", "Transactions ended, by result (committed, aborted)");
    describe_histogram!(
        "weft_maintenance_throttle_wait_seconds",
        Unit::Seconds,
        "Each wait of a maintenance job for its byte budget (_sum: the time throttled)"
    );
    describe_counter!("weft_maintenance_runs_total", "Maintenance job runs, by job and result");
    describe_counter!(
        "weft_maintenance_bytes_total",
        "Bytes reclaimed by log compaction, or copied by object compaction (merge)"
    );
    describe_counter!("weft_gc_objects_deleted_total", "Objects deleted by the garbage collector, by kind");
}

/// Counts one error code returned by `api` (zero is not an error and is not counted).
pub fn error(api: &'static str, code: i16) {
    if code != 0 {
        metrics::counter!("weft_request_errors_total", "api" => api, "code" => code.to_string()).increment(1);
    }
}

/// Renders the exposition text: the recorder's counters and histograms, then the state gauges computed now.
/// State gauges are written directly rather than kept in the recorder, so a group that left or a partition
/// whose offsets were deleted disappears from the next scrape instead of lingering at its last value.
pub async fn render(agent: &Agent) -> Option<String> {
    let handle = HANDLE.get().cloned().flatten()?;
    handle.run_upkeep();
    let mut out = handle.render();
    let mut g = Gauges(&mut out);
    group_gauges(agent, &mut g).await;
    transaction_gauges(agent, &mut g).await;
    topic_gauges(agent, &mut g).await;
    object_store_costs(&agent.storage.usage(), &prices(agent), &mut g);
    process_gauges(&mut g);
    Some(out)
}

/// Writes state metric families (gauges, and the process CPU counter) in the text exposition format.
struct Gauges<'a>(&'a mut String);

impl Gauges<'_> {
    fn family(&mut self, name: &str, help: &str) {
        self.family_of("gauge", name, help);
    }

    /// A family of another type (process CPU time is a counter by Prometheus convention).
    fn family_of(&mut self, kind: &str, name: &str, help: &str) {
        use std::fmt::Write;
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        use std::fmt::Write;
        let _ = write!(self.0, "{name}");
        for (i, (k, v)) in labels.iter().enumerate() {
            let sep = if i == 0 { '{' } else { ',' };
            let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            let _ = write!(self.0, "{sep}{k}=\"{v}\"");
        }
        let close = if labels.is_empty() { "" } else { "}" };
        let _ = writeln!(self.0, "{close} {value}");
    }
}

async fn group_gauges(agent: &Agent, g: &mut Gauges<'_>) {
    g.family("weft_consumer_group_members", "Members of each group with members (classic and consumer protocol)");
    for (group, _protocol, _state) in agent.groups.list() {
        let members = agent.groups.describe(&group).map(|d| d.members.len()).unwrap_or(0);
        g.sample("weft_consumer_group_members", &[("group", &group)], members as f64);
    }
    for (group, _state) in agent.groups.list_consumer_groups() {
        let members = agent.groups.describe_consumer_group(&group).map(|d| d.members.len()).unwrap_or(0);
        g.sample("weft_consumer_group_members", &[("group", &group)], members as f64);
    }
    let groups = match agent.meta.groups_with_offsets().await {
        Ok(groups) => groups,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: listing groups failed");
            return;
        }
    };
    g.family("weft_consumer_group_lag", "High watermark minus committed offset, by group, topic and partition");
    for group in groups.into_iter().take(MAX_LAG_GROUPS) {
        let Ok(offsets) = agent.meta.committed_offsets(&group, None).await else { continue };
        for o in offsets {
            let Ok(Some(topic)) = agent.topics.get(agent.meta.as_ref(), &o.topic).await else { continue };
            let Ok(Some(bounds)) = agent.partitions.offsets(agent.meta.as_ref(), topic.topic.id, o.partition).await
            else {
                continue;
            };
            let lag = (bounds.next_offset - o.offset).max(0);
            let partition = o.partition.to_string();
            let labels = [("group", group.as_str()), ("topic", o.topic.as_str()), ("partition", partition.as_str())];
            g.sample("weft_consumer_group_lag", &labels, lag as f64);
        }
    }
}

async fn transaction_gauges(agent: &Agent, g: &mut Gauges<'_>) {
    use weft_meta::TxnState;
    let open = [TxnState::Ongoing, TxnState::PrepareCommit, TxnState::PrepareAbort];
    if let Ok(t) = agent.meta.list_transactions(Some(&open)).await {
        g.family("weft_transactions_open", "Transactions ongoing or being completed");
        g.sample("weft_transactions_open", &[], t.len() as f64);
        g.family(
            "weft_transactions_max_overdue_seconds",
            "How long the open transaction furthest past its timeout has been overdue (0: none is); the \
             coordinator aborts a transaction at its timeout, so a growing value is a stuck one",
        );
        g.sample("weft_transactions_max_overdue_seconds", &[], max_overdue_seconds(&t, agent.clock.now_ms()));
    }
}

/// Seconds the open transaction furthest past its timeout has been overdue at `now_ms`, 0 if none is.
fn max_overdue_seconds(open: &[weft_meta::TransactionMeta], now_ms: i64) -> f64 {
    open.iter()
        .filter(|t| t.start_ms >= 0)
        .map(|t| now_ms.saturating_sub(t.start_ms).saturating_sub(i64::from(t.timeout_ms)))
        .max()
        .map_or(0.0, |overdue| overdue.max(0) as f64 / 1000.0)
}

/// Topics with more partitions than this get topic-level series only (bounded scrape size).
const MAX_PARTITION_SERIES: usize = 10_000;

/// Stored bytes and objects by topic; log start, end and cleaner position by partition.
async fn topic_gauges(agent: &Agent, g: &mut Gauges<'_>) {
    let Ok(topics) = agent.meta.list_topics().await else { return };
    let Ok(bounds) = agent.meta.all_partition_offsets().await else { return };
    let per_partition = bounds.len() <= MAX_PARTITION_SERIES;
    let mut stored = Vec::with_capacity(topics.len());
    for t in &topics {
        if let Ok(parts) = agent.meta.partition_storage(t.id).await {
            stored.push((t, parts));
        }
    }
    g.family("weft_topic_stored_bytes", "Bytes of record batches stored for the topic (above the log start)");
    for (t, parts) in &stored {
        let bytes: u64 = parts.iter().map(|(_, s)| s.bytes).sum();
        g.sample("weft_topic_stored_bytes", &[("topic", &t.name)], bytes as f64);
    }
    let total: u64 = stored.iter().flat_map(|(_, parts)| parts.iter().map(|(_, s)| s.bytes)).sum();
    g.family(
        "weft_object_store_storage_cost_dollars_per_month",
        "Estimated monthly cost of storing the topics' batches at the configured price per GiB-month",
    );
    g.sample("weft_object_store_storage_cost_dollars_per_month", &[], prices(agent).storage_cost_per_month(total));
    g.family("weft_topic_objects", "Objects holding the topic's batches, summed over its partitions");
    for (t, parts) in &stored {
        let objects: u64 = parts.iter().map(|(_, s)| s.objects).sum();
        g.sample("weft_topic_objects", &[("topic", &t.name)], objects as f64);
    }
    if !per_partition {
        return;
    }
    let names: std::collections::HashMap<uuid::Uuid, &str> = topics.iter().map(|t| (t.id, t.name.as_str())).collect();
    for (family, help) in [
        ("weft_partition_log_start_offset", "First offset still readable in the partition"),
        ("weft_partition_log_end_offset", "Next offset to be written (the high watermark)"),
    ] {
        g.family(family, help);
        for (id, partition, b) in &bounds {
            let Some(name) = names.get(id) else { continue };
            let p = partition.to_string();
            let value = if family.ends_with("start_offset") { b.log_start } else { b.next_offset };
            g.sample(family, &[("topic", name), ("partition", &p)], value as f64);
        }
    }
}

/// The configured list prices of the object store.
fn prices(agent: &Agent) -> weft_storage::Prices {
    let c = &agent.config;
    weft_storage::Prices {
        put_per_1000: c.object_store_put_price,
        get_per_1000: c.object_store_get_price,
        gib_month: c.object_store_storage_price,
    }
}

/// Estimated request costs of this agent's object store since it started, by operation, and what they
/// come to per GiB the agent wrote (from its own request tallies: dollars are fractions of a cent, which
/// the recorder's integer counters cannot hold).
fn object_store_costs(usage: &weft_storage::UsageSnapshot, prices: &weft_storage::Prices, g: &mut Gauges<'_>) {
    use weft_storage::{RequestKind, usage::GIB};
    g.family_of(
        "counter",
        "weft_object_store_cost_dollars_total",
        "Estimated cost of object store requests at the configured prices, by operation",
    );
    for k in usage.kinds {
        g.sample(
            "weft_object_store_cost_dollars_total",
            &[("op", k.kind.name())],
            prices.request_cost(k.kind, k.requests),
        );
    }
    let written = usage.of(RequestKind::Put).bytes;
    if written > 0 {
        g.family(
            "weft_object_store_request_cost_per_gib_dollars",
            "Estimated cost of all object store requests since start per GiB written to the store",
        );
        let per_gib = prices.requests_cost(usage) / (written as f64 / GIB);
        g.sample("weft_object_store_request_cost_per_gib_dollars", &[], per_gib);
    }
}

/// Linux process figures from /proc (absent elsewhere).
fn process_gauges(g: &mut Gauges<'_>) {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the state field; in clock
        // ticks, which Linux fixes at 100 per second for user space.
        let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
        g.family_of("counter", "process_cpu_seconds_total", "CPU time used by the process");
        g.sample("process_cpu_seconds_total", &[], ticks / 100.0);
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    {
        g.family("process_resident_memory_bytes", "Resident memory of the process");
        g.sample("process_resident_memory_bytes", &[], kb * 1024.0);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        g.family("process_open_fds", "Open file descriptors of the process");
        g.sample("process_open_fds", &[], dir.count() as f64);
    }
}

/// The security layers' metrics (SASL, TLS, ACLs, quotas, audit) and the schema registry's.
fn describe_security() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("weft_sasl_authentications_total", "SASL authentications, by mechanism and result");
    describe_counter!("weft_sasl_authentication_timeouts_total", "Connections closed for not authenticating in time");
    describe_counter!("weft_sasl_sessions_expired_total", "SASL sessions ended at their lifetime (KIP-368)");
    describe_counter!("weft_sasl_jwks_refresh_failures_total", "Failed refreshes of the OAUTHBEARER key set");
    describe_counter!("weft_tls_handshake_failures_total", "Failed TLS handshakes on Kafka listeners, by reason");
    describe_counter!("weft_tls_reloads_total", "Certificate and key files reloaded after a change");
    describe_counter!("weft_tls_reload_failures_total", "Changed certificate or key files that could not be loaded");
    describe_gauge!("weft_acl_bindings", "ACL bindings in force on this agent");
    describe_counter!("weft_quota_throttled_requests_total", "Requests throttled by a client quota, by quota");
    describe_histogram!(
        "weft_quota_throttle_time_seconds",
        Unit::Seconds,
        "Throttle time given to requests over a client quota, by quota"
    );
    describe_counter!("weft_audit_events_total", "Audit events, by event and result");
    describe_counter!("weft_audit_admin_changes_total", "Administrative changes audited, by API and result");
    describe_counter!("weft_audit_dropped_total", "Audit events dropped because the writer fell behind");
    describe_counter!("weft_audit_write_errors_total", "Audit log writes or reopenings that failed");
    describe_counter!("weft_schema_registry_requests_total", "Schema registry requests, by route and status");
    describe_counter!(
        "weft_schema_validation_records_rejected_total",
        "Records refused by broker-side schema validation, by topic"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_overdue_open_transaction_is_reported() {
        let txn = |start_ms, timeout_ms| weft_meta::TransactionMeta {
            transactional_id: "t".into(),
            producer_id: 1,
            producer_epoch: 0,
            last_producer_epoch: -1,
            state: weft_meta::TxnState::Ongoing,
            timeout_ms,
            start_ms,
            updated_ms: start_ms,
            partitions: vec![],
            groups: vec![],
            pending_offsets: vec![],
        };
        assert_eq!(max_overdue_seconds(&[], 100_000), 0.0);
        // Within its timeout, and not started (-1): neither is overdue.
        assert_eq!(max_overdue_seconds(&[txn(90_000, 60_000), txn(-1, 1)], 100_000), 0.0);
        // Started at 10 s with a 60 s timeout: 30 s overdue at 100 s; the other only 5 s.
        assert_eq!(max_overdue_seconds(&[txn(10_000, 60_000), txn(35_000, 60_000)], 100_000), 30.0);
    }

    #[test]
    fn process_figures_are_read_from_proc() {
        let mut out = String::new();
        process_gauges(&mut Gauges(&mut out));
        assert!(out.contains("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "), "{out}");
        assert!(out.contains("\nprocess_cpu_seconds_total "), "{out}");
    }

    #[test]
    fn request_costs_are_priced_by_operation_and_per_gib_written() {
        use weft_storage::{KindUsage, Prices, RequestKind, UsageSnapshot};
        let at = |kind, requests, bytes| KindUsage { kind, requests, bytes };
        let usage = UsageSnapshot {
            kinds: [
                at(RequestKind::Put, 128, 1 << 30),
                at(RequestKind::Get, 1000, 1 << 30),
                at(RequestKind::GetRange, 0, 0),
                at(RequestKind::List, 2, 0),
                at(RequestKind::Delete, 128, 0),
            ],
        };
        let mut out = String::new();
        object_store_costs(&usage, &Prices::S3_STANDARD_US_EAST_1, &mut Gauges(&mut out));
        assert!(
            out.contains(
                "# TYPE weft_object_store_cost_dollars_total counter
"
            ),
            "{out}"
        );
        let value = |line: &str| -> f64 {
            let l = out.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("{line} in {out}"));
            l.rsplit(' ').next().unwrap().parse().unwrap()
        };
        // 128 PUTs at $0.005 per 1,000; 1,000 GETs at $0.0004 per 1,000; 2 LISTs; deletes are free.
        assert!((value("weft_object_store_cost_dollars_total{op=\"put\"}") - 0.00064).abs() < 1e-12);
        assert!((value("weft_object_store_cost_dollars_total{op=\"get\"}") - 0.0004).abs() < 1e-12);
        assert_eq!(value("weft_object_store_cost_dollars_total{op=\"delete\"}"), 0.0);
        let per_gib = value("weft_object_store_request_cost_per_gib_dollars ");
        assert!((per_gib - (0.00064 + 0.0004 + 0.00001)).abs() < 1e-12, "{per_gib}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        Gauges(&mut out).sample("m", &[("group", "a\"b\\c\nd"), ("p", "0")], 3.0);
        assert_eq!(out, "m{group=\"a\\\"b\\\\c\\nd\",p=\"0\"} 3\n");
    }
}
