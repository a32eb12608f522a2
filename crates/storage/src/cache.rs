//! A bounded in-memory cache of whole segment objects.
//!
//! Freshly flushed segments are inserted on write, so consumers tailing a topic read from memory and never
//! touch the store. Eviction is least-recently-used by a logical clock; the cache holds at most
//! `capacity_bytes` (an object larger than the capacity is never cached).

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct SegmentCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, (Bytes, u64)>,
    bytes: usize,
    clock: u64,
}

impl SegmentCache {
    pub fn new(capacity_bytes: usize) -> Self {
        SegmentCache {
            capacity_bytes,
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update of plain data; the map stays usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `key` is held now (neither a hit nor a miss: nothing is counted or refreshed).
    pub fn contains(&self, key: &str) -> bool {
        self.lock().entries.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        match inner.entries.get_mut(key) {
            Some((data, used)) => {
                *used = clock;
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(data.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub fn insert(&self, key: &str, data: Bytes) {
        if data.len() > self.capacity_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let len = data.len();
        if let Some((old, _)) = inner.entries.insert(key.to_string(), (data, clock)) {
            inner.bytes -= old.len();
        }
        inner.bytes += len;
        while inner.bytes > self.capacity_bytes {
            let Some(victim) = inner.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some((old, _)) = inner.entries.remove(&victim) {
                inner.bytes -= old.len();
            }
        }
    }

    pub fn remove(&self, key: &str) {
        let mut inner = self.lock();
        if let Some((old, _)) = inner.entries.remove(key) {
            inner.bytes -= old.len();
        }
    }

    /// Bytes currently held.
    pub fn size_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// (hits, misses) since start.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_within_capacity() {
        let c = SegmentCache::new(10);
        c.insert("a", Bytes::from_static(b"aaaa"));
        c.insert("b", Bytes::from_static(b"bbbb"));
        assert!(c.get("a").is_some());
        c.insert("c", Bytes::from_static(b"cccc"));
        assert!(c.get("b").is_none(), "b was least recently used");
        assert!(c.get("a").is_some());
        assert!(c.get("c").is_some());
        assert!(c.size_bytes() <= 10);
    }

    #[test]
    fn oversized_objects_are_not_cached() {
        let c = SegmentCache::new(3);
        c.insert("a", Bytes::from_static(b"aaaa"));
        assert!(c.get("a").is_none());
        assert_eq!(c.size_bytes(), 0);
    }
}
