//! The share mode's report: accepted throughput (total and per consumer), deliveries, redeliveries and
//! duplicates, ShareFetch latency and redelivery latency, and its rows in the summary table.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::fetcher::ConsumerStats;
use super::ledger::Verdict;
use crate::latency::{LatencyHistogram, LatencySummary};
use crate::report::{Throughput, thousands};

#[derive(Debug, Clone, Serialize)]
pub struct ShareReport {
    pub group: String,
    pub consumers: usize,
    /// Records accepted (confirmed by the broker), from the first join to the last accept.
    #[serde(flatten)]
    pub throughput: Throughput,
    /// Records in the topic's ranges that had to be accepted.
    pub expected: u64,
    /// Deliveries, redeliveries included.
    pub deliveries: u64,
    /// Deliveries with a delivery count above 1.
    pub redeliveries: u64,
    /// Records released (`--share-release-percent`) and confirmed.
    pub released: u64,
    /// Records delivered or accepted again after being accepted; anything but 0 is a broker bug.
    pub duplicates: u64,
    /// Acknowledgements the broker refused or did not answer (those records come back).
    pub ack_errors: u64,
    pub fetches: u64,
    /// Bytes of record batches returned (whole stored batches).
    pub fetched_bytes: u64,
    /// ShareFetch round trips, long polls included.
    pub fetch_latency: Option<LatencySummary>,
    /// From the RELEASE sent to the record's next delivery.
    pub redelivery_latency: Option<LatencySummary>,
    /// Why the drain ended before every record was accepted, if it did.
    pub stopped_early: Option<String>,
    pub per_consumer: Vec<ShareConsumerReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareConsumerReport {
    pub member_id: String,
    pub deliveries: u64,
    pub accepted: u64,
    pub accepted_per_sec: f64,
    pub fetches: u64,
    pub fetch_p50_ms: Option<f64>,
    pub fetch_p99_ms: Option<f64>,
}

impl ShareReport {
    pub(crate) fn new(
        group: String,
        record_size: u64,
        elapsed: Duration,
        v: &Verdict,
        stats: &[ConsumerStats],
        stopped_early: Option<String>,
    ) -> ShareReport {
        let mut all = LatencyHistogram::new();
        for s in stats {
            all.add(&s.latency);
        }
        let secs = elapsed.as_secs_f64();
        let per_consumer = stats
            .iter()
            .map(|s| {
                let l = s.latency.summary();
                ShareConsumerReport {
                    member_id: s.member.clone(),
                    deliveries: s.deliveries,
                    accepted: s.accepted,
                    accepted_per_sec: if secs > 0.0 { s.accepted as f64 / secs } else { 0.0 },
                    fetches: s.fetches,
                    fetch_p50_ms: l.map(|l| l.p50_ms),
                    fetch_p99_ms: l.map(|l| l.p99_ms),
                }
            })
            .collect();
        ShareReport {
            group,
            consumers: stats.len(),
            throughput: Throughput::new(v.accepted, v.accepted * record_size, elapsed),
            expected: v.expected,
            deliveries: v.deliveries,
            redeliveries: v.redeliveries,
            released: v.releases,
            duplicates: v.duplicates,
            ack_errors: stats.iter().map(|s| s.ack_errors).sum(),
            fetches: stats.iter().map(|s| s.fetches).sum(),
            fetched_bytes: stats.iter().map(|s| s.bytes).sum(),
            fetch_latency: all.summary(),
            redelivery_latency: v.redelivery_latency,
            stopped_early,
            per_consumer,
        }
    }

    /// The share rows of the summary table.
    pub(crate) fn rows(&self, out: &mut String) {
        let t = &self.throughput;
        let _ = writeln!(
            out,
            "share group {} ({} consumers): {} of {} records accepted in {:.2} s, {} records/s, {:.2} MB/s",
            self.group,
            self.consumers,
            thousands(t.records),
            thousands(self.expected),
            t.seconds,
            thousands(t.records_per_sec.round() as u64),
            t.mb_per_sec
        );
        let _ = writeln!(
            out,
            "deliveries {}, redeliveries {}, released {}, duplicates {}, ack errors {}, fetches {}",
            thousands(self.deliveries),
            thousands(self.redeliveries),
            thousands(self.released),
            thousands(self.duplicates),
            thousands(self.ack_errors),
            thousands(self.fetches)
        );
        for (label, l) in [("share fetch", self.fetch_latency), ("redelivery", self.redelivery_latency)] {
            if let Some(l) = l {
                let _ = writeln!(
                    out,
                    "{label:<13}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>14}  (ms: p50 p99 p99.9 max, samples)",
                    l.p50_ms,
                    l.p99_ms,
                    l.p999_ms,
                    l.max_ms,
                    thousands(l.samples)
                );
            }
        }
        for c in &self.per_consumer {
            let _ = writeln!(
                out,
                "  consumer {}: accepted {} ({} records/s), deliveries {}, fetches {}",
                c.member_id,
                thousands(c.accepted),
                thousands(c.accepted_per_sec.round() as u64),
                thousands(c.deliveries),
                thousands(c.fetches)
            );
        }
        if let Some(why) = &self.stopped_early {
            let _ = writeln!(out, "share drain stopped early: {why}");
        }
    }
}
