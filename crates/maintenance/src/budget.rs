//! The I/O budget of background jobs, so they never compete with clients for the disk, the object store or
//! the metastore: a byte rate (a token bucket over the bytes object compaction and log compaction read and
//! write), a byte allowance per pass (a pass stops starting new work once it is spent; the rest waits for
//! the next), and a share of the metastore's time (after each index rewrite a job rests in proportion to
//! the time the rewrite took, so produce commits find the metastore free most of the time).
//!
//! The bucket runs on tokio's clock (`tokio::time::Instant`), so tests drive it with paused time. A request
//! larger than the bucket is let through at once and then paid for by waiting (the bucket goes into debt),
//! so one batch bigger than the bucket never blocks forever. Time spent waiting is counted in
//! [`THROTTLED`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Each wait of a background job for its byte budget, in seconds (a histogram: its `_sum` is the total time
/// throttled, its `_count` the number of waits; the exporter's counters take only integers).
pub const THROTTLED: &str = "weft_maintenance_throttle_wait_seconds";

/// How much background work may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    /// Bytes read plus written per second; 0 is unlimited.
    pub bytes_per_sec: u64,
    /// Bytes read plus written per pass at most (work already started finishes); 0 is unlimited.
    pub bytes_per_pass: u64,
    /// Percent of wall time the jobs' index rewrites may take in the metastore (1-100; 100 is unlimited).
    pub metastore_percent: u64,
}

impl BudgetLimits {
    /// No limit of any kind.
    pub const UNLIMITED: BudgetLimits = BudgetLimits { bytes_per_sec: 0, bytes_per_pass: 0, metastore_percent: 100 };
}

/// The longest rest after one metastore write, so a write slowed by something else (a stalled disk) does not
/// hold maintenance back for long once the stall is over.
const MAX_REST: Duration = Duration::from_secs(1);

/// The shared budget of one maintenance service.
#[derive(Debug)]
pub struct Budget {
    limits: BudgetLimits,
    bucket: Mutex<Bucket>,
    spent_in_pass: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    /// Bytes that may pass now; negative while paying off a large request.
    tokens: f64,
    refilled: Instant,
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Self {
        let bucket = Bucket { tokens: burst(limits.bytes_per_sec), refilled: Instant::now() };
        Budget { limits, bucket: Mutex::new(bucket), spent_in_pass: AtomicU64::new(0) }
    }

    /// Starts a pass: its allowance is full again.
    pub fn start_pass(&self) {
        self.spent_in_pass.store(0, Ordering::Relaxed);
    }

    /// Whether this pass has used its allowance (new work should wait for the next pass).
    pub fn pass_spent(&self) -> bool {
        self.limits.bytes_per_pass > 0 && self.spent_in_pass.load(Ordering::Relaxed) >= self.limits.bytes_per_pass
    }

    /// Takes `bytes` of I/O from the budget, waiting as long as the rate requires; returns the time waited.
    pub async fn take(&self, bytes: u64) -> Duration {
        self.spent_in_pass.fetch_add(bytes, Ordering::Relaxed);
        let wait = self.debit(bytes);
        if wait.is_zero() {
            // Between batches the job still lets the runtime serve others first.
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(wait).await;
            metrics::histogram!(THROTTLED).record(wait.as_secs_f64());
        }
        wait
    }

    /// Rests after a background metastore write that took `took`, long enough that such writes take at most
    /// the budget's share of wall time (a write of 5 ms at 25% rests 15 ms); returns the rest.
    ///
    /// On SQLite a write holds the metastore's single writer, and every produce commit that arrives meanwhile
    /// waits for it: writes back to back (an object merge switches its index rows in several) queue commit
    /// after commit behind them, while with a rest between them a commit waits for one write at most, and
    /// most find the writer free.
    pub async fn rest_after_write(&self, took: Duration) -> Duration {
        let rest = rest_for(took, self.limits.metastore_percent);
        if !rest.is_zero() {
            tokio::time::sleep(rest).await;
            metrics::histogram!(THROTTLED).record(rest.as_secs_f64());
        }
        rest
    }

    /// Refills the bucket for the time passed, takes `bytes`, and says how long the caller must wait.
    fn debit(&self, bytes: u64) -> Duration {
        let rate = self.limits.bytes_per_sec;
        if rate == 0 {
            return Duration::ZERO;
        }
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(b.refilled).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate as f64).min(burst(rate));
        b.refilled = now;
        b.tokens -= bytes as f64;
        if b.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-b.tokens / rate as f64) }
    }
}

/// The rest that keeps a write of `took` within `percent` of wall time.
fn rest_for(took: Duration, percent: u64) -> Duration {
    if percent == 0 || percent >= 100 {
        return Duration::ZERO;
    }
    took.mul_f64((100 - percent) as f64 / percent as f64).min(MAX_REST)
}

/// The bucket holds a tenth of a second's bytes, so a quiet moment never turns into a long full-speed burst.
fn burst(rate: u64) -> f64 {
    rate as f64 / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(bytes_per_sec: u64, bytes_per_pass: u64) -> Budget {
        Budget::new(BudgetLimits { bytes_per_sec, bytes_per_pass, metastore_percent: 100 })
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_holds_over_time() {
        let b = budget(1_000_000, 0);
        let start = Instant::now();
        // 10 MB at 1 MB/s: the burst (0.1 MB) passes at once, the rest takes ~9.9 s.
        for _ in 0..100 {
            b.take(100_000).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(9_899) && took <= Duration::from_millis(10_000), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_larger_than_the_bucket_passes_and_is_paid_for_by_waiting() {
        let b = budget(1_000_000, 0);
        // 4 MB: 0.1 MB in the bucket, 3.9 MB of debt = 3.9 s.
        let waited = b.take(4_000_000).await;
        assert_eq!(waited, Duration::from_millis(3_900));
        // The debt is paid: after a quiet second, a small request passes at once.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(b.take(50_000).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_period_refills_no_more_than_the_burst() {
        let b = budget(1_000_000, 0);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(b.take(100_000).await, Duration::ZERO);
        assert_eq!(b.take(100_000).await, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_is_unlimited() {
        let b = budget(0, 0);
        let start = Instant::now();
        b.take(u64::MAX / 2).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(!b.pass_spent());
    }

    #[tokio::test(start_paused = true)]
    async fn the_pass_allowance_is_spent_and_renewed() {
        let b = budget(0, 1000);
        b.take(600).await;
        assert!(!b.pass_spent());
        b.take(600).await;
        assert!(b.pass_spent());
        b.start_pass();
        assert!(!b.pass_spent());
    }

    #[tokio::test(start_paused = true)]
    async fn writes_rest_for_their_share_of_the_metastore() {
        let b = Budget::new(BudgetLimits { metastore_percent: 25, ..BudgetLimits::UNLIMITED });
        let start = Instant::now();
        assert_eq!(b.rest_after_write(Duration::from_millis(5)).await, Duration::from_millis(15));
        assert_eq!(start.elapsed(), Duration::from_millis(15));
        // A stalled write rests at most MAX_REST.
        assert_eq!(b.rest_after_write(Duration::from_secs(10)).await, MAX_REST);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_share_never_rests() {
        for metastore_percent in [0, 100, 1000] {
            let b = Budget::new(BudgetLimits { metastore_percent, ..BudgetLimits::UNLIMITED });
            assert_eq!(b.rest_after_write(Duration::from_millis(5)).await, Duration::ZERO);
        }
        assert_eq!(rest_for(Duration::from_millis(1), 1), Duration::from_millis(99));
        assert_eq!(rest_for(Duration::from_millis(1), 50), Duration::from_millis(1));
    }
}
