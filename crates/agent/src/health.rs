//! Readiness: can this agent accept writes right now?
//!
//! Each store (object store, metastore) is as healthy as its most recent write: the periodic write probe
//! (a small durable object put and delete; a small metastore write transaction) and every flush (segment
//! upload, then commit) report their outcome here. `/readyz` answers 503 with the reason while the latest
//! write to either store failed, and 200 again once one succeeds. A store written successfully within the
//! last probe interval (by flushes) is not probed: its latest outcome is already current.

use crate::Agent;
use std::time::Duration;
use weft_log::health::Store;

/// A probe that has not finished after this long counts as failed: a store whose writes hang cannot accept
/// writes either, and the probe loop must not hang with it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes a small probe to each store and records the outcomes.
pub async fn probe(agent: &Agent, probe_name: &str) {
    probe_unless_fresh(agent, probe_name, Duration::ZERO).await;
}

/// Probes each store whose latest write did not succeed within `fresh`: a store that flushes keep
/// writing to is known to be writable, and on S3 each probe is two billed requests.
async fn probe_unless_fresh(agent: &Agent, probe_name: &str, fresh: Duration) {
    if !agent.health.fresh(Store::Metastore, fresh) {
        let meta = bounded(agent.meta.write_probe(agent.clock.now_ms())).await;
        agent.health.record(Store::Metastore, meta);
    }
    if !agent.health.fresh(Store::ObjectStore, fresh) {
        let objects = bounded(agent.storage.write_probe(probe_name)).await;
        agent.health.record(Store::ObjectStore, objects);
    }
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
        probe_unless_fresh(&agent, &probe_name, interval).await;
    }
}
