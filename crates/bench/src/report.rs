//! Final summary: serialisable report structures and the human-readable table.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::args::Mode;
use crate::consumer::ConsumeOutcome;
use crate::e2e::E2eOutcome;
use crate::producer::ProduceOutcome;
use crate::share::ShareReport;
use crate::store_metrics::StoreReport;

const MB: f64 = 1_000_000.0;
const MIB: f64 = 1_048_576.0;

/// Everything a benchmark run measured. Serialised as the `--json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mode: Mode,
    pub bootstrap_servers: String,
    pub topic: String,
    pub partitions: usize,
    pub record_size: u64,
    pub produce: Option<ProduceReport>,
    pub consume: Option<ConsumeReport>,
    pub e2e: Option<E2eReport>,
    /// `--mode share`: the share group's drain of what was produced.
    pub share: Option<ShareReport>,
    /// Object-store requests of each phase, from the agent's metrics (`--metrics-url`; empty without it).
    pub object_store: Vec<StoreReport>,
}

/// Throughput numbers shared by the produce and consume reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throughput {
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub records_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// Payload mebibytes (2^20 bytes) per second.
    pub mib_per_sec: f64,
}

impl Throughput {
    pub(crate) fn new(records: u64, bytes: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        let per_sec = |v: f64| if seconds > 0.0 { v / seconds } else { 0.0 };
        Throughput {
            records,
            bytes,
            seconds,
            records_per_sec: per_sec(records as f64),
            mb_per_sec: per_sec(bytes as f64 / MB),
            mib_per_sec: per_sec(bytes as f64 / MIB),
        }
    }
}

/// Produce phase: throughput of acknowledged records and ack latency
/// (send -> delivery report, including time queued in the client).
#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    #[serde(flatten)]
    pub throughput: Throughput,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumeReport {
    #[serde(flatten)]
    pub throughput: Throughput,
    pub errors: u64,
    /// Records that were in the consumed offset ranges.
    pub expected: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct E2eReport {
    /// Target produce rate (records/s).
    pub rate: u64,
    pub achieved_rate: f64,
    /// Latency samples (records received that were sent after the warmup).
    pub records: u64,
    pub sent: u64,
    pub received: u64,
    /// Acknowledged by the broker but not received by the consumer.
    pub lost: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// The seconds after the warmup (by send time) with the slowest records, slowest first.
    pub slowest_seconds: Vec<SlowSecond>,
}

/// One second of the e2e phase and the latency of its slowest record.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SlowSecond {
    /// Seconds after the end of the warmup, by send time.
    pub second: u64,
    pub max_ms: f64,
}

impl From<&ProduceOutcome> for ProduceReport {
    fn from(o: &ProduceOutcome) -> Self {
        let l = o.latency;
        ProduceReport {
            throughput: Throughput::new(o.acked, o.acked * o.record_size, o.elapsed),
            errors: o.errors,
            p50_ms: l.map(|l| l.p50_ms),
            p99_ms: l.map(|l| l.p99_ms),
            p999_ms: l.map(|l| l.p999_ms),
            max_ms: l.map(|l| l.max_ms),
        }
    }
}

impl From<&ConsumeOutcome> for ConsumeReport {
    fn from(o: &ConsumeOutcome) -> Self {
        ConsumeReport {
            throughput: Throughput::new(o.records, o.bytes, o.elapsed),
            errors: o.errors,
            expected: o.expected,
        }
    }
}

impl From<&E2eOutcome> for E2eReport {
    fn from(o: &E2eOutcome) -> Self {
        let l = o.latency;
        E2eReport {
            rate: o.target_rate,
            achieved_rate: o.achieved_rate,
            records: l.map_or(0, |l| l.samples),
            sent: o.sent,
            received: o.received,
            lost: o.lost(),
            errors: o.delivery_errors + o.consumer_errors,
            p50_ms: l.map(|l| l.p50_ms),
            p99_ms: l.map(|l| l.p99_ms),
            p999_ms: l.map(|l| l.p999_ms),
            max_ms: l.map(|l| l.max_ms),
            slowest_seconds: o.slowest_seconds.iter().map(|&(second, max_ms)| SlowSecond { second, max_ms }).collect(),
        }
    }
}

/// Formats an integer with `,` thousands separators.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

fn throughput_row(out: &mut String, phase: &str, t: &Throughput, errors: u64) {
    let _ = writeln!(
        out,
        "{phase:<9}{:>14}{:>10.2}{:>14}{:>11.2}{:>11.2}{:>8}",
        thousands(t.records),
        t.seconds,
        thousands(t.records_per_sec.round() as u64),
        t.mb_per_sec,
        t.mib_per_sec,
        thousands(errors)
    );
}

fn latency_row(out: &mut String, label: &str, p: [Option<f64>; 4], samples: u64) {
    let _ = writeln!(
        out,
        "{label:<13}{:>10}{:>10}{:>10}{:>10}{:>14}",
        ms(p[0]),
        ms(p[1]),
        ms(p[2]),
        ms(p[3]),
        thousands(samples)
    );
}

fn per_gib(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// The object-store table: requests per phase, PUTs per GiB produced, GETs per GiB consumed, cost.
fn store_rows(out: &mut String, reports: &[StoreReport]) {
    if reports.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{:<13}{:>9}{:>9}{:>9}{:>9}{:>12}{:>12}{:>12}",
        "object store", "PUT", "GET", "LIST", "DELETE", "PUT/GiB in", "GET/GiB out", "cost $"
    );
    for r in reports {
        let n = |op: &str| r.requests.get(op).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<13}{:>9}{:>9}{:>9}{:>9}{:>12}{:>12}{:>12.6}",
            r.phase,
            thousands(n("put")),
            thousands(n("get") + n("get_range")),
            thousands(n("list")),
            thousands(n("delete")),
            per_gib(r.puts_per_gib_produced),
            per_gib(r.gets_per_gib_consumed),
            r.cost_dollars
        );
    }
}

impl Summary {
    /// The human-readable table printed when `--json` is not given.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "weft bench: mode {}, topic `{}` ({} partitions) on {}, {}-byte records\n",
            self.mode, self.topic, self.partitions, self.bootstrap_servers, self.record_size
        );
        if self.produce.is_some() || self.consume.is_some() {
            let _ = writeln!(
                out,
                "{:<9}{:>14}{:>10}{:>14}{:>11}{:>11}{:>8}",
                "phase", "records", "seconds", "records/s", "MB/s", "MiB/s", "errors"
            );
            if let Some(p) = &self.produce {
                throughput_row(&mut out, "produce", &p.throughput, p.errors);
            }
            if let Some(c) = &self.consume {
                throughput_row(&mut out, "consume", &c.throughput, c.errors);
            }
            out.push('\n');
        }
        if self.produce.is_some() || self.e2e.is_some() {
            let _ = writeln!(
                out,
                "{:<13}{:>10}{:>10}{:>10}{:>10}{:>14}",
                "latency (ms)", "p50", "p99", "p99.9", "max", "samples"
            );
            if let Some(p) = &self.produce {
                let p4 = [p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms];
                latency_row(&mut out, "produce ack", p4, p.throughput.records);
            }
            if let Some(e) = &self.e2e {
                let p4 = [e.p50_ms, e.p99_ms, e.p999_ms, e.max_ms];
                latency_row(&mut out, "end-to-end", p4, e.records);
            }
        }
        if let Some(c) = &self.consume
            && c.throughput.records < c.expected
        {
            let _ = writeln!(
                out,
                "\nconsume stopped early: {} of {} records read",
                thousands(c.throughput.records),
                thousands(c.expected)
            );
        }
        if let Some(s) = &self.share {
            out.push('\n');
            s.rows(&mut out);
        }
        store_rows(&mut out, &self.object_store);
        if let Some(e) = &self.e2e {
            let _ = writeln!(
                out,
                "\ne2e: target {} records/s, achieved {:.1} records/s; sent {}, received {}, lost {}, errors {}",
                thousands(e.rate),
                e.achieved_rate,
                thousands(e.sent),
                thousands(e.received),
                thousands(e.lost),
                thousands(e.errors)
            );
            if !e.slowest_seconds.is_empty() {
                let seconds: Vec<String> =
                    e.slowest_seconds.iter().map(|s| format!("+{} s {:.1} ms", s.second, s.max_ms)).collect();
                let _ = writeln!(out, "e2e slowest seconds after the warmup (by send time): {}", seconds.join(", "));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencySummary;

    fn latency() -> LatencySummary {
        LatencySummary { samples: 10, p50_ms: 1.5, p99_ms: 9.0, p999_ms: 12.0, max_ms: 20.0 }
    }

    #[test]
    fn throughput_arithmetic() {
        let t = Throughput::new(2_000, 2_000_000, Duration::from_secs(2));
        assert_eq!(t.records_per_sec, 1_000.0);
        assert_eq!(t.mb_per_sec, 1.0);
        assert!((t.mib_per_sec - 2_000_000.0 / 1_048_576.0 / 2.0).abs() < 1e-12);
        let zero = Throughput::new(5, 5, Duration::ZERO);
        assert_eq!(zero.records_per_sec, 0.0);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    fn summary() -> Summary {
        let produce = ProduceOutcome {
            acked: 1_000,
            errors: 2,
            record_size: 100,
            elapsed: Duration::from_millis(500),
            latency: Some(latency()),
        };
        let e2e = E2eOutcome {
            target_rate: 5_000,
            achieved_rate: 4_999.5,
            sent: 100,
            delivered: 100,
            delivery_errors: 0,
            received: 98,
            consumer_errors: 1,
            latency: Some(latency()),
            slowest_seconds: vec![(7, 20.0)],
        };
        Summary {
            mode: Mode::All,
            bootstrap_servers: "b:9092".into(),
            topic: "t".into(),
            partitions: 3,
            record_size: 100,
            produce: Some((&produce).into()),
            consume: None,
            e2e: Some((&e2e).into()),
            share: None,
            object_store: vec![StoreReport {
                phase: "produce".into(),
                requests: [("put".to_string(), 128), ("get".to_string(), 3)].into(),
                bytes_written: 1 << 30,
                bytes_read: 0,
                cost_dollars: 0.00064,
                puts_per_gib_produced: Some(128.0),
                gets_per_gib_consumed: None,
            }],
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v = serde_json::to_value(summary()).unwrap();
        assert_eq!(v["mode"], "all");
        let p = &v["produce"];
        for key in
            ["records", "bytes", "seconds", "records_per_sec", "mb_per_sec", "p50_ms", "p99_ms", "p999_ms", "errors"]
        {
            assert!(!p[key].is_null(), "produce.{key} missing");
        }
        assert_eq!(p["records"], 1_000);
        assert_eq!(p["bytes"], 100_000);
        assert_eq!(p["records_per_sec"], 2_000.0);
        assert!(v["consume"].is_null());
        let e = &v["e2e"];
        for key in ["rate", "records", "p50_ms", "p99_ms", "p999_ms", "max_ms"] {
            assert!(!e[key].is_null(), "e2e.{key} missing");
        }
        assert_eq!(e["lost"], 2);
        assert_eq!(e["errors"], 1);
        assert_eq!((&e["slowest_seconds"][0]["second"], &e["slowest_seconds"][0]["max_ms"]), (&7.into(), &20.0.into()));
        let s = &v["object_store"][0];
        assert_eq!(
            (&s["phase"], &s["requests"]["put"], &s["puts_per_gib_produced"]),
            (&"produce".into(), &128.into(), &128.0.into())
        );
    }

    #[test]
    fn table_mentions_each_phase() {
        let table = summary().to_table();
        assert!(table.contains("produce"));
        assert!(table.contains("end-to-end"));
        assert!(table.contains("2,000"), "{table}");
        assert!(table.contains("lost 2"));
        assert!(table.contains("slowest seconds after the warmup (by send time): +7 s 20.0 ms"), "{table}");
        assert!(table.contains("PUT/GiB in") && table.contains("128.0"), "{table}");
    }
}
