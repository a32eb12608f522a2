//! `--from-metrics`: the traffic a running Weft cluster carries, read from its agents' Prometheus
//! `/metrics` twice, `--sample-secs` apart: bytes produced (`weft_bytes_in_total`), bytes fetched
//! (`weft_bytes_out_total`) and records produced (`weft_records_in_total`). Each series (agent URL,
//! family, labels) is differenced on its own, with a reset counting from zero, and the increases are summed
//! over topics and over every URL given (one per agent: each agent counts only what it served).
//!
//! A scrape is one plain HTTP/1.0 GET (the admin listener speaks it; no TLS), bounded in time and size.

use std::collections::BTreeMap;
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
    /// The totals of a Prometheus text exposition; other families and comments are skipped.
    pub fn parse(text: &str) -> Counters {
        Scrape::parse(text).totals()
    }

    fn add(self, other: Counters) -> Counters {
        Counters {
            bytes_in: self.bytes_in + other.bytes_in,
            bytes_out: self.bytes_out + other.bytes_out,
            records_in: self.records_in + other.records_in,
        }
    }

    fn add_to(&mut self, family: Family, value: f64) {
        match family {
            Family::BytesIn => self.bytes_in += value,
            Family::BytesOut => self.bytes_out += value,
            Family::RecordsIn => self.records_in += value,
        }
    }
}

/// The counter families read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    BytesIn,
    BytesOut,
    RecordsIn,
}

impl Family {
    fn of(name: &str) -> Option<Family> {
        match name {
            "weft_bytes_in_total" => Some(Family::BytesIn),
            "weft_bytes_out_total" => Some(Family::BytesOut),
            "weft_records_in_total" => Some(Family::RecordsIn),
            _ => None,
        }
    }
}

/// One agent's series of the three families, each by its labels as exposed (`{topic="a"}`), so two
/// scrapes are compared series by series: a counter resets on its own (the agent restarted) and a series
/// can vanish or appear between them, which totals would hide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    series: BTreeMap<(Family, String), f64>,
}

impl Scrape {
    /// Reads the three families from a Prometheus text exposition (`name{labels} value [timestamp]`);
    /// other families, comments and lines that do not parse are skipped.
    pub fn parse(text: &str) -> Scrape {
        let mut series = BTreeMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let Some((name, labels, value)) = split_sample(line) else { continue };
            let (Some(family), Ok(value)) = (Family::of(name), value.parse::<f64>()) else { continue };
            if value.is_finite() {
                *series.entry((family, labels.to_string())).or_insert(0.0) += value;
            }
        }
        Scrape { series }
    }

    /// Every series summed.
    pub fn totals(&self) -> Counters {
        let mut out = Counters::default();
        for ((family, _), value) in &self.series {
            out.add_to(*family, *value);
        }
        out
    }

    /// What the agent counted from `self` to the later `after`, series by series, then summed. A series
    /// that went down was reset (the agent restarted) and counted its whole value since; one that appeared
    /// counted from zero; one that vanished left nothing to measure and counts nothing.
    pub fn increase_to(&self, after: &Scrape) -> Counters {
        let mut out = Counters::default();
        for (key, &now) in &after.series {
            let increase = match self.series.get(key) {
                Some(&then) if now >= then => now - then,
                _ => now,
            };
            out.add_to(key.0, increase);
        }
        out
    }
}

/// A sample line's name, labels (`{...}`, or empty) and value.
fn split_sample(line: &str) -> Option<(&str, &str, &str)> {
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let close = open + line[open..].rfind('}')?;
            (&line[..open], &line[open..=close], &line[close + 1..])
        }
        None => {
            let (name, rest) = line.split_once(char::is_whitespace)?;
            (name, "", rest)
        }
    };
    Some((name.trim(), labels, rest.split_whitespace().next()?))
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
    /// The rates of `counted` over `secs`.
    pub fn from_increase(counted: Counters, secs: f64) -> Observed {
        Observed {
            bytes_in_per_sec: counted.bytes_in / secs,
            bytes_out_per_sec: counted.bytes_out / secs,
            records_in_per_sec: counted.records_in / secs,
            sample_secs: secs,
        }
    }

    /// Mean record size produced, when any record was.
    pub fn mean_record_bytes(&self) -> Option<f64> {
        (self.records_in_per_sec > 0.0).then(|| self.bytes_in_per_sec / self.records_in_per_sec)
    }
}

/// Scrapes every URL, waits `sample`, scrapes them again, and returns the rates: each agent's increase
/// taken series by series, summed over agents.
pub async fn observe(urls: &[String], sample: Duration) -> Result<Observed, PlanError> {
    let started = tokio::time::Instant::now();
    let before = scrape_all(urls).await?;
    tokio::time::sleep_until(started + sample).await;
    let after = scrape_all(urls).await?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Observed::from_increase(increase(&before, &after), secs))
}

/// The summed increase of each agent from its `before` scrape to its `after` scrape (same URL order).
fn increase(before: &[Scrape], after: &[Scrape]) -> Counters {
    before.iter().zip(after).fold(Counters::default(), |sum, (b, a)| sum.add(b.increase_to(a)))
}

async fn scrape_all(urls: &[String]) -> Result<Vec<Scrape>, PlanError> {
    let mut out = Vec::with_capacity(urls.len());
    for url in urls {
        out.push(Scrape::parse(&fetch(url).await?));
    }
    Ok(out)
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
        let before = Scrape::parse(TEXT);
        let after = Scrape::parse(
            "weft_bytes_in_total{topic=\"a\"} 3000\nweft_bytes_in_total{topic=\"b\"} 500\n\
             weft_records_in_total{topic=\"a\"} 30\nweft_bytes_out_total{topic=\"a\"} 100\n",
        );
        let o = Observed::from_increase(before.increase_to(&after), 2.0);
        assert_eq!(o.bytes_in_per_sec, 1000.0);
        assert_eq!(o.bytes_out_per_sec, 50.0, "the out counter restarted");
        assert_eq!(o.mean_record_bytes(), Some(100.0));
    }

    #[test]
    fn a_vanished_series_does_not_make_the_rest_count_their_lifetime() {
        // Topic b's series is gone (the agent restarted and b had no traffic since); a grew by 200.
        let before = Scrape::parse("weft_bytes_in_total{topic=\"a\"} 1000\nweft_bytes_in_total{topic=\"b\"} 500\n");
        let after = Scrape::parse("weft_bytes_in_total{topic=\"a\"} 1200\n");
        assert_eq!(before.increase_to(&after).bytes_in, 200.0);
        // A series that appeared counted from zero.
        let grown = Scrape::parse("weft_bytes_in_total{topic=\"a\"} 1200\nweft_bytes_in_total{topic=\"c\"} 30\n");
        assert_eq!(before.increase_to(&grown).bytes_in, 230.0);
    }

    #[test]
    fn one_agent_restarting_leaves_the_others_increase_whole() {
        // Agent 1 restarted (1000 -> 50: it counted 50 since); agent 2 went 5000 -> 6000. The sums
        // (6000 -> 6050) would hide agent 2's 1000.
        let series = |v: u32| Scrape::parse(&format!("weft_bytes_out_total{{topic=\"a\"}} {v}\n"));
        let counted = increase(&[series(1000), series(5000)], &[series(50), series(6000)]);
        assert_eq!(counted.bytes_out, 1050.0);
    }

    #[test]
    fn samples_with_timestamps_and_no_labels_parse() {
        let s = Scrape::parse("weft_records_in_total 7 1700000000000\nweft_bytes_in_total{topic=\"a b\"} 9\n");
        assert_eq!(s.totals(), Counters { bytes_in: 9.0, bytes_out: 0.0, records_in: 7.0 });
    }

    #[tokio::test]
    async fn a_url_that_is_not_http_is_refused_clearly() {
        let err = fetch("https://127.0.0.1:1/metrics").await.unwrap_err();
        assert_eq!(err.to_string(), "cannot scrape https://127.0.0.1:1/metrics: only http:// URLs are scraped");
    }
}
