//! What each producing client sends, as only the broker sees it: per client id, produce requests, batches,
//! records, bytes on the wire and decompressed, codecs and acks. `weft advise` reads it (admin HTTP
//! `GET /v1/clients`) to recommend linger, batch size and compression per client.
//!
//! Bounded: at most [`MAX_CLIENTS`] client ids, the least recently seen evicted, and client ids cut to
//! [`MAX_CLIENT_ID_BYTES`]. Client ids are never Prometheus labels (unbounded cardinality). One short lock per
//! produce request, never per record or batch; the produce path already decompressed every batch for its
//! record checks, so the decompressed size costs nothing more here.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most client ids remembered. Enough for the producers of a typical cluster's applications; beyond it the
/// ones not seen for longest are forgotten, so memory stays bounded whatever clients send.
pub const MAX_CLIENTS: usize = 256;
/// Client ids longer than this are cut (at a character boundary): a 32 KiB client id times 256 would be 8 MiB.
pub const MAX_CLIENT_ID_BYTES: usize = 256;
/// Codec ids as the batch attributes carry them: none, gzip, snappy, lz4, zstd.
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// What one produce request carried, summed over its accepted batches (built by the produce handler).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProduceSample {
    pub batches: u64,
    pub records: u64,
    /// Batch bytes as sent (compressed when the batch is).
    pub bytes: u64,
    /// Record bytes after decompression (without the 61-byte batch headers).
    pub uncompressed_bytes: u64,
    /// Batch bytes without headers, to compare with `uncompressed_bytes`.
    pub payload_bytes: u64,
    pub batches_by_codec: [u64; 5],
}

impl ProduceSample {
    /// Adds one accepted batch: its size on the wire, codec, record count and decompressed record bytes.
    pub fn add_batch(&mut self, size: usize, codec: i16, records: i32, uncompressed: usize) {
        self.batches += 1;
        self.records += records.max(0) as u64;
        self.bytes += size as u64;
        self.payload_bytes += size.saturating_sub(weft_protocol::batch::BATCH_HEADER_LEN) as u64;
        self.uncompressed_bytes += uncompressed as u64;
        if let Some(n) = usize::try_from(codec).ok().and_then(|c| self.batches_by_codec.get_mut(c)) {
            *n += 1;
        }
    }

    /// Adds another sample's counts to this one.
    pub fn merge(&mut self, other: &ProduceSample) {
        self.batches += other.batches;
        self.records += other.records;
        self.bytes += other.bytes;
        self.uncompressed_bytes += other.uncompressed_bytes;
        self.payload_bytes += other.payload_bytes;
        for (total, n) in self.batches_by_codec.iter_mut().zip(other.batches_by_codec) {
            *total += n;
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Entry {
    requests: u64,
    sample: ProduceSample,
    /// Requests by acks: -1 (all), 0, 1.
    acks: [u64; 3],
    first_seen_ms: i64,
    last_seen_ms: i64,
    /// Order of last use, for eviction (a counter, so equal clock readings still order).
    last_use: u64,
}

#[derive(Default)]
struct Table {
    entries: HashMap<String, Entry>,
    uses: u64,
}

/// The per-client-id produce table of one agent.
#[derive(Default)]
pub struct ClientTraffic {
    table: Mutex<Table>,
}

impl ClientTraffic {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one produce request of `client_id`. Requests with nothing accepted still count as requests.
    pub fn record(&self, client_id: &str, acks: i16, now_ms: i64, sample: &ProduceSample) {
        let Ok(mut t) = self.table.lock() else { return };
        t.uses += 1;
        let uses = t.uses;
        let id = bounded_id(client_id);
        if !t.entries.contains_key(id) {
            if t.entries.len() >= MAX_CLIENTS {
                evict_oldest(&mut t.entries);
            }
            let entry = Entry { first_seen_ms: now_ms, ..Entry::default() };
            t.entries.insert(id.to_string(), entry);
        }
        let Some(e) = t.entries.get_mut(id) else { return };
        e.requests += 1;
        e.last_seen_ms = now_ms;
        e.last_use = uses;
        if let Some(n) = usize::try_from(acks + 1).ok().and_then(|i| e.acks.get_mut(i)) {
            *n += 1;
        }
        e.sample.merge(sample);
    }

    /// The table as served at `/v1/clients`, most recently seen first.
    pub fn snapshot(&self, now_ms: i64) -> ClientsReport {
        let mut clients: Vec<ClientReport> = match self.table.lock() {
            Ok(t) => t.entries.iter().map(|(id, e)| ClientReport::new(id, e)).collect(),
            Err(_) => Vec::new(),
        };
        clients.sort_by(|a, b| b.last_seen_ms.cmp(&a.last_seen_ms).then_with(|| a.client_id.cmp(&b.client_id)));
        ClientsReport { version: 1, now_ms, max_clients: MAX_CLIENTS, clients }
    }
}

fn bounded_id(id: &str) -> &str {
    if id.len() <= MAX_CLIENT_ID_BYTES {
        return id;
    }
    let mut end = MAX_CLIENT_ID_BYTES;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

fn evict_oldest(entries: &mut HashMap<String, Entry>) {
    let oldest = entries.iter().min_by_key(|(_, e)| e.last_use).map(|(id, _)| id.clone());
    if let Some(id) = oldest {
        entries.remove(&id);
    }
}

/// `GET /v1/clients`: version 1 of the per-client produce table. Counters are totals since `first_seen_ms`;
/// a reader takes two snapshots to get rates.
#[derive(Debug, Serialize)]
pub struct ClientsReport {
    pub version: u32,
    pub now_ms: i64,
    pub max_clients: usize,
    pub clients: Vec<ClientReport>,
}

#[derive(Debug, Serialize)]
pub struct ClientReport {
    pub client_id: String,
    pub produce_requests: u64,
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub uncompressed_bytes: u64,
    /// Batches by codec name; codecs never used are left out.
    pub codecs: std::collections::BTreeMap<&'static str, u64>,
    /// Requests by acks ("-1", "0", "1"); values never used are left out.
    pub acks: std::collections::BTreeMap<&'static str, u64>,
    pub batches_per_request: f64,
    pub records_per_batch: f64,
    /// Decompressed record bytes over the bytes of the batches' record sections (1.0 when uncompressed).
    pub compression_ratio: f64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

impl ClientReport {
    fn new(id: &str, e: &Entry) -> Self {
        let s = &e.sample;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let codecs = CODECS.iter().zip(s.batches_by_codec).filter(|(_, n)| *n > 0).map(|(c, n)| (*c, n)).collect();
        let acks = ["-1", "0", "1"].iter().zip(e.acks).filter(|(_, n)| *n > 0).map(|(a, n)| (*a, n)).collect();
        ClientReport {
            client_id: id.to_string(),
            produce_requests: e.requests,
            batches: s.batches,
            records: s.records,
            bytes: s.bytes,
            uncompressed_bytes: s.uncompressed_bytes,
            codecs,
            acks,
            batches_per_request: ratio(s.batches, e.requests),
            records_per_batch: ratio(s.records, s.batches),
            compression_ratio: ratio(s.uncompressed_bytes, s.payload_bytes),
            first_seen_ms: e.first_seen_ms,
            last_seen_ms: e.last_seen_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_batch(records: i32, size: usize, codec: i16, uncompressed: usize) -> ProduceSample {
        let mut s = ProduceSample::default();
        s.add_batch(size, codec, records, uncompressed);
        s
    }

    #[test]
    fn counts_requests_batches_records_codecs_and_acks_per_client() {
        let t = ClientTraffic::new();
        t.record("app", -1, 1_000, &one_batch(10, 561, 4, 2000));
        t.record("app", 1, 2_000, &one_batch(30, 1061, 0, 1000));
        t.record("other", 0, 1_500, &ProduceSample::default());
        let r = t.snapshot(3_000);
        assert_eq!(r.version, 1);
        let app = &r.clients[0];
        assert_eq!(app.client_id, "app");
        assert_eq!((app.produce_requests, app.batches, app.records, app.bytes), (2, 2, 40, 1622));
        assert_eq!(app.codecs.get("zstd"), Some(&1));
        assert_eq!(app.codecs.get("none"), Some(&1));
        assert_eq!(app.acks.get("-1"), Some(&1));
        assert_eq!(app.acks.get("1"), Some(&1));
        assert_eq!((app.first_seen_ms, app.last_seen_ms), (1_000, 2_000));
        assert_eq!(app.records_per_batch, 20.0);
        assert_eq!(app.batches_per_request, 1.0);
        // (2000 + 1000) decompressed over (500 + 1000) bytes of record sections.
        assert_eq!(app.compression_ratio, 2.0);
        assert_eq!(r.clients[1].client_id, "other");
        assert_eq!(r.clients[1].batches, 0);
    }

    #[test]
    fn keeps_at_most_max_clients_evicting_the_least_recently_seen() {
        let t = ClientTraffic::new();
        for i in 0..MAX_CLIENTS {
            t.record(&format!("c{i}"), -1, i as i64, &ProduceSample::default());
        }
        t.record("c0", -1, 10_000, &ProduceSample::default());
        t.record("new", -1, 10_001, &ProduceSample::default());
        let r = t.snapshot(0);
        assert_eq!(r.clients.len(), MAX_CLIENTS);
        let ids: Vec<&str> = r.clients.iter().map(|c| c.client_id.as_str()).collect();
        assert!(ids.contains(&"c0"), "recently seen again, kept");
        assert!(ids.contains(&"new"));
        assert!(!ids.contains(&"c1"), "least recently seen, evicted");
    }

    #[test]
    fn long_client_ids_are_cut_at_a_character_boundary() {
        let t = ClientTraffic::new();
        let long = "é".repeat(MAX_CLIENT_ID_BYTES);
        t.record(&long, -1, 0, &ProduceSample::default());
        let r = t.snapshot(0);
        assert!(r.clients[0].client_id.len() <= MAX_CLIENT_ID_BYTES);
        assert!(long.starts_with(&r.clients[0].client_id));
    }

    /// The hook's cost: one call per produce request. Printed (run with --nocapture); the bound only catches
    /// a gross regression on a loaded machine.
    #[test]
    fn many_updates_are_all_counted_and_their_cost_is_printed() {
        let t = ClientTraffic::new();
        let ids: Vec<String> = (0..64).map(|i| format!("producer-{i}")).collect();
        let sample = one_batch(10, 1000, 0, 939);
        let n = 200_000;
        let start = std::time::Instant::now();
        for i in 0..n {
            t.record(&ids[i % ids.len()], -1, i as i64, &sample);
        }
        let per = start.elapsed().as_nanos() as f64 / n as f64;
        println!("client_traffic: {per:.0} ns per produce request");
        let r = t.snapshot(0);
        assert_eq!(r.clients.iter().map(|c| c.produce_requests).sum::<u64>(), n as u64);
        assert!(per < 1_500.0 || cfg!(debug_assertions), "{per} ns per update");
    }
}
