//! Kafka's `queued.max.request.bytes`: one budget, shared by every connection, for the bytes of requests
//! that are being read.
//!
//! A connection reserves the size a frame header announces before it allocates a buffer for the body, and
//! gives the reservation back once the request has been decoded and handed on. While the budget is
//! exhausted, connections that need more wait and do not read their sockets. A connection holds at most one
//! reservation and takes it in one step (never a part of it), so waiting connections hold nothing and the
//! holders only need their own clients to finish sending: one of them can always proceed, and a holder
//! whose client stops sending is closed by the frame read timeout.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared budget.
#[derive(Clone)]
pub struct RequestBudget {
    permits: Arc<Semaphore>,
    total: usize,
}

/// Bytes reserved for one frame; given back when dropped.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    bytes: usize,
}

impl RequestBudget {
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS).min(u32::MAX as usize);
        metrics::gauge!("weft_request_bytes_limit").set(total as f64);
        RequestBudget { permits: Arc::new(Semaphore::new(total)), total }
    }

    /// The whole budget; a frame larger than this can never be read.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes not reserved right now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits until `bytes` (at most [`RequestBudget::total`]) can be reserved, then reserves them. Waiters are
    /// served in arrival order. `None` only if the budget was closed (it never is).
    pub async fn reserve(&self, bytes: usize) -> Option<Reservation> {
        let bytes = bytes.min(self.total);
        // `bytes` <= total <= u32::MAX.
        let permit = self.permits.clone().acquire_many_owned(bytes as u32).await.ok()?;
        metrics::gauge!("weft_request_bytes_reserved").increment(bytes as f64);
        Some(Reservation { _permit: permit, bytes })
    }
}

impl Reservation {
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        metrics::gauge!("weft_request_bytes_reserved").decrement(self.bytes as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn reservations_wait_while_the_budget_is_exhausted_and_resume_when_released() {
        let budget = RequestBudget::new(100);
        let a = budget.reserve(60).await.unwrap();
        assert_eq!(budget.available(), 40);
        let b = tokio::time::timeout(Duration::from_millis(50), budget.reserve(60)).await;
        assert!(b.is_err(), "60 more bytes do not fit while 60 of 100 are held");
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(60).await.unwrap().bytes() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(a);
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap(), 60);
        assert_eq!(budget.available(), 100, "the waiter's reservation was dropped with its task");
    }

    #[tokio::test]
    async fn a_frame_as_large_as_the_whole_budget_still_proceeds_alone() {
        let budget = RequestBudget::new(100);
        let all = budget.reserve(100).await.unwrap();
        assert_eq!((all.bytes(), budget.available()), (100, 0));
        drop(all);
        assert_eq!(budget.reserve(1000).await.unwrap().bytes(), 100, "requests are clamped to the budget");
    }

    #[tokio::test]
    async fn no_deadlock_when_many_connections_wait_for_large_frames() {
        // Every waiter holds nothing while it waits, so each one gets its turn as holders finish.
        let budget = RequestBudget::new(100);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let budget = budget.clone();
                tokio::spawn(async move {
                    let r = budget.reserve(40 + i).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    r.bytes()
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            let got = tokio::time::timeout(Duration::from_secs(5), t).await.unwrap().unwrap();
            assert_eq!(got, 40 + i);
        }
        assert_eq!(budget.available(), 100);
    }
}
