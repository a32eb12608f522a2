//! Latency bookkeeping: a process-local monotonic clock and an HdrHistogram
//! with microsecond resolution, summarised as millisecond percentiles.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest trackable latency: one hour, in microseconds. Larger values are
/// clamped (saturating record).
const MAX_TRACKABLE_MICROS: u64 = 3_600_000_000;
/// Significant decimal digits kept by the histogram.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Monotonic clock measuring nanoseconds since a process-local base instant.
/// Copies share the same base, so timestamps taken on different threads are
/// comparable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock { base: Instant::now() }
    }

    /// Nanoseconds elapsed since the base instant.
    pub(crate) fn now_ns(&self) -> u64 {
        duration_ns(self.base.elapsed())
    }
}

/// A `Duration` in whole nanoseconds, saturating at `u64::MAX` (~584 years).
pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Histogram of latencies in microseconds.
#[derive(Debug, Clone)]
pub(crate) struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl LatencyHistogram {
    pub(crate) fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_TRACKABLE_MICROS, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        LatencyHistogram { hist }
    }

    /// Records the interval `start_ns..end_ns` (clock nanoseconds). An end
    /// before the start (impossible with one monotonic clock) counts as 0.
    pub(crate) fn record_interval_ns(&mut self, start_ns: u64, end_ns: u64) {
        self.record_micros(end_ns.saturating_sub(start_ns) / 1_000);
    }

    /// Records one latency in microseconds, clamped to the trackable range.
    pub(crate) fn record_micros(&mut self, micros: u64) {
        self.hist.saturating_record(micros.max(1));
    }

    /// Records `count` latencies of `micros` each.
    pub(crate) fn record_micros_n(&mut self, micros: u64, count: u64) {
        self.hist.saturating_record_n(micros.max(1), count);
    }

    pub(crate) fn summary(&self) -> Option<LatencySummary> {
        LatencySummary::from_histogram(&self.hist)
    }

    /// The latency at `percentile` (0-100) in milliseconds, `None` without samples.
    pub(crate) fn percentile_ms(&self, percentile: f64) -> Option<f64> {
        let quantile = (percentile / 100.0).clamp(0.0, 1.0);
        (!self.hist.is_empty()).then(|| self.hist.value_at_quantile(quantile) as f64 / 1_000.0)
    }

    /// The distribution as report buckets: logarithmic bounds growing by a quarter from 0.1 ms, empty
    /// buckets left out (each count covers the values above the previous listed bound).
    pub(crate) fn buckets(&self) -> Vec<weft_report::HistogramBucket> {
        if self.hist.is_empty() {
            return Vec::new();
        }
        self.hist
            .iter_log(100, 1.25)
            .filter(|v| v.count_since_last_iteration() > 0)
            .map(|v| weft_report::HistogramBucket {
                le_ms: v.value_iterated_to() as f64 / 1_000.0,
                count: v.count_since_last_iteration(),
            })
            .collect()
    }

    /// Adds every sample of `other` (same bounds, so nothing is lost).
    pub(crate) fn add(&mut self, other: &LatencyHistogram) {
        let _ = self.hist.add(&other.hist);
    }
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microsecond values; `None` when it is empty.
    pub(crate) fn from_histogram(hist: &Histogram<u64>) -> Option<Self> {
        if hist.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1_000.0;
        Some(LatencySummary {
            samples: hist.len(),
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            p999_ms: ms(hist.value_at_quantile(0.999)),
            max_ms: ms(hist.max()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        // 3 significant digits => relative error below 0.1%.
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn empty_histogram_has_no_summary() {
        assert!(LatencyHistogram::new().summary().is_none());
    }

    #[test]
    fn percentiles_of_uniform_distribution() {
        let mut h = LatencyHistogram::new();
        // 1..=10_000 microseconds, i.e. 0.001 ms .. 10 ms.
        for micros in 1..=10_000 {
            h.record_micros(micros);
        }
        let s = h.summary().unwrap();
        assert_eq!(s.samples, 10_000);
        assert!(close(s.p50_ms, 5.0), "p50 {}", s.p50_ms);
        assert!(close(s.p99_ms, 9.9), "p99 {}", s.p99_ms);
        assert!(close(s.p999_ms, 9.99), "p999 {}", s.p999_ms);
        assert!(close(s.max_ms, 10.0), "max {}", s.max_ms);
    }

    #[test]
    fn outlier_only_moves_the_tail() {
        let mut h = LatencyHistogram::new();
        for _ in 0..999 {
            h.record_micros(2_000);
        }
        h.record_micros(500_000);
        let s = h.summary().unwrap();
        assert!(close(s.p50_ms, 2.0));
        assert!(close(s.p99_ms, 2.0));
        assert!(close(s.max_ms, 500.0));
    }

    #[test]
    fn intervals_and_clamping() {
        let mut h = LatencyHistogram::new();
        h.record_interval_ns(1_000_000, 4_000_000); // 3 ms
        h.record_interval_ns(5_000, 1_000); // negative -> clamped to the minimum
        h.record_micros(u64::MAX); // saturates at the trackable maximum
        let s = h.summary().unwrap();
        assert_eq!(s.samples, 3);
        assert!(s.max_ms >= 3_600_000.0 * 0.999);
        assert!(close(s.p50_ms, 3.0));
    }

    #[test]
    fn any_percentile_and_buckets() {
        let mut h = LatencyHistogram::new();
        assert_eq!((h.percentile_ms(99.0), h.buckets().len()), (None, 0));
        for micros in 1..=1_000 {
            h.record_micros(micros * 10);
        }
        assert!(close(h.percentile_ms(90.0).unwrap(), 9.0), "{:?}", h.percentile_ms(90.0));
        let buckets = h.buckets();
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 1_000);
        assert!(buckets.windows(2).all(|w| w[0].le_ms < w[1].le_ms));
        assert!(buckets.last().unwrap().le_ms >= 10.0);
    }

    #[test]
    fn histograms_add_up() {
        let (mut a, mut b) = (LatencyHistogram::new(), LatencyHistogram::new());
        a.record_micros(1_000);
        b.record_micros(3_000);
        b.record_micros(3_000);
        a.add(&b);
        let s = a.summary().unwrap();
        assert_eq!(s.samples, 3);
        assert!(close(s.p50_ms, 3.0));
    }

    #[test]
    fn clock_is_monotonic_and_shared_by_copies() {
        let clock = Clock::new();
        let copy = clock;
        let a = clock.now_ns();
        let b = copy.now_ns();
        assert!(b >= a);
        assert_eq!(duration_ns(Duration::from_millis(2)), 2_000_000);
    }
}
