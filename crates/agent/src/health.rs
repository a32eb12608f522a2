//! Readiness: can this agent accept writes right now?
//!
//! Each store (object store, metastore) is as healthy as its most recent write: the periodic write probe
//! (a small durable object put and delete; a small metastore write transaction) and every flush (segment
//! upload, then commit) report their outcome here. `/readyz` answers 503 with the reason while the latest
//! write to either store failed, and 200 again once one succeeds.

use crate::Agent;
use std::sync::Mutex;
use std::time::Duration;

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

/// The latest write outcome of each store.
pub struct Health {
    object_store: Mutex<Option<String>>,
    metastore: Mutex<Option<String>>,
}

impl Default for Health {
    fn default() -> Self {
        let unchecked = || Mutex::new(Some("not checked yet".to_string()));
        Health { object_store: unchecked(), metastore: unchecked() }
    }
}

impl Health {
    fn slot(&self, store: Store) -> &Mutex<Option<String>> {
        match store {
            Store::ObjectStore => &self.object_store,
            Store::Metastore => &self.metastore,
        }
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

/// A probe that has not finished after this long counts as failed: a store whose writes hang cannot accept
/// writes either, and the probe loop must not hang with it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes a small probe to each store and records the outcomes.
pub async fn probe(agent: &Agent, probe_name: &str) {
    let meta = bounded(agent.meta.write_probe(agent.clock.now_ms())).await;
    agent.health.record(Store::Metastore, meta);
    let objects = bounded(agent.storage.write_probe(probe_name)).await;
    agent.health.record(Store::ObjectStore, objects);
}

async fn bounded<E: std::fmt::Display>(write: impl Future<Output = Result<(), E>>) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, write).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(_) => Err(format!("a probe write did not finish within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// Probes every `interval`.
pub async fn run(agent: std::sync::Arc<Agent>, probe_name: String, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        probe(&agent, &probe_name).await;
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
}
