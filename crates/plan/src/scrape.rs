//! `--from-metrics`: the traffic a running Weft cluster carries, read from its agents' Prometheus
//! `/metrics` twice, `--sample-secs` apart: bytes produced (`weft_bytes_in_total`), bytes fetched
//! (`weft_bytes_out_total`) and records produced (`weft_records_in_total`), summed over topics and over
//! every URL given (one per agent: each agent counts only what it served).
//!
//! A scrape is one plain HTTP/1.0 GET (the admin listener speaks it; no TLS), bounded in time and size.

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::PlanError;

/// Largest `/metrics` response read.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest one scrape (connect, request, response) may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The three counters, summed over their labels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub records_in: f64,
}

impl Counters {
    /// Reads the counters from a Prometheus text exposition; other families and comments are skipped.
    pub fn parse(text: &str) -> Counters {
        let mut out = Counters::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            let name = series.split('{').next().unwrap_or(series).trim();
            match name {
                "weft_bytes_in_total" => out.bytes_in += value,
                "weft_bytes_out_total" => out.bytes_out += value,
                "weft_records_in_total" => out.records_in += value,
                _ => {}
            }
        }
        out
    }

    fn add(self, other: Counters) -> Counters {
        Counters {
            bytes_in: self.bytes_in + other.bytes_in,
            bytes_out: self.bytes_out + other.bytes_out,
            records_in: self.records_in + other.records_in,
        }
    }

    /// What was counted from `self` to the later `after` (a counter that went down, after a restart,
    /// counts from zero).
    fn since(self, after: Counters) -> Counters {
        let delta = |b: f64, a: f64| if a >= b { a - b } else { a };
        Counters {
            bytes_in: delta(self.bytes_in, after.bytes_in),
            bytes_out: delta(self.bytes_out, after.bytes_out),
            records_in: delta(self.records_in, after.records_in),
        }
    }
}

/// Rates observed over the sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observed {
    pub bytes_in_per_sec: f64,
    pub bytes_out_per_sec: f64,
    pub records_in_per_sec: f64,
    pub sample_secs: f64,
}

impl Observed {
    pub fn from_counts(before: Counters, after: Counters, secs: f64) -> Observed {
        let d = before.since(after);
        Observed {
            bytes_in_per_sec: d.bytes_in / secs,
            bytes_out_per_sec: d.bytes_out / secs,
            records_in_per_sec: d.records_in / secs,
            sample_secs: secs,
        }
    }

    /// Mean record size produced, when any record was.
    pub fn mean_record_bytes(&self) -> Option<f64> {
        (self.records_in_per_sec > 0.0).then(|| self.bytes_in_per_sec / self.records_in_per_sec)
    }
}

/// Scrapes every URL, waits `sample`, scrapes them again, and returns the summed rates.
pub async fn observe(urls: &[String], sample: Duration) -> Result<Observed, PlanError> {
    let started = tokio::time::Instant::now();
    let before = scrape_all(urls).await?;
    tokio::time::sleep_until(started + sample).await;
    let after = scrape_all(urls).await?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Observed::from_counts(before, after, secs))
}

async fn scrape_all(urls: &[String]) -> Result<Counters, PlanError> {
    let mut sum = Counters::default();
    for url in urls {
        sum = sum.add(Counters::parse(&fetch(url).await?));
    }
    Ok(sum)
}

/// GETs `url` (http only) and returns the body of a 200 answer.
pub async fn fetch(url: &str) -> Result<String, PlanError> {
    let fail = |reason: String| PlanError::Scrape { url: url.to_string(), reason };
    let parsed = url::Url::parse(url).map_err(|e| fail(e.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(fail("only http:// URLs are scraped".into()));
    }
    let host = parsed.host_str().ok_or_else(|| fail("no host".into()))?.to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let exchange = async {
        let mut stream = TcpStream::connect((host.as_str(), port)).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE_BYTES + 1).read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = match tokio::time::timeout(SCRAPE_TIMEOUT, exchange).await {
        Ok(result) => result.map_err(|e| fail(e.to_string()))?,
        Err(_) => return Err(fail(format!("no answer within {} s", SCRAPE_TIMEOUT.as_secs()))),
    };
    if raw.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(fail(format!("the answer exceeds {MAX_RESPONSE_BYTES} bytes")));
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| fail("not an HTTP answer".into()))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(fail(format!("answered {status:?}")));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE weft_bytes_in_total counter\n\
        weft_bytes_in_total{topic=\"a\"} 1000\n\
        weft_bytes_in_total{topic=\"b\"} 500\n\
        weft_records_in_total{topic=\"a\"} 10\n\
        weft_bytes_out_total{topic=\"a\"} 3000\n\
        weft_bytes_in_total_other 7\n\
        garbage line\n";

    #[test]
    fn counters_are_summed_over_topics() {
        let c = Counters::parse(TEXT);
        assert_eq!(c, Counters { bytes_in: 1500.0, bytes_out: 3000.0, records_in: 10.0 });
    }

    #[test]
    fn rates_come_from_the_difference_and_a_reset_counts_from_zero() {
        let before = Counters { bytes_in: 1000.0, bytes_out: 500.0, records_in: 10.0 };
        let after = Counters { bytes_in: 3000.0, bytes_out: 100.0, records_in: 30.0 };
        let o = Observed::from_counts(before, after, 2.0);
        assert_eq!(o.bytes_in_per_sec, 1000.0);
        assert_eq!(o.bytes_out_per_sec, 50.0, "the out counter restarted");
        assert_eq!(o.mean_record_bytes(), Some(100.0));
    }

    #[tokio::test]
    async fn a_url_that_is_not_http_is_refused_clearly() {
        let err = fetch("https://127.0.0.1:1/metrics").await.unwrap_err();
        assert_eq!(err.to_string(), "cannot scrape https://127.0.0.1:1/metrics: only http:// URLs are scraped");
    }
}
