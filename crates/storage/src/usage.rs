//! What one store has been asked for, by request kind (requests and bytes since it was opened), and what
//! that costs at a provider's list prices.
//!
//! The metrics layer ([`crate::metered`]) adds to a [`Usage`] as it records each request. The agent turns a
//! [`UsageSnapshot`] and its configured [`Prices`] into the estimated-cost metrics when it is scraped
//! (prices are fractions of a cent, which the integer counters of the metrics facade cannot hold). Requests
//! are counted as the caller made them: attempts the retry layer repeated are not counted again, so the
//! estimate is low by the retry rate. A listing counts one request per page of 1,000 keys, as S3 bills it.

use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of request a store is billed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    Put,
    Get,
    GetRange,
    List,
    Delete,
}

impl RequestKind {
    pub const ALL: [RequestKind; 5] =
        [RequestKind::Put, RequestKind::Get, RequestKind::GetRange, RequestKind::List, RequestKind::Delete];

    /// The `op` label of the object-store metrics.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Put => "put",
            RequestKind::Get => "get",
            RequestKind::GetRange => "get_range",
            RequestKind::List => "list",
            RequestKind::Delete => "delete",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Requests and bytes of one store since it was opened.
#[derive(Debug, Default)]
pub struct Usage {
    requests: [AtomicU64; 5],
    bytes: [AtomicU64; 5],
}

impl Usage {
    pub(crate) fn add(&self, kind: RequestKind, requests: u64, bytes: u64) {
        self.requests[kind.index()].fetch_add(requests, Ordering::Relaxed);
        self.bytes[kind.index()].fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> UsageSnapshot {
        let read = |a: &[AtomicU64; 5], k: RequestKind| a[k.index()].load(Ordering::Relaxed);
        UsageSnapshot {
            kinds: RequestKind::ALL.map(|k| KindUsage {
                kind: k,
                requests: read(&self.requests, k),
                bytes: read(&self.bytes, k),
            }),
        }
    }
}

/// Usage of one request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindUsage {
    pub kind: RequestKind,
    pub requests: u64,
    pub bytes: u64,
}

/// [`Usage`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSnapshot {
    pub kinds: [KindUsage; 5],
}

impl UsageSnapshot {
    pub fn of(&self, kind: RequestKind) -> KindUsage {
        self.kinds[kind.index()]
    }
}

/// List prices in US dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// Per 1,000 PUT, COPY, POST and LIST requests.
    pub put_per_1000: f64,
    /// Per 1,000 GET, HEAD and other requests.
    pub get_per_1000: f64,
    /// Per GiB stored for a month.
    pub gib_month: f64,
}

impl Prices {
    /// S3 Standard in us-east-1 (<https://aws.amazon.com/s3/pricing/>): $0.005 per 1,000 PUT, COPY, POST or
    /// LIST requests, $0.0004 per 1,000 GET, SELECT and other requests, DELETE free, $0.023 per GB-month
    /// for the first 50 TB.
    pub const S3_STANDARD_US_EAST_1: Prices = Prices { put_per_1000: 0.005, get_per_1000: 0.0004, gib_month: 0.023 };

    /// The cost of `requests` requests of `kind`.
    pub fn request_cost(&self, kind: RequestKind, requests: u64) -> f64 {
        let per_1000 = match kind {
            RequestKind::Put | RequestKind::List => self.put_per_1000,
            RequestKind::Get | RequestKind::GetRange => self.get_per_1000,
            RequestKind::Delete => 0.0,
        };
        requests as f64 * per_1000 / 1000.0
    }

    /// The cost of every request in `usage`.
    pub fn requests_cost(&self, usage: &UsageSnapshot) -> f64 {
        usage.kinds.iter().map(|k| self.request_cost(k.kind, k.requests)).sum()
    }

    /// The cost of keeping `bytes` stored for a month.
    pub fn storage_cost_per_month(&self, bytes: u64) -> f64 {
        bytes as f64 / GIB * self.gib_month
    }
}

/// Bytes in a GiB.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_priced_by_their_class_and_deletes_are_free() {
        let usage = Usage::default();
        usage.add(RequestKind::Put, 2000, 16 << 20);
        usage.add(RequestKind::Get, 1000, 4 << 20);
        usage.add(RequestKind::GetRange, 1000, 1 << 20);
        usage.add(RequestKind::List, 1000, 0);
        usage.add(RequestKind::Delete, 5000, 0);
        let snapshot = usage.snapshot();
        assert_eq!(
            snapshot.of(RequestKind::Put),
            KindUsage { kind: RequestKind::Put, requests: 2000, bytes: 16 << 20 }
        );
        let p = Prices::S3_STANDARD_US_EAST_1;
        let total = p.requests_cost(&snapshot);
        // 3,000 PUT-class requests at $0.005 per 1,000 and 2,000 GET-class ones at $0.0004 per 1,000.
        assert!((total - (0.015 + 0.0008)).abs() < 1e-12, "{total}");
        assert!((p.storage_cost_per_month(10 * GIB as u64) - 0.23).abs() < 1e-12);
    }
}
