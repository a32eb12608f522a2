//! A latency and failure model of a remote object store, so that S3's latency and its transient failures
//! can be reproduced on one machine (tests and `weft bench`; never needed in production).
//!
//! Each operation kind has a log-normal latency given by its median and 99th percentile (a log-normal fits
//! the long right tail measured for S3 requests, and two published percentiles pin it down). Writes add a
//! transfer time per byte to their request latency, reads add it after the first byte. Failures are drawn
//! at fixed rates: 503 SlowDown, 500 InternalError, and a stalled request the client abandons after a
//! while. All randomness comes from one seeded generator, so a seed replays the same delays and faults.
//!
//! # Presets and where their figures come from
//!
//! Figures are for a client in the bucket's region (S3 Standard) or zone (S3 Express One Zone). Sources:
//! - AWS, "Best practices design patterns: optimizing Amazon S3 performance", section "Timeouts and
//!   retries for latency-sensitive applications"
//!   (<https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html>):
//!   small requests have median latencies "in the tens of milliseconds"; retry a GET or PUT after 2 s;
//!   503 SlowDown is returned while S3 scales a prefix up and must be retried with backoff.
//! - AWS, "Announcing Amazon S3 Express One Zone" (re:Invent 2023) and "Performance guidelines and design
//!   patterns for S3 Express One Zone"
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-optimizing-performance-guidelines-design-patterns.html>):
//!   "single-digit millisecond" data access, up to 10 times faster than S3 Standard.
//! - WarpStream, "WarpStream S3 Express One Zone Benchmark and Total Cost of Ownership" (2025) and its
//!   low-latency documentation: a 4 MiB PUT to S3 Standard has a p99 around 400 ms; with S3 Express and
//!   50 ms batches produce p50/p99 are 105/169 ms.
//! - Quickwit, "S3 Express speculations" (2023): S3 Standard GET time to first byte is typically up to
//!   30 ms with 80 ms tails common, and about 80 MB/s per connection afterwards.
//!
//! What was chosen, and why: S3 Standard GET first byte p50 30 ms / p99 100 ms and 80 MB/s (Quickwit's
//! measurements, tail rounded up); PUT p50 50 ms / p99 300 ms plus 40 MiB/s, so that a 4 MiB PUT comes to
//! p50 about 150 ms and p99 about 400 ms (WarpStream's figure); HEAD, LIST and DELETE, for which no
//! measurement was found, are placed between the small GET and the PUT (HEAD p50 15 / p99 60 ms, LIST
//! 40 / 150 ms, DELETE 20 / 80 ms). S3 Express divides the request latencies by about ten (AWS's "up to
//! 10x", "single-digit milliseconds": GET first byte p50 4 / p99 12 ms, PUT 6 / 25 ms) and moves bytes at
//! 100 MiB/s. Both presets fail 0.05 % of requests with 503 SlowDown, 0.01 % with 500 and stall 0.01 %
//! until the client gives up after 2 s (AWS's advice for small requests): S3's 99.99 % availability
//! design target allows about one failed request in ten thousand, and SlowDown is the most frequent
//! failure clients report.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;
use std::time::Duration;

/// The 99th percentile of the standard normal distribution.
const Z_99: f64 = 2.326_347_874_040_841;

/// A modelled object store, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreModel {
    /// Amazon S3 Standard, from a client in the bucket's region.
    S3Standard,
    /// Amazon S3 Express One Zone, from a client in the bucket's zone.
    S3Express,
}

/// The model to put in the stack, and the seed of its randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    pub model: StoreModel,
    pub seed: u64,
}

/// The kinds of request the model tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    Head,
    List,
    Delete,
}

/// A log-normal latency given by its median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
}

impl Latency {
    const fn ms(p50: u64, p99: u64) -> Self {
        Latency { p50: Duration::from_millis(p50), p99: Duration::from_millis(p99) }
    }

    /// The latency at standard normal deviate `z`.
    fn at(&self, z: f64) -> Duration {
        let (p50, p99) = (self.p50.as_secs_f64().max(1e-9), self.p99.as_secs_f64().max(1e-9));
        let sigma = (p99.ln() - p50.ln()).max(0.0) / Z_99;
        Duration::from_secs_f64((p50.ln() + sigma * z).exp())
    }
}

/// Everything the model draws from: a latency per operation, transfer rates and failure rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub put: Latency,
    /// Time to the first byte of a GET.
    pub get: Latency,
    pub head: Latency,
    /// One listing page (up to 1,000 keys).
    pub list: Latency,
    /// One delete request (S3's DeleteObjects takes up to 1,000 keys).
    pub delete: Latency,
    /// Bytes per second a PUT uploads once its request is accepted.
    pub put_bytes_per_sec: f64,
    /// Bytes per second a GET delivers after its first byte.
    pub get_bytes_per_sec: f64,
    /// Fraction of requests answered 503 SlowDown.
    pub slow_down_rate: f64,
    /// Fraction of requests answered 500 InternalError.
    pub server_error_rate: f64,
    /// Fraction of requests that stall until the client gives up.
    pub timeout_rate: f64,
    /// How long a stalled request is waited for; also the longest latency the model draws.
    pub timeout_after: Duration,
}

const MIB: f64 = 1024.0 * 1024.0;

impl StoreModel {
    /// The figures of this model (see the module documentation for their sources).
    pub fn profile(self) -> Profile {
        let failures = |p: Profile| Profile {
            slow_down_rate: 0.0005,
            server_error_rate: 0.0001,
            timeout_rate: 0.0001,
            timeout_after: Duration::from_secs(2),
            ..p
        };
        match self {
            StoreModel::S3Standard => failures(Profile {
                put: Latency::ms(50, 300),
                get: Latency::ms(30, 100),
                head: Latency::ms(15, 60),
                list: Latency::ms(40, 150),
                delete: Latency::ms(20, 80),
                put_bytes_per_sec: 40.0 * MIB,
                get_bytes_per_sec: 80e6,
                ..Profile::NONE
            }),
            StoreModel::S3Express => failures(Profile {
                put: Latency::ms(6, 25),
                get: Latency::ms(4, 12),
                head: Latency::ms(3, 10),
                list: Latency::ms(8, 25),
                delete: Latency::ms(4, 12),
                put_bytes_per_sec: 100.0 * MIB,
                get_bytes_per_sec: 100.0 * MIB,
                ..Profile::NONE
            }),
        }
    }
}

impl Profile {
    /// No latency and no failures: the base of the presets, and of tests that set one figure.
    pub const NONE: Profile = Profile {
        put: Latency::ms(0, 0),
        get: Latency::ms(0, 0),
        head: Latency::ms(0, 0),
        list: Latency::ms(0, 0),
        delete: Latency::ms(0, 0),
        put_bytes_per_sec: f64::INFINITY,
        get_bytes_per_sec: f64::INFINITY,
        slow_down_rate: 0.0,
        server_error_rate: 0.0,
        timeout_rate: 0.0,
        timeout_after: Duration::from_secs(2),
    };

    fn latency(&self, op: Op) -> Latency {
        match op {
            Op::Put => self.put,
            Op::Get => self.get,
            Op::Head => self.head,
            Op::List => self.list,
            Op::Delete => self.delete,
        }
    }
}

/// A failure the model injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 SlowDown: S3 asks the client to reduce its request rate.
    SlowDown,
    /// 500 InternalError.
    ServerError,
    /// No answer: the client gives up after [`Profile::timeout_after`].
    Timeout,
}

/// Draws delays and faults from a [`Profile`] with a seeded generator.
#[derive(Debug)]
pub struct Sampler {
    profile: Profile,
    rng: Mutex<StdRng>,
}

impl Sampler {
    pub fn new(profile: Profile, seed: u64) -> Self {
        Sampler { profile, rng: Mutex::new(StdRng::seed_from_u64(seed)) }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// A uniform draw in [0, 1).
    fn uniform(&self) -> f64 {
        // A poisoned lock only means another thread panicked mid-draw; the generator is still usable.
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random::<f64>()
    }

    /// A standard normal draw (Box-Muller).
    fn normal(&self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// The request latency of one `op`, bounded by the timeout.
    pub fn latency(&self, op: Op) -> Duration {
        self.profile.latency(op).at(self.normal()).min(self.profile.timeout_after)
    }

    /// The time `bytes` take to move in direction `op` (PUT uploads, anything else downloads).
    pub fn transfer(&self, op: Op, bytes: u64) -> Duration {
        let rate = if op == Op::Put { self.profile.put_bytes_per_sec } else { self.profile.get_bytes_per_sec };
        if rate.is_finite() && rate > 0.0 { Duration::from_secs_f64(bytes as f64 / rate) } else { Duration::ZERO }
    }

    /// The failure of the next request, if it fails.
    pub fn fault(&self) -> Option<Fault> {
        let p = &self.profile;
        let u = self.uniform();
        if u < p.slow_down_rate {
            Some(Fault::SlowDown)
        } else if u < p.slow_down_rate + p.server_error_rate {
            Some(Fault::ServerError)
        } else if u < p.slow_down_rate + p.server_error_rate + p.timeout_rate {
            Some(Fault::Timeout)
        } else {
            None
        }
    }

    /// A fair coin: whether a write that timed out took effect anyway.
    pub fn landed(&self) -> bool {
        self.uniform() < 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile(sorted: &[Duration], q: f64) -> Duration {
        sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
    }

    /// With 200,000 draws the empirical 50th and 99th percentiles lie within a few per cent of the true
    /// ones (their standard errors are about 0.3 % and 1 % of the value for these spreads); the bounds
    /// below are several standard errors wide, and the seed makes the draw the same on every run.
    #[test]
    fn sampled_percentiles_match_each_preset() {
        for model in [StoreModel::S3Standard, StoreModel::S3Express] {
            let sampler = Sampler::new(model.profile(), 7);
            for op in [Op::Put, Op::Get, Op::Head, Op::List, Op::Delete] {
                let mut draws: Vec<Duration> = (0..200_000).map(|_| sampler.latency(op)).collect();
                draws.sort();
                let want = model.profile().latency(op);
                for (q, want, tolerance) in [(0.5, want.p50, 0.03), (0.99, want.p99, 0.08)] {
                    let got = percentile(&draws, q).as_secs_f64();
                    let rel = (got / want.as_secs_f64() - 1.0).abs();
                    assert!(rel < tolerance, "{model:?} {op:?} p{}: got {got:.4}s, want {want:?}", q * 100.0);
                }
            }
        }
    }

    #[test]
    fn the_same_seed_replays_the_same_delays_and_faults() {
        let draw = |seed| {
            let s = Sampler::new(StoreModel::S3Standard.profile(), seed);
            (0..100).map(|_| (s.latency(Op::Get), s.fault())).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn faults_are_drawn_at_their_rates() {
        let profile = Profile { slow_down_rate: 0.05, server_error_rate: 0.02, timeout_rate: 0.01, ..Profile::NONE };
        let sampler = Sampler::new(profile, 11);
        let n = 200_000;
        let faults: Vec<_> = (0..n).filter_map(|_| sampler.fault()).collect();
        let rate = |f: Fault| faults.iter().filter(|&&x| x == f).count() as f64 / n as f64;
        // Binomial standard errors are below 0.0005 here; the bounds are about five of them.
        assert!((rate(Fault::SlowDown) - 0.05).abs() < 0.0025, "{}", rate(Fault::SlowDown));
        assert!((rate(Fault::ServerError) - 0.02).abs() < 0.0015, "{}", rate(Fault::ServerError));
        assert!((rate(Fault::Timeout) - 0.01).abs() < 0.001, "{}", rate(Fault::Timeout));
        assert_eq!(Sampler::new(Profile::NONE, 1).fault(), None);
    }

    #[test]
    fn a_four_mib_put_on_s3_standard_comes_to_about_the_published_figures() {
        let sampler = Sampler::new(StoreModel::S3Standard.profile(), 3);
        let bytes = 4 * 1024 * 1024;
        let mut draws: Vec<Duration> =
            (0..100_000).map(|_| sampler.latency(Op::Put) + sampler.transfer(Op::Put, bytes)).collect();
        draws.sort();
        let (p50, p99) = (percentile(&draws, 0.5), percentile(&draws, 0.99));
        assert!(p50 > Duration::from_millis(140) && p50 < Duration::from_millis(160), "{p50:?}");
        assert!(p99 > Duration::from_millis(370) && p99 < Duration::from_millis(430), "{p99:?}");
        assert!(draws.iter().all(|d| *d <= Duration::from_secs(2) + sampler.transfer(Op::Put, bytes)));
    }
}
