//! Producer rules: tiny batches (linger.ms, batch.size), no compression while the data compresses well
//! (compression.type), and producers without idempotence (enable.idempotence).

use super::{Recommendation, Severity, num};
use crate::observations::{ClientObs, Observations, TopicObs};

/// Fewer records than this per batch means nearly every send leaves alone: the producer is not lingering.
pub const TINY_RECORDS_PER_BATCH: f64 = 5.0;
/// Batches below this many bytes pay the per-request cost (headers, a network round trip, an append) for
/// little data; 16 KiB is the Java producer's default batch.size.
pub const TINY_BATCH_BYTES: f64 = 16.0 * 1024.0;
/// Below this many batches (or requests) per second the per-request overhead is negligible whatever the batch
/// size, so small batches are not worth a recommendation.
pub const MIN_BATCHES_PER_SEC: f64 = 10.0;
/// The lingers suggested, shortest first: 10 ms adds at most 10 ms of latency and caps a producer at 100
/// batches per second per partition (and requests per second per broker connection); 50 ms is the most the
/// advisor suggests on its own, more latency than that is the application's call.
pub const LINGERS_MS: [f64; 2] = [10.0, 50.0];
/// The smallest reduction of batches (or requests) per second worth a recommendation.
pub const MIN_REDUCTION: f64 = 0.5;
/// A compression ratio below this (less than a third saved) is not worth the producer's CPU.
pub const MIN_COMPRESSION_RATIO: f64 = 1.5;
/// Share of sampled batches without compression above which a topic counts as uncompressed.
pub const UNCOMPRESSED_SHARE: f64 = 0.9;
/// Below this many bytes per second written, saving bytes does not matter.
pub const MIN_BYTES_PER_SEC: f64 = 1024.0;
/// Share of sampled batches without a producer id above which idempotence is reported off.
pub const PLAIN_BATCH_SHARE: f64 = 0.1;

pub fn recommend(obs: &Observations) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for c in &obs.clients {
        out.extend(tiny_client_batches(c, obs.brokers.max(1)));
    }
    for t in &obs.topics {
        out.extend(tiny_topic_batches(t, obs.window_secs));
        out.extend(no_compression(t, obs.window_secs));
        out.extend(idempotence_off(t));
    }
    out
}

fn tiny(records_per_batch: f64, bytes_per_batch: f64) -> bool {
    records_per_batch < TINY_RECORDS_PER_BATCH && bytes_per_batch < TINY_BATCH_BYTES
}

/// The shortest linger that cuts `current` batches per second by at least [`MIN_REDUCTION`], with the rate
/// expected then; `cap(linger)` is the most batches per second that linger allows.
fn linger_for(current: f64, cap: impl Fn(f64) -> f64) -> Option<(f64, f64)> {
    LINGERS_MS
        .iter()
        .map(|&l| (l, current.min(cap(l))))
        .find(|(_, expected)| *expected <= current * (1.0 - MIN_REDUCTION))
}

fn linger_setting(linger: f64) -> (String, String) {
    (
        "linger.ms / batch.size".into(),
        format!("linger.ms={} and batch.size=65536 or more; send without waiting for each delivery", num(linger)),
    )
}

/// A Weft agent saw this client id send tiny batches at a meaningful rate.
fn tiny_client_batches(c: &ClientObs, brokers: usize) -> Option<Recommendation> {
    let rps = c.requests_per_sec();
    if rps < MIN_BATCHES_PER_SEC || !tiny(c.records_per_batch(), c.bytes_per_batch()) {
        return None;
    }
    // With linger, one connection sends at most one request per linger period to each broker.
    let (linger, expected) = linger_for(rps, |l| brokers as f64 * 1000.0 / l)?;
    let (setting, suggested) = linger_setting(linger);
    Some(Recommendation {
        id: "tiny-batches",
        severity: Severity::Warning,
        target: format!("client {}", c.client_id),
        setting,
        current: format!("{} records and {} bytes per batch", num(c.records_per_batch()), num(c.bytes_per_batch())),
        suggested,
        effect: format!(
            "produce requests from {} to at most {}/s ({}% fewer), for at most {} ms more latency",
            num(rps),
            num(expected),
            num(100.0 * (1.0 - expected / rps)),
            num(linger)
        ),
        evidence: format!(
            "{} produce requests/s, {} batches per request, {} records per batch, {} bytes per batch over {}s",
            num(rps),
            num(c.batches_per_request()),
            num(c.records_per_batch()),
            num(c.bytes_per_batch()),
            num(c.window_secs)
        ),
    })
}

/// The sampled batches of a topic are tiny while it is written at a meaningful rate.
fn tiny_topic_batches(t: &TopicObs, window: f64) -> Option<Recommendation> {
    let s = t.sample.as_ref()?;
    let batches_per_sec = t.records_per_sec(window) / s.records_per_batch().max(1.0);
    if s.batches == 0 || batches_per_sec < MIN_BATCHES_PER_SEC || !tiny(s.records_per_batch(), s.bytes_per_batch()) {
        return None;
    }
    let active = t.partitions.iter().filter(|p| p.produced() > 0).count().max(1) as f64;
    // With linger, each producer sends at most one batch per linger period to each partition.
    let producers = s.producers.max(1) as f64;
    let (linger, expected) = linger_for(batches_per_sec, |l| active * producers * 1000.0 / l)?;
    let gap = s.median_batch_gap_ms.map(|g| format!(", a producer's batches {} ms apart (median)", num(g)));
    let (setting, suggested) = linger_setting(linger);
    Some(Recommendation {
        id: "tiny-batches",
        severity: Severity::Warning,
        target: format!("topic {}", t.name),
        setting,
        current: format!("{} records and {} bytes per batch", num(s.records_per_batch()), num(s.bytes_per_batch())),
        suggested,
        effect: format!(
            "batches written from {} to at most {}/s ({}% fewer produce requests and appends)",
            num(batches_per_sec),
            num(expected),
            num(100.0 * (1.0 - expected / batches_per_sec))
        ),
        evidence: format!(
            "{} records/s into {} partitions; {} sampled batches: {} records and {} bytes each{}",
            num(t.records_per_sec(window)),
            t.partitions.len(),
            s.batches,
            num(s.records_per_batch()),
            num(s.bytes_per_batch()),
            gap.unwrap_or_default()
        ),
    })
}

/// Producers send uncompressed batches whose records compress well.
fn no_compression(t: &TopicObs, window: f64) -> Option<Recommendation> {
    let s = t.sample.as_ref()?;
    let e = s.estimate.as_ref()?;
    let bytes_per_record = s.uncompressed_record_bytes as f64 / s.records.max(1) as f64;
    let bytes_per_sec = t.records_per_sec(window) * bytes_per_record;
    let (zstd, lz4) = (e.zstd_ratio(), e.lz4_ratio());
    if s.uncompressed_share() < UNCOMPRESSED_SHARE || zstd < MIN_COMPRESSION_RATIO || bytes_per_sec < MIN_BYTES_PER_SEC
    {
        return None;
    }
    // lz4 costs less CPU; prefer it when it gets within a tenth of zstd's ratio.
    let (codec, ratio) = if lz4 >= zstd * 0.9 { ("lz4", lz4) } else { ("zstd", zstd) };
    Some(Recommendation {
        id: "no-compression",
        severity: Severity::Info,
        target: format!("topic {}", t.name),
        setting: "compression.type (producer)".into(),
        current: "none".into(),
        suggested: codec.into(),
        effect: format!(
            "about {}% fewer bytes sent, stored and fetched ({} of {} bytes/s)",
            num(100.0 * (1.0 - 1.0 / ratio)),
            num(bytes_per_sec / ratio),
            num(bytes_per_sec)
        ),
        evidence: format!(
            "{}% of {} sampled batches uncompressed; their {} record bytes compress {}x with zstd, {}x with lz4",
            num(100.0 * s.uncompressed_share()),
            s.batches,
            e.input_bytes,
            num_ratio(zstd),
            num_ratio(lz4)
        ),
    })
}

fn num_ratio(x: f64) -> String {
    format!("{x:.1}")
}

/// Batches without a producer id: retries may duplicate or reorder records.
fn idempotence_off(t: &TopicObs) -> Option<Recommendation> {
    let s = t.sample.as_ref()?;
    let total = s.idempotent_batches + s.plain_batches;
    let share = s.plain_batches as f64 / total.max(1) as f64;
    if total == 0 || share < PLAIN_BATCH_SHARE {
        return None;
    }
    Some(Recommendation {
        id: "idempotence-off",
        severity: Severity::Warning,
        target: format!("topic {}", t.name),
        setting: "enable.idempotence (producer)".into(),
        current: "false".into(),
        suggested: "true (with acks=all)".into(),
        effect: "retries no longer duplicate or reorder records, at no throughput cost".into(),
        evidence: format!("{} of {} sampled batches carry no producer id", s.plain_batches, total),
    })
}
