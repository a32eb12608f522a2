//! The Prometheus text exposition format, read from a target's `/metrics`: one plain HTTP/1.0 GET bounded in
//! time and size, parsed into samples, with sums and histograms picked out by family and label.
//!
//! The parser is lenient on purpose: a line it does not understand is skipped, and a family that is
//! absent reads as absent, so a JMX exporter in front of Apache Kafka (other names, other labels) never
//! fails a run. A response over `MAX_RESPONSE_BYTES` fails the scrape rather than being cut short (a cut
//! page would read as counters going backwards). Parsing can be limited to the families a caller uses,
//! decided on the name before any label is read, so a big page costs little. (`weft-bench` has an older
//! parser for its object-store counters; the two can be merged.)

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest `/metrics` response read: a big agent renders a few MiB; more than this is not a metrics page.
pub const MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
/// Most samples kept from one scrape (bounded memory whatever the endpoint sends).
pub const MAX_SAMPLES: usize = 500_000;

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("metrics url {0:?} must be http://host:port/path")]
    Url(String),
    #[error("scraping {url} timed out after {ms} ms")]
    Timeout { url: String, ms: u128 },
    #[error("scraping {url}: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("{url} answered {status:?}")]
    Status { url: String, status: String },
    #[error("{url} answered with something other than text")]
    NotText { url: String },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("parsing the answer of {url}: {reason}")]
    Parse { url: String, reason: String },
}

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A histogram's cumulative buckets (`le`, count at or below), sum and count, summed over the series kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// Parses exposition text, skipping comments and lines that are not samples.
    pub fn parse(text: &str) -> Scrape {
        Scrape::parse_families(text, None)
    }

    /// Parses only the samples of `families` (a family's own name, or its `_bucket`, `_sum` and `_count`
    /// series); `None` keeps every family. Other lines are skipped on their name alone.
    pub fn parse_families(text: &str, families: Option<&[&str]>) -> Scrape {
        let wanted = |line: &str| families.is_none_or(|f| f.iter().any(|f| in_family(series_name(line), f)));
        let samples = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && wanted(l))
            .filter_map(sample)
            .take(MAX_SAMPLES)
            .collect();
        Scrape { samples }
    }

    /// Whether any sample of `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// The sum of `name` over the series whose labels include every `(key, value)` of `filter`; `None` when
    /// no series matches.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let mut matched = self.matching(name, filter).map(|s| s.value).peekable();
        matched.peek()?;
        Some(matched.sum())
    }

    /// The label values of `key` seen on `name`, each once.
    pub fn label_values(&self, name: &str, key: &str) -> Vec<String> {
        let mut out: Vec<String> =
            self.samples.iter().filter(|s| s.name == name).filter_map(|s| s.labels.get(key).cloned()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The histogram family `base` (its `_bucket`, `_sum` and `_count`), summed over the matching series.
    pub fn histogram(&self, base: &str, filter: &[(&str, &str)]) -> Option<Histogram> {
        let count = self.sum(&format!("{base}_count"), filter)?;
        let sum = self.sum(&format!("{base}_sum"), filter).unwrap_or(0.0);
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in self.matching(&format!("{base}_bucket"), filter) {
            let Some(le) = s.labels.get("le").and_then(|v| parse_value(v)) else { continue };
            let entry = by_le.entry(le.to_bits()).or_insert((le, 0.0));
            entry.1 += s.value;
        }
        let mut buckets: Vec<(f64, f64)> = by_le.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(Histogram { buckets, sum, count })
    }

    /// A summary's quantile (`{quantile="0.99"}`) summed over matching series when only one matches.
    pub fn quantile(&self, name: &str, q: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let mut all: Vec<f64> = self
            .matching(name, filter)
            .filter(|s| s.labels.get("quantile").map(String::as_str) == Some(q))
            .map(|s| s.value)
            .collect();
        (all.len() == 1).then(|| all.pop()).flatten()
    }

    fn matching<'a>(&'a self, name: &'a str, filter: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| {
            s.name == name && filter.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

impl Histogram {
    /// What was recorded between `before` and `self` (a counter that went down restarted from zero).
    pub fn since(&self, before: &Histogram) -> Histogram {
        if self.count < before.count {
            return self.clone();
        }
        let earlier = |le: f64| before.buckets.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
        Histogram {
            buckets: self.buckets.iter().map(|&(le, c)| (le, (c - earlier(le)).max(0.0))).collect(),
            sum: (self.sum - before.sum).max(0.0),
            count: self.count - before.count,
        }
    }

    /// The mean of the recorded values, `None` without any.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile (0..1) by linear interpolation inside the bucket holding it; the upper bound of the
    /// last finite bucket when it falls in `+Inf`. `None` without values, or when the buckets are missing
    /// or do not end in `+Inf` (then the rank cannot be placed).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count <= 0.0 || !self.buckets.last().is_some_and(|b| b.0 == f64::INFINITY) {
            return None;
        }
        let rank = q * self.count;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                if le.is_infinite() {
                    return Some(lower);
                }
                let within = cumulative - below;
                let fraction = if within > 0.0 { (rank - below) / within } else { 1.0 };
                return Some(lower + (le - lower) * fraction);
            }
            (lower, below) = (le, cumulative);
        }
        Some(lower)
    }
}

/// The metric name a sample line starts with.
fn series_name(line: &str) -> &str {
    let end = line.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(line.len());
    &line[..end]
}

fn in_family(name: &str, family: &str) -> bool {
    name.strip_prefix(family).is_some_and(|rest| ["", "_bucket", "_sum", "_count"].contains(&rest))
}

/// One sample line (`name{labels} value [timestamp] [# exemplar]`), or `None` for anything else.
fn sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    let name = series_name(line);
    if name.is_empty() {
        return None;
    }
    let rest = &line[name.len()..];
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(text) => labels(text)?,
        None => (BTreeMap::new(), rest),
    };
    // An exemplar follows ` # `; a timestamp may follow the value.
    let rest = rest.split_once(" # ").map_or(rest, |(value, _)| value);
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample { name: name.to_string(), labels, value })
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// `a="x",b="y\"z"}` as a map, and the text after the closing brace (quote-aware: a `}` or `#` inside a
/// value is part of it).
fn labels(mut text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut out = BTreeMap::new();
    loop {
        text = text.trim_start_matches([',', ' ']);
        if let Some(rest) = text.strip_prefix('}') {
            return Some((out, rest));
        }
        let (key, rest) = text.split_once('=')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        out.insert(key.trim().to_string(), value);
        text = &rest[end + 1..];
    }
}

/// Scrapes `url` (`http://host:port/path`) within `timeout`.
pub async fn scrape(url: &str, timeout: Duration) -> Result<Scrape, ScrapeError> {
    scrape_families(url, timeout, None).await
}

/// Scrapes `url` within `timeout`, keeping only `families` (all when `None`); the parse runs on the
/// blocking pool so a large page does not hold up the runtime's other tasks.
pub async fn scrape_families(
    url: &str,
    timeout: Duration,
    families: Option<&'static [&'static str]>,
) -> Result<Scrape, ScrapeError> {
    let text = tokio::time::timeout(timeout, fetch(url))
        .await
        .map_err(|_| ScrapeError::Timeout { url: url.to_string(), ms: timeout.as_millis() })??;
    tokio::task::spawn_blocking(move || Scrape::parse_families(&text, families))
        .await
        .map_err(|e| ScrapeError::Parse { url: url.to_string(), reason: e.to_string() })
}

async fn fetch(url: &str) -> Result<String, ScrapeError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| ScrapeError::Url(url.to_string()))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let io = |source| ScrapeError::Io { url: url.to_string(), source };
    let mut socket = tokio::net::TcpStream::connect(host).await.map_err(io)?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n");
    socket.write_all(request.as_bytes()).await.map_err(io)?;
    let mut body = Vec::new();
    socket.take(MAX_RESPONSE_BYTES + 1).read_to_end(&mut body).await.map_err(io)?;
    if body.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(ScrapeError::TooLarge { url: url.to_string(), limit: MAX_RESPONSE_BYTES });
    }
    let text = String::from_utf8(body).map_err(|_| ScrapeError::NotText { url: url.to_string() })?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| ScrapeError::NotText { url: url.to_string() })?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(ScrapeError::Status { url: url.to_string(), status: status.to_string() });
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP weft_request_duration_seconds x\n\
        # TYPE weft_request_duration_seconds histogram\n\
        weft_request_duration_seconds_bucket{api=\"Produce\",le=\"0.01\"} 2\n\
        weft_request_duration_seconds_bucket{api=\"Produce\",le=\"0.1\"} 8\n\
        weft_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 10\n\
        weft_request_duration_seconds_sum{api=\"Produce\"} 0.9\n\
        weft_request_duration_seconds_count{api=\"Produce\"} 10\n\
        weft_object_store_requests_total{op=\"put\",result=\"ok\"} 7\n\
        weft_object_store_requests_total{op=\"put\",result=\"error\"} 1\n\
        kafka_network_requestmetrics_totaltimems{request=\"Produce\",quantile=\"0.99\",} 12.5 1700000000000\n\
        garbage line without value\n\
        weird{unterminated=\"x} 3\n";

    #[test]
    fn sums_filter_by_label_and_absent_families_are_none() {
        let s = Scrape::parse(TEXT);
        assert_eq!(s.sum("weft_object_store_requests_total", &[("op", "put")]), Some(8.0));
        assert_eq!(s.sum("weft_object_store_requests_total", &[("result", "error")]), Some(1.0));
        assert_eq!(s.sum("weft_object_store_requests_total", &[("op", "get")]), None);
        assert_eq!(s.sum("nope", &[]), None);
        assert_eq!(s.label_values("weft_object_store_requests_total", "result"), ["error", "ok"]);
    }

    #[test]
    fn jmx_style_lines_with_trailing_comma_and_timestamp_parse() {
        let s = Scrape::parse(TEXT);
        let q = s.quantile("kafka_network_requestmetrics_totaltimems", "0.99", &[("request", "Produce")]);
        assert_eq!(q, Some(12.5));
        assert!(!s.has("weird"), "an unterminated label value is skipped");
    }

    #[test]
    fn histogram_deltas_give_mean_and_interpolated_quantiles() {
        let after = Scrape::parse(TEXT).histogram("weft_request_duration_seconds", &[("api", "Produce")]).unwrap();
        let before = Histogram { buckets: vec![(0.01, 1.0), (0.1, 1.0), (f64::INFINITY, 2.0)], sum: 0.5, count: 2.0 };
        let d = after.since(&before);
        assert_eq!(d.count, 8.0);
        assert!((d.mean().unwrap() - 0.05).abs() < 1e-9);
        // 8 values: 1 at or below 10 ms, 6 in (10 ms, 100 ms], 1 above. The median is in the second bucket.
        let p50 = d.quantile(0.5).unwrap();
        assert!((p50 - (0.01 + 0.09 * 3.0 / 6.0)).abs() < 1e-9, "{p50}");
        assert_eq!(d.quantile(0.99), Some(0.1), "in +Inf: the last finite bound");
        assert_eq!(Histogram::default().quantile(0.5), None);
        let no_buckets = Histogram { buckets: vec![], sum: 1.0, count: 4.0 };
        assert_eq!(no_buckets.quantile(0.99), None, "a count without buckets has no quantile");
        let cut = Histogram { buckets: vec![(0.1, 2.0), (1.0, 3.0)], sum: 1.0, count: 4.0 };
        assert_eq!(cut.quantile(0.99), None, "buckets not ending in +Inf cannot place the rank");
        // A restart (count went down) counts from zero.
        assert_eq!(before.since(&after), before);
    }

    #[test]
    fn label_values_unescape() {
        let s = sample(r#"m{a="x\"y", b="z\\w\n"} 2.5"#).unwrap();
        assert_eq!((s.name.as_str(), s.value), ("m", 2.5));
        assert_eq!(s.labels["a"], "x\"y");
        assert_eq!(s.labels["b"], "z\\w\n");
        assert!(sample("only_name").is_none());
        assert_eq!(sample("up 1").unwrap().value, 1.0);
    }

    #[test]
    fn exemplars_do_not_replace_the_value_and_braces_in_values_are_kept() {
        let s = sample(r#"m_bucket{le="0.1"} 8 # {trace_id="x"} 0.05 1700000000"#).unwrap();
        assert_eq!((s.labels["le"].as_str(), s.value), ("0.1", 8.0));
        let s = sample(r#"m{path="/a}b # c"} 3 # {trace_id="y"} 9"#).unwrap();
        assert_eq!((s.labels["path"].as_str(), s.value), ("/a}b # c", 3.0));
        assert_eq!(sample(r#"m_total 4 # {trace_id="z"} 1"#).unwrap().value, 4.0);
    }

    #[test]
    fn only_the_families_asked_for_are_parsed() {
        let s = Scrape::parse_families(TEXT, Some(&["weft_request_duration_seconds"]));
        assert!(s.has("weft_request_duration_seconds_bucket") && s.has("weft_request_duration_seconds_count"));
        assert!(!s.has("weft_object_store_requests_total"));
        assert_eq!(s.samples.len(), 5);
        let prefixed =
            Scrape::parse_families("weft_request_duration_seconds_other 1\n", Some(&["weft_request_duration_seconds"]));
        assert!(prefixed.samples.is_empty(), "a longer name sharing the prefix is another family");
    }

    #[tokio::test]
    async fn a_response_over_the_limit_fails_the_scrape() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await.unwrap();
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await;
            let line = vec![b'#'; 1 << 20];
            for _ in 0..=MAX_RESPONSE_BYTES >> 20 {
                if s.write_all(&line).await.is_err() {
                    return;
                }
            }
        });
        let err = scrape(&format!("http://{addr}/metrics"), Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(err, ScrapeError::TooLarge { .. }), "{err}");
        server.abort();
    }

    #[tokio::test]
    async fn scrapes_over_http_and_refuses_other_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for answer in ["HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0 404 Not Found\r\n\r\n"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(format!("{answer}{TEXT}").as_bytes()).await.unwrap();
            }
        });
        let url = format!("http://{addr}/metrics");
        let s = scrape(&url, Duration::from_secs(5)).await.unwrap();
        assert!(s.has("weft_request_duration_seconds_count"));
        let err = scrape(&url, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
        server.await.unwrap();
        assert!(matches!(scrape("https://x/metrics", Duration::from_secs(1)).await, Err(ScrapeError::Url(_))));
    }
}
