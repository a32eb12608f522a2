//! Weft's per-client-id produce observations: two reads of an agent's admin HTTP `GET /v1/clients` (version 1)
//! around the window, their differences per client id. Only a Weft agent serves it; against Kafka the probe
//! fails quietly and the advice rests on what the Kafka protocol shows.

use crate::observations::ClientObs;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The admin listener's default port, probed on the bootstrap host when no `--admin-url` is given.
pub const DEFAULT_ADMIN_PORT: u16 = 9644;
/// Bound on one read of `/v1/clients` (a probe of a cluster that is not Weft included).
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest `/v1/clients` body accepted (256 clients take far less).
const MAX_BODY: usize = 8 << 20;

#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub now_ms: i64,
    pub clients: Vec<Client>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub produce_requests: u64,
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub uncompressed_bytes: u64,
    #[serde(default)]
    pub codecs: BTreeMap<String, u64>,
    pub compression_ratio: f64,
}

/// The admin base URL to read: the one given, else the bootstrap host's default admin port.
pub fn admin_base(given: Option<&str>, bootstrap: &str) -> String {
    if let Some(url) = given {
        let url = url.trim_end_matches('/');
        return url.strip_suffix("/metrics").unwrap_or(url).to_string();
    }
    let first = bootstrap.split(',').next().unwrap_or("").trim();
    let first = first.split_once("://").map_or(first, |(_, a)| a);
    let host = first.rsplit_once(':').map_or(first, |(h, _)| h);
    format!("http://{host}:{DEFAULT_ADMIN_PORT}")
}

/// One read of `{base}/v1/clients`; the URL's user and password, if any, as HTTP basic auth.
pub async fn read(http: &reqwest::Client, base: &str) -> Result<Snapshot> {
    let url = reqwest::Url::parse(&format!("{base}/v1/clients")).with_context(|| format!("admin url {base}"))?;
    let mut req = http.get(url.clone()).timeout(READ_TIMEOUT);
    if !url.username().is_empty() {
        req = req.basic_auth(url.username(), url.password());
    }
    let resp = req.send().await.with_context(|| format!("reading {}", strip_auth(&url)))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("{} answered {status}", strip_auth(&url));
    }
    let body = resp.bytes().await?;
    if body.len() > MAX_BODY {
        bail!("{} sent {} bytes, more than {MAX_BODY}", strip_auth(&url), body.len());
    }
    let snap: Snapshot =
        serde_json::from_slice(&body).with_context(|| format!("{} is not Weft's", strip_auth(&url)))?;
    if snap.version != 1 {
        bail!("{} speaks version {} of /v1/clients, this client version 1", strip_auth(&url), snap.version);
    }
    Ok(snap)
}

fn strip_auth(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// What each client id sent between two snapshots (clients with no produce request in between left out).
pub fn difference(before: &Snapshot, after: &Snapshot) -> Vec<ClientObs> {
    let window_secs = (after.now_ms - before.now_ms).max(0) as f64 / 1000.0;
    let old: HashMap<&str, &Client> = before.clients.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let mut out: Vec<ClientObs> = after
        .clients
        .iter()
        .filter_map(|c| {
            // A client evicted and seen again restarts its counters: then its totals are the window's best bound.
            let o = old.get(c.client_id.as_str()).filter(|o| o.produce_requests <= c.produce_requests);
            let d = |f: fn(&Client) -> u64| f(c).saturating_sub(o.map_or(0, |o| f(o)));
            let requests = d(|c| c.produce_requests);
            let codecs = c
                .codecs
                .iter()
                .map(|(k, n)| (k.clone(), n.saturating_sub(o.and_then(|o| o.codecs.get(k)).copied().unwrap_or(0))))
                .filter(|(_, n)| *n > 0)
                .collect();
            (requests > 0).then(|| ClientObs {
                client_id: c.client_id.clone(),
                requests,
                batches: d(|c| c.batches),
                records: d(|c| c.records),
                bytes: d(|c| c.bytes),
                uncompressed_bytes: d(|c| c.uncompressed_bytes),
                codecs,
                compression_ratio: c.compression_ratio,
                window_secs,
            })
        })
        .collect();
    out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, requests: u64, batches: u64, records: u64) -> Client {
        Client {
            client_id: id.into(),
            produce_requests: requests,
            batches,
            records,
            bytes: batches * 100,
            uncompressed_bytes: batches * 80,
            codecs: BTreeMap::from([("none".to_string(), batches)]),
            compression_ratio: 1.0,
        }
    }

    #[test]
    fn differences_are_per_client_over_the_window() {
        let before =
            Snapshot { version: 1, now_ms: 1_000, clients: vec![client("a", 10, 10, 10), client("idle", 5, 5, 5)] };
        let after = Snapshot {
            version: 1,
            now_ms: 11_000,
            clients: vec![client("a", 110, 110, 110), client("idle", 5, 5, 5), client("new", 7, 7, 70)],
        };
        let d = difference(&before, &after);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].client_id.as_str(), d[0].requests, d[0].bytes), ("a", 100, 10_000));
        assert_eq!(d[0].codecs.get("none"), Some(&100));
        assert_eq!(d[0].window_secs, 10.0);
        assert_eq!(d[0].requests_per_sec(), 10.0);
        assert_eq!((d[1].client_id.as_str(), d[1].records), ("new", 70));
    }

    #[test]
    fn the_admin_url_defaults_to_the_bootstrap_host() {
        assert_eq!(admin_base(None, "kafka-1:9092,kafka-2:9092"), "http://kafka-1:9644");
        assert_eq!(admin_base(Some("http://a:1/metrics"), "x:9092"), "http://a:1");
        assert_eq!(admin_base(Some("https://u:p@a:1/"), "x:9092"), "https://u:p@a:1");
    }
}
