//! Conformance of [`crate::Leases`]: one holder at a time, renewal, expiry, leases by name.

use crate::Metastore;

pub async fn leases(store: &dyn Metastore) {
    assert!(store.acquire_lease("gc", "agent-a", 1000, 500).await.expect("lease"), "free lease");
    assert!(!store.acquire_lease("gc", "agent-b", 1200, 500).await.expect("lease"), "held by a");
    assert!(store.acquire_lease("gc", "agent-a", 1400, 500).await.expect("lease"), "a renews");
    assert!(!store.acquire_lease("gc", "agent-b", 1800, 500).await.expect("lease"), "renewed until 1900");
    assert!(store.acquire_lease("gc", "agent-b", 1901, 500).await.expect("lease"), "expired: b takes it");
    assert!(store.acquire_lease("other", "agent-a", 1901, 500).await.expect("lease"), "leases are by name");
}
