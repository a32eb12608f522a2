//! Write-path health: the latest write outcome of each store. Every flush (segment upload, then commit) and
//! the agent's periodic write probe report here; readiness (`/readyz`) reads it. It lives with the log
//! because the log's writes are what readiness is about.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The stores whose writes readiness depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    ObjectStore,
    Metastore,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::ObjectStore => "object_store",
            Store::Metastore => "metastore",
        }
    }
}

/// The latest write outcome of each store, and when a write last succeeded.
pub struct Health {
    object_store: Mutex<Option<String>>,
    metastore: Mutex<Option<String>>,
    object_store_ok: Mutex<Option<Instant>>,
    metastore_ok: Mutex<Option<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        let unchecked = || Mutex::new(Some("not checked yet".to_string()));
        Health {
            object_store: unchecked(),
            metastore: unchecked(),
            object_store_ok: Mutex::new(None),
            metastore_ok: Mutex::new(None),
        }
    }
}

impl Health {
    fn slot(&self, store: Store) -> &Mutex<Option<String>> {
        match store {
            Store::ObjectStore => &self.object_store,
            Store::Metastore => &self.metastore,
        }
    }

    fn ok_slot(&self, store: Store) -> &Mutex<Option<Instant>> {
        match store {
            Store::ObjectStore => &self.object_store_ok,
            Store::Metastore => &self.metastore_ok,
        }
    }

    /// Whether the latest write to `store` succeeded less than `age` ago (then a probe would tell nothing
    /// new: produce traffic keeps readiness current without probe requests, which S3 bills).
    pub fn fresh(&self, store: Store, age: Duration) -> bool {
        let failing = self.slot(store).lock().unwrap_or_else(|p| p.into_inner()).is_some();
        let ok_at = *self.ok_slot(store).lock().unwrap_or_else(|p| p.into_inner());
        !failing && ok_at.is_some_and(|at| at.elapsed() < age)
    }

    /// Records the outcome of a write; logs when a store starts failing and when it recovers.
    pub fn record(&self, store: Store, outcome: Result<(), String>) {
        let mut slot = self.slot(store).lock().unwrap_or_else(|p| p.into_inner());
        let failing_before = slot.is_some();
        match outcome {
            Ok(()) => {
                if failing_before {
                    tracing::info!(store = store.name(), "writes succeed; ready");
                }
                *slot = None;
                *self.ok_slot(store).lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            }
            Err(reason) => {
                if !failing_before || slot.as_deref() == Some("not checked yet") {
                    tracing::error!(store = store.name(), %reason, "writes fail; not ready");
                }
                *slot = Some(reason);
            }
        }
        metrics::gauge!("weft_store_writable", "store" => store.name()).set(if slot.is_none() { 1.0 } else { 0.0 });
    }

    /// `Err` with the reason while the latest write to either store failed.
    pub fn status(&self) -> Result<(), String> {
        for store in [Store::Metastore, Store::ObjectStore] {
            if let Some(reason) = self.slot(store).lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return Err(format!("{} writes fail: {reason}", store.name().replace('_', " ")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_latest_write_of_each_store() {
        let h = Health::default();
        assert!(h.status().unwrap_err().contains("not checked yet"));
        h.record(Store::Metastore, Ok(()));
        h.record(Store::ObjectStore, Ok(()));
        assert_eq!(h.status(), Ok(()));
        h.record(Store::ObjectStore, Err("disk full".into()));
        assert_eq!(h.status(), Err("object store writes fail: disk full".into()));
        h.record(Store::Metastore, Err("readonly database".into()));
        assert_eq!(h.status(), Err("metastore writes fail: readonly database".into()));
        h.record(Store::Metastore, Ok(()));
        h.record(Store::ObjectStore, Ok(()));
        assert_eq!(h.status(), Ok(()), "a later successful write restores readiness");
    }

    #[test]
    fn a_store_is_fresh_only_after_a_recent_successful_write() {
        let h = Health::default();
        let hour = Duration::from_secs(3600);
        assert!(!h.fresh(Store::ObjectStore, hour), "never written");
        h.record(Store::ObjectStore, Ok(()));
        assert!(h.fresh(Store::ObjectStore, hour));
        assert!(!h.fresh(Store::ObjectStore, Duration::ZERO), "older than no time at all");
        assert!(!h.fresh(Store::Metastore, hour), "stores are tracked apart");
        h.record(Store::ObjectStore, Err("slow down".into()));
        assert!(!h.fresh(Store::ObjectStore, hour), "a failing store is probed until it recovers");
    }
}
