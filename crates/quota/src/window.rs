//! A rate measured over a sliding window of samples, as Kafka's `Rate` over `SampledStat` measures quotas:
//! 11 samples of 1 s, the oldest dropped as time moves on, and the rate over at least 10 full samples' time,
//! so a client's first second does not look like a burst of 10 times its rate.

/// Samples kept (Kafka's `quota.window.num`, 11).
pub const SAMPLES: usize = 11;
/// Length of one sample (Kafka's `quota.window.size.seconds`, 1 s).
pub const SAMPLE_MS: i64 = 1000;

#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: i64,
    value: f64,
}

/// The rate of one measured quantity (bytes, request time) of one quota entity.
#[derive(Debug, Clone)]
pub struct RateWindow {
    samples: [Sample; SAMPLES],
    /// The sample being filled.
    current: usize,
}

impl RateWindow {
    /// An empty window whose first sample starts at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        RateWindow { samples: [Sample { start_ms: now_ms, value: 0.0 }; SAMPLES], current: 0 }
    }

    /// Adds `value` at `now_ms` (a negative value takes back what was recorded, as Kafka's fetch does for a
    /// throttled response it does not send).
    pub fn record(&mut self, value: f64, now_ms: i64) {
        let cur = self.samples[self.current];
        if now_ms >= cur.start_ms + SAMPLE_MS {
            self.current = (self.current + 1) % SAMPLES;
            self.samples[self.current] = Sample { start_ms: now_ms, value: 0.0 };
        }
        self.samples[self.current].value += value;
    }

    /// Forgets samples that started before the window (`now - SAMPLES * SAMPLE_MS`): they count as empty and
    /// as starting now, as Kafka's `purgeObsoleteSamples` does.
    fn purge(&mut self, now_ms: i64) {
        for s in self.samples.iter_mut() {
            if now_ms - s.start_ms >= SAMPLES as i64 * SAMPLE_MS {
                *s = Sample { start_ms: now_ms, value: 0.0 };
            }
        }
    }

    /// The time the rate is measured over at `now_ms`: since the oldest sample, but at least the length of
    /// `SAMPLES - 1` whole samples (Kafka's `Rate.windowSize`).
    pub fn window_ms(&mut self, now_ms: i64) -> i64 {
        self.purge(now_ms);
        let oldest = self.samples.iter().map(|s| s.start_ms).min().unwrap_or(now_ms);
        let elapsed = (now_ms - oldest).max(0);
        let full = elapsed / SAMPLE_MS;
        let min_full = SAMPLES as i64 - 1;
        if full < min_full { elapsed + (min_full - full) * SAMPLE_MS } else { elapsed }
    }

    /// The rate per second at `now_ms`.
    pub fn rate(&mut self, now_ms: i64) -> f64 {
        let window = self.window_ms(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (window as f64 / 1000.0)
    }

    /// How long a client measured at this rate must wait to be back at `bound` per second (Kafka's
    /// `QuotaUtils.throttleTime`: the excess over the bound, as a share of the bound, times the window),
    /// at most the whole window; 0 when within the bound.
    pub fn throttle_ms(&mut self, bound: f64, now_ms: i64) -> i64 {
        let rate = self.rate(now_ms);
        if rate <= bound {
            return 0;
        }
        let window = self.window_ms(now_ms);
        let max = SAMPLES as i64 * SAMPLE_MS;
        if bound <= 0.0 {
            return max;
        }
        (((rate - bound) / bound) * window as f64).round().clamp(0.0, max as f64) as i64
    }

    /// The time of the latest sample's start (for evicting idle windows).
    pub fn last_ms(&self) -> i64 {
        self.samples[self.current].start_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_window_measures_over_ten_seconds_at_least() {
        let mut w = RateWindow::new(0);
        w.record(10_000.0, 0);
        assert_eq!(w.window_ms(0), 10_000);
        assert_eq!(w.rate(0), 1000.0, "10 kB in the first instant is 1 kB/s over the minimum window");
        assert_eq!(w.window_ms(500), 10_500, "the partial sample counts");
    }

    #[test]
    fn a_steady_rate_is_measured_as_it_is() {
        let mut w = RateWindow::new(0);
        for s in 0..30 {
            w.record(500.0, s * 1000);
        }
        // The 11 samples kept (started 19 s .. 29 s) over the 11 s since the oldest started.
        let r = w.rate(29_999);
        assert!((r - 500.0).abs() < 1.0, "{r}");
        assert_eq!(w.throttle_ms(1000.0, 29_999), 0, "under the bound: no throttle");
    }

    #[test]
    fn throttle_is_the_excess_as_a_share_of_the_bound_times_the_window() {
        let mut w = RateWindow::new(0);
        w.record(20_000.0, 0);
        // 2000/s against 1000/s: 100 % over, for a 10 s window: 10 s.
        assert_eq!(w.throttle_ms(1000.0, 0), 10_000);
        let mut w = RateWindow::new(0);
        w.record(15_000.0, 0);
        assert_eq!(w.throttle_ms(1000.0, 0), 5_000);
        let mut w = RateWindow::new(0);
        w.record(1e12, 0);
        assert_eq!(w.throttle_ms(1.0, 0), SAMPLES as i64 * SAMPLE_MS, "bounded by the whole window");
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut w = RateWindow::new(0);
        w.record(100_000.0, 0);
        assert!(w.throttle_ms(1000.0, 1000) > 0);
        w.record(0.0, 12_000);
        assert_eq!(w.rate(12_000), 0.0, "the burst is older than 11 samples");
        assert_eq!(w.throttle_ms(1000.0, 12_000), 0);
    }

    #[test]
    fn a_record_can_be_taken_back() {
        let mut w = RateWindow::new(0);
        w.record(20_000.0, 0);
        w.record(-20_000.0, 0);
        assert_eq!(w.rate(0), 0.0);
    }
}
