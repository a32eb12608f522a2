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

/// Many leases taken, renewed and released in one call, each by the same rules as one.
pub async fn leases_in_bulk(store: &dyn Metastore) {
    let names: Vec<String> = (0..5).map(|i| format!("bulk-{i}")).collect();
    assert!(store.acquire_lease("bulk-2", "agent-b", 1000, 500).await.expect("lease"), "b holds one");
    let mut got = store.acquire_leases(&names, "agent-a", 1000, 500).await.expect("bulk");
    got.sort();
    assert_eq!(got, ["bulk-0", "bulk-1", "bulk-3", "bulk-4"], "all but the one b holds");
    let renewed = store.acquire_leases(&names[..2], "agent-a", 1200, 500).await.expect("renew");
    assert_eq!(renewed.len(), 2, "a renews its own");
    assert!(!store.acquire_lease("bulk-0", "agent-b", 1600, 500).await.expect("lease"), "renewed until 1700");
    assert!(store.acquire_lease("bulk-3", "agent-b", 1600, 500).await.expect("lease"), "not renewed: expired");
    let released = store.acquire_leases(&names[..2], "agent-a", 1650, 0).await.expect("release");
    assert_eq!(released.len(), 2, "ended now");
    assert!(store.acquire_lease("bulk-1", "agent-b", 1651, 500).await.expect("lease"), "free after release");
    assert!(store.acquire_leases(&[], "agent-a", 1700, 500).await.expect("none").is_empty());
}
