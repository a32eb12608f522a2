//! Fixed-rate schedule arithmetic for the e2e producer.
//!
//! Record `i` is due at `i / rate` seconds after the start. Schedules are
//! computed from the start instant (not from the previous send), so sleep
//! overshoot never accumulates into drift: a late sender catches up by
//! sending every record already due.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pacer {
    rate: u64,
    total: u64,
}

impl Pacer {
    /// A schedule of `total` records at `rate` records per second (`rate > 0`).
    pub(crate) fn new(rate: u64, total: u64) -> Self {
        Pacer { rate: rate.max(1), total }
    }

    /// Number of records for a run of `seconds` at `rate`.
    pub(crate) fn records_for(rate: u64, seconds: u64) -> u64 {
        rate.saturating_mul(seconds)
    }

    /// Offset from the start at which record `index` is due (rounded up to
    /// whole nanoseconds, so that `due_count(due_at(i)) == i + 1`).
    pub(crate) fn due_at(&self, index: u64) -> Duration {
        let nanos = (u128::from(index) * NANOS_PER_SEC).div_ceil(u128::from(self.rate));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many records (counting from index 0) are due once `elapsed` has
    /// passed, capped at the total.
    pub(crate) fn due_count(&self, elapsed: Duration) -> u64 {
        let due = elapsed.as_nanos() * u128::from(self.rate) / NANOS_PER_SEC + 1;
        u64::try_from(due).unwrap_or(u64::MAX).min(self.total)
    }

    /// Time to wait before record `next` is due, or `None` if it is due now
    /// (or the schedule is complete).
    pub(crate) fn wait_before(&self, next: u64, elapsed: Duration) -> Option<Duration> {
        if next >= self.total {
            return None;
        }
        self.due_at(next).checked_sub(elapsed).filter(|d| !d.is_zero())
    }
}

/// Rate in events per second; 0 when no time has elapsed.
pub(crate) fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_count_for_run() {
        assert_eq!(Pacer::records_for(5000, 32), 160_000);
        assert_eq!(Pacer::records_for(u64::MAX, 2), u64::MAX);
    }

    #[test]
    fn due_times_are_evenly_spaced() {
        let p = Pacer::new(5000, 100);
        assert_eq!(p.due_at(0), Duration::ZERO);
        assert_eq!(p.due_at(1), Duration::from_micros(200));
        assert_eq!(p.due_at(5000), Duration::from_secs(1));
        let p3 = Pacer::new(3, 10);
        assert_eq!(p3.due_at(1), Duration::from_nanos(333_333_334));
        assert_eq!(p3.due_at(3), Duration::from_secs(1));
    }

    #[test]
    fn due_count_includes_record_zero_and_is_capped() {
        let p = Pacer::new(1000, 10_000);
        assert_eq!(p.due_count(Duration::ZERO), 1);
        assert_eq!(p.due_count(Duration::from_micros(999)), 1);
        assert_eq!(p.due_count(Duration::from_millis(1)), 2);
        assert_eq!(p.due_count(Duration::from_secs(1)), 1001);
        assert_eq!(p.due_count(Duration::from_secs(3600)), 10_000);
    }

    #[test]
    fn due_count_and_due_at_agree() {
        let p = Pacer::new(7, 1000);
        for i in 0..200 {
            // Record i is due exactly at due_at(i): it is counted there, and
            // record i + 1 is not yet due.
            assert_eq!(p.due_count(p.due_at(i)), i + 1);
        }
    }

    #[test]
    fn wait_before_next_record() {
        let p = Pacer::new(1000, 5);
        assert_eq!(p.wait_before(0, Duration::ZERO), None);
        assert_eq!(p.wait_before(1, Duration::from_micros(400)), Some(Duration::from_micros(600)));
        assert_eq!(p.wait_before(1, Duration::from_millis(2)), None, "late");
        assert_eq!(p.wait_before(5, Duration::ZERO), None, "complete");
    }

    #[test]
    fn zero_rate_is_treated_as_one() {
        let p = Pacer::new(0, 3);
        assert_eq!(p.due_at(2), Duration::from_secs(2));
    }

    #[test]
    fn per_second_rates() {
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(10, Duration::ZERO), 0.0);
    }
}
