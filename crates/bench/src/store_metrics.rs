//! Object-store requests a phase cost the agent, read from the agent's Prometheus `/metrics` before and
//! after the phase (`--metrics-url`): requests by operation, bytes written and read, the agent's estimated
//! request cost, and the figures that decide an object store's bill, PUTs per GiB produced and GETs per
//! GiB consumed.
//!
//! The scrape is weft-report's (`prom`): one plain HTTP/1.0 GET, bounded in time and size.
//! Counters are summed over every label but `op`, so the figures cover the whole agent: run the bench
//! against an otherwise idle agent for them to be the bench's own.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde::Serialize;
use weft_report::prom::{self, Scrape};

/// The families read: object-store requests, bytes and estimated cost, by operation.
const FAMILIES: &[&str] =
    &["weft_object_store_requests_total", "weft_object_store_bytes_total", "weft_object_store_cost_dollars_total"];
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The object-store counters of one scrape, by operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreCounters {
    pub requests: BTreeMap<String, f64>,
    pub bytes: BTreeMap<String, f64>,
    pub cost_dollars: BTreeMap<String, f64>,
}

impl StoreCounters {
    /// Reads the counters from a text exposition.
    pub fn parse(text: &str) -> Self {
        Self::from_scrape(&Scrape::parse_families(text, Some(FAMILIES)))
    }

    /// The counters of one parsed scrape, summed over every label but `op`.
    fn from_scrape(scrape: &Scrape) -> Self {
        let by_op = |name: &str| -> BTreeMap<String, f64> {
            scrape
                .label_values(name, "op")
                .into_iter()
                .filter_map(|op| scrape.sum(name, &[("op", op.as_str())]).map(|v| (op, v)))
                .collect()
        };
        StoreCounters { requests: by_op(FAMILIES[0]), bytes: by_op(FAMILIES[1]), cost_dollars: by_op(FAMILIES[2]) }
    }

    /// What happened between `self` and the later scrape `after` (counters that went down, after an agent
    /// restart, count from zero).
    fn since(&self, after: &StoreCounters) -> StoreCounters {
        let delta = |before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>| {
            after
                .iter()
                .map(|(op, &v)| {
                    let b = before.get(op).copied().unwrap_or(0.0);
                    (op.clone(), if v >= b { v - b } else { v })
                })
                .collect()
        };
        StoreCounters {
            requests: delta(&self.requests, &after.requests),
            bytes: delta(&self.bytes, &after.bytes),
            cost_dollars: delta(&self.cost_dollars, &after.cost_dollars),
        }
    }
}

/// What one phase cost the object store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreReport {
    /// `produce`, `consume` or `e2e`.
    pub phase: String,
    /// Requests by operation (`put`, `get`, `get_range`, `list`, `delete`).
    pub requests: BTreeMap<String, u64>,
    pub bytes_written: u64,
    pub bytes_read: u64,
    /// The agent's estimate at its configured prices.
    pub cost_dollars: f64,
    /// PUT requests per GiB of record payload acknowledged in the phase.
    pub puts_per_gib_produced: Option<f64>,
    /// GET requests (whole and ranged) per GiB of record payload consumed in the phase.
    pub gets_per_gib_consumed: Option<f64>,
}

impl StoreReport {
    /// The report of `phase` from the scrapes around it and the payload bytes it produced and consumed.
    pub fn new(phase: &str, before: &StoreCounters, after: &StoreCounters, produced: u64, consumed: u64) -> Self {
        let d = before.since(after);
        let count = |m: &BTreeMap<String, f64>, op: &str| m.get(op).copied().unwrap_or(0.0);
        let per_gib = |n: f64, bytes: u64| (bytes > 0).then(|| n / (bytes as f64 / GIB));
        let gets = count(&d.requests, "get") + count(&d.requests, "get_range");
        StoreReport {
            phase: phase.to_string(),
            requests: d.requests.iter().map(|(op, &n)| (op.clone(), n.round() as u64)).collect(),
            bytes_written: count(&d.bytes, "put").round() as u64,
            bytes_read: (count(&d.bytes, "get") + count(&d.bytes, "get_range")).round() as u64,
            cost_dollars: d.cost_dollars.values().sum(),
            puts_per_gib_produced: per_gib(count(&d.requests, "put"), produced),
            gets_per_gib_consumed: per_gib(gets, consumed),
        }
    }
}

/// Scrapes `url` (`http://host:port/path`) within `timeout`.
pub async fn scrape(url: &str, timeout: Duration) -> Result<StoreCounters> {
    let scrape = prom::scrape_families(url, timeout, Some(FAMILIES)).await.map_err(|e| anyhow!("{e}"))?;
    Ok(StoreCounters::from_scrape(&scrape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const BEFORE: &str = "# HELP weft_object_store_requests_total x\n\
        weft_object_store_requests_total{op=\"put\",result=\"ok\"} 10\n\
        weft_object_store_requests_total{op=\"put\",result=\"error\"} 1\n\
        weft_object_store_bytes_total{op=\"put\"} 1000\n\
        weft_object_store_cost_dollars_total{op=\"put\"} 0.000055\n\
        weft_bytes_in_total{topic=\"a\"} 5\n";

    const AFTER: &str = "weft_object_store_requests_total{op=\"put\",result=\"ok\"} 138\n\
        weft_object_store_requests_total{op=\"put\",result=\"error\"} 1\n\
        weft_object_store_requests_total{op=\"get_range\",result=\"ok\"} 4\n\
        weft_object_store_bytes_total{op=\"put\"} 1073742824\n\
        weft_object_store_bytes_total{op=\"get_range\"} 4096\n\
        weft_object_store_cost_dollars_total{op=\"put\"} 0.000695\n";

    #[test]
    fn counters_are_summed_by_operation() {
        let c = StoreCounters::parse(BEFORE);
        assert_eq!(c.requests.get("put"), Some(&11.0));
        assert_eq!(c.bytes.get("put"), Some(&1000.0));
        assert_eq!(c.requests.len(), 1, "other families are ignored");
    }

    #[test]
    fn a_phase_reports_puts_per_gib_produced_and_gets_per_gib_consumed() {
        let (before, after) = (StoreCounters::parse(BEFORE), StoreCounters::parse(AFTER));
        let r = StoreReport::new("produce", &before, &after, 1 << 30, 1 << 29);
        assert_eq!(r.requests.get("put"), Some(&128));
        assert_eq!(r.bytes_written, 1 << 30);
        assert_eq!(r.bytes_read, 4096);
        assert_eq!(r.puts_per_gib_produced, Some(128.0));
        assert_eq!(r.gets_per_gib_consumed, Some(8.0));
        assert!((r.cost_dollars - 0.00064).abs() < 1e-12, "{}", r.cost_dollars);
        let idle = StoreReport::new("consume", &after, &after, 0, 0);
        assert_eq!((idle.puts_per_gib_produced, idle.gets_per_gib_consumed), (None, None));
    }

    #[test]
    fn escaped_label_values_parse() {
        let c = StoreCounters::parse("weft_object_store_requests_total{a=\"x\\\"y\",op=\"put\"} 2.5\n");
        assert_eq!(c.requests.get("put"), Some(&2.5));
    }

    #[tokio::test]
    async fn scrapes_over_http_and_refuses_other_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for answer in ["HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", "HTTP/1.0 404 Not Found\r\n\r\n"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                assert!(buf[..n].starts_with(b"GET /metrics HTTP/1.0\r\n"));
                s.write_all(format!("{answer}{AFTER}").as_bytes()).await.unwrap();
            }
        });
        let url = format!("http://{addr}/metrics");
        let c = scrape(&url, Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.requests.get("get_range"), Some(&4.0));
        let err = scrape(&url, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
        server.await.unwrap();
        assert!(scrape("https://x/metrics", Duration::from_secs(1)).await.is_err());
    }
}
