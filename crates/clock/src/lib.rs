//! Injected sources of time and randomness, so tests can be deterministic.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Wall-clock milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// Unique identifiers (object key nonces, topic ids).
pub trait IdSource: Send + Sync + 'static {
    fn nonce(&self) -> u64;
    fn uuid(&self) -> uuid::Uuid;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn nonce(&self) -> u64 {
        rand::random()
    }
    fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::new_v4()
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug, Default)]
pub struct ManualClock(pub AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Sequential ids (for tests).
#[derive(Debug, Default)]
pub struct SequentialIds(pub AtomicU64);

impl IdSource for SequentialIds {
    fn nonce(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
    fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(u128::from(self.nonce()) + 1)
    }
}
