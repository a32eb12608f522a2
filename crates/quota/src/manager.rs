//! The quota manager (Kafka's `ClientQuotaManager` and `ClientRequestQuotaManager` in one): the configured
//! quotas as last read from the metastore, and one rate window per quota kind and sharing entity, which
//! requests are recorded into and which answer how long a client must be throttled.
//!
//! Bounded: at most `max_entities` windows are kept; windows idle for a whole window measure nothing and are
//! dropped first, then the longest idle. With no quota configured nothing is recorded or kept.

use crate::keys::QuotaKind;
use crate::precedence::QuotaTable;
use crate::window::{RateWindow, SAMPLE_MS, SAMPLES};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use weft_meta::Quotas;

/// The throttle decided for one request: how long, and which quota caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub ms: i64,
    pub kind: QuotaKind,
}

type WindowKey = (QuotaKind, String, String);

/// Configured quotas and the measurements of the clients they apply to.
pub struct QuotaManager {
    table: RwLock<Arc<QuotaTable>>,
    /// Whether any quota is configured: the one check a request pays when none is.
    active: AtomicBool,
    windows: Mutex<HashMap<WindowKey, RateWindow>>,
    max_entities: usize,
}

impl QuotaManager {
    /// A manager with no quotas, keeping at most `max_entities` windows.
    pub fn new(max_entities: usize) -> Self {
        QuotaManager {
            table: RwLock::new(Arc::new(QuotaTable::default())),
            active: AtomicBool::new(false),
            windows: Mutex::new(HashMap::new()),
            max_entities: max_entities.max(1),
        }
    }

    /// Whether any quota is configured.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// The quotas in force.
    pub fn table(&self) -> Arc<QuotaTable> {
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// Puts `table` in force. Measurements are kept: a changed bound applies to the rate already measured,
    /// as in Kafka.
    pub fn set_table(&self, table: QuotaTable) {
        let empty = table.is_empty();
        if let Ok(mut t) = self.table.write() {
            *t = Arc::new(table);
        }
        self.active.store(!empty, Ordering::Relaxed);
        if empty && let Ok(mut w) = self.windows.lock() {
            w.clear();
        }
    }

    /// Reads every quota from the store and puts them in force.
    pub async fn refresh(&self, store: &dyn Quotas) -> weft_meta::Result<()> {
        let records = store.client_quotas().await?;
        self.set_table(QuotaTable::new(records));
        Ok(())
    }

    /// Records `value` (bytes, or request time as a percentage of one thread-second) for the client
    /// `client_id` of `user` at `now_ms`, and answers how long it must be throttled for `kind` (0 when no
    /// quota of that kind applies or it is within its quota).
    pub fn record(&self, kind: QuotaKind, user: &str, client_id: &str, value: f64, now_ms: i64) -> i64 {
        if !self.active() {
            return 0;
        }
        let table = self.table();
        let Some(quota) = table.resolve(kind.key(), user, client_id) else { return 0 };
        let Ok(mut windows) = self.windows.lock() else { return 0 };
        let key = (kind, quota.shared_by.0, quota.shared_by.1);
        if !windows.contains_key(&key) && windows.len() >= self.max_entities {
            evict(&mut windows, now_ms);
        }
        let window = windows.entry(key).or_insert_with(|| RateWindow::new(now_ms));
        window.record(value, now_ms);
        let ms = window.throttle_ms(quota.bound, now_ms);
        if ms > 0 {
            metrics::counter!("weft_quota_throttled_requests_total", "quota" => kind.label()).increment(1);
            metrics::histogram!("weft_quota_throttle_time_seconds", "quota" => kind.label()).record(ms as f64 / 1000.0);
        }
        ms
    }

    /// Takes back a recorded `value` (a throttled fetch answered without its data, as Kafka does).
    pub fn unrecord(&self, kind: QuotaKind, user: &str, client_id: &str, value: f64, now_ms: i64) {
        let Some(quota) = self.table().resolve(kind.key(), user, client_id) else { return };
        let Ok(mut windows) = self.windows.lock() else { return };
        if let Some(w) = windows.get_mut(&(kind, quota.shared_by.0, quota.shared_by.1)) {
            w.record(-value, now_ms);
        }
    }

    /// Windows kept now.
    pub fn entities(&self) -> usize {
        self.windows.lock().map(|w| w.len()).unwrap_or(0)
    }

    /// Drops windows idle for a whole window (they measure nothing any more).
    pub fn evict_idle(&self, now_ms: i64) {
        if let Ok(mut w) = self.windows.lock() {
            w.retain(|_, window| !idle(window, now_ms));
        }
    }
}

fn idle(window: &RateWindow, now_ms: i64) -> bool {
    now_ms - window.last_ms() >= SAMPLES as i64 * SAMPLE_MS
}

/// Makes room for one window: the idle ones go, else the longest idle.
fn evict(windows: &mut HashMap<WindowKey, RateWindow>, now_ms: i64) {
    windows.retain(|_, w| !idle(w, now_ms));
    if windows.is_empty() {
        return;
    }
    let oldest = windows.iter().min_by_key(|(_, w)| w.last_ms()).map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        windows.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_meta::{QuotaEntity, QuotaRecord};

    fn manager(records: Vec<QuotaRecord>, max: usize) -> QuotaManager {
        let m = QuotaManager::new(max);
        m.set_table(QuotaTable::new(records));
        m
    }

    fn client_quota(client: &str, key: &str, value: f64) -> QuotaRecord {
        QuotaRecord { entity: QuotaEntity::client(client), key: key.into(), value }
    }

    #[test]
    fn nothing_is_recorded_without_quotas() {
        let m = QuotaManager::new(10);
        assert!(!m.active());
        assert_eq!(m.record(QuotaKind::Produce, "ANONYMOUS", "app", 1e12, 0), 0);
        assert_eq!(m.entities(), 0);
    }

    #[test]
    fn a_client_over_its_rate_is_throttled_and_others_are_not() {
        let m = manager(vec![client_quota("app", "producer_byte_rate", 1000.0)], 10);
        assert_eq!(m.record(QuotaKind::Produce, "u", "app", 5_000.0, 0), 0, "500/s over the 10 s minimum");
        assert_eq!(m.record(QuotaKind::Produce, "u", "app", 15_000.0, 0), 10_000, "2000/s: 10 s");
        assert_eq!(m.record(QuotaKind::Produce, "u", "other", 1e9, 0), 0, "no quota for other");
        assert_eq!(m.record(QuotaKind::Fetch, "u", "app", 1e9, 0), 0, "no fetch quota");
        m.unrecord(QuotaKind::Produce, "u", "app", 15_000.0, 0);
        assert_eq!(m.record(QuotaKind::Produce, "u", "app", 0.0, 0), 0, "taken back");
    }

    #[test]
    fn a_user_quota_is_shared_by_its_clients() {
        let rec = QuotaRecord { entity: QuotaEntity::user("alice"), key: "consumer_byte_rate".into(), value: 1000.0 };
        let m = manager(vec![rec], 10);
        assert_eq!(m.record(QuotaKind::Fetch, "alice", "a", 8_000.0, 0), 0);
        assert!(m.record(QuotaKind::Fetch, "alice", "b", 8_000.0, 0) > 0, "both clients count against alice");
        assert_eq!(m.entities(), 1);
    }

    #[test]
    fn windows_are_bounded_and_idle_ones_evicted() {
        let m = manager(
            vec![QuotaRecord {
                entity: QuotaEntity { user: None, client_id: Some(weft_meta::QuotaName::Default) },
                key: "producer_byte_rate".into(),
                value: 1000.0,
            }],
            3,
        );
        for (i, c) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            m.record(QuotaKind::Produce, "u", c, 1.0, i as i64);
        }
        assert_eq!(m.entities(), 3, "bounded");
        m.evict_idle(100_000);
        assert_eq!(m.entities(), 0, "idle windows are dropped");
        m.set_table(QuotaTable::default());
        assert!(!m.active());
    }
}
