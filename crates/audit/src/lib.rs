//! The audit log: one structured line per authentication, authorization denial and administrative change
//! (who, from where, what, result), as security teams expect from a broker (Kafka's authorizer and request
//! loggers, Confluent's audit log).
//!
//! Every event is counted in metrics (`weft_audit_events_total{event, result}`, and admin changes also in
//! `weft_audit_admin_changes_total{api, result}`); when a file is configured
//! (`--audit-log PATH`) it is also written there as one JSON object per line. Recording never blocks a
//! request: events go through a bounded queue to a writer task; if the writer falls behind by
//! [`QUEUE_LEN`] events, further events are counted as dropped (`weft_audit_dropped_total`) and a warning is
//! logged, because stalling produce and fetch behind a slow disk would be worse than a gap the metrics
//! show. The file is opened for appending and reopened when it is moved away (log rotation by rename).

mod change;
mod event;
mod writer;

pub use change::{Change, ConfigChange, QuotaChange, QuotaEntity, is_secret};
pub use event::{AuditEvent, Outcome, SCHEMA_VERSION};
pub use writer::AuditError;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use weft_clock::Clock;

/// Events queued for the writer at most.
pub const QUEUE_LEN: usize = 10_000;

/// Where audit events go. Cheap to clone; [`AuditLog::metrics_only`] when no file is configured.
#[derive(Clone, Default)]
pub struct AuditLog {
    queue: Option<mpsc::Sender<(i64, AuditEvent)>>,
    clock: Option<Arc<dyn Clock>>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("to_file", &self.queue.is_some()).finish()
    }
}

impl AuditLog {
    /// Counts events in metrics and writes them nowhere.
    pub fn metrics_only() -> Self {
        AuditLog::default()
    }

    /// Appends events to the file at `path` (created if missing) from a writer task, which ends when every
    /// handle is dropped. Fails at once if the file cannot be opened.
    pub fn to_file(path: &Path, clock: Arc<dyn Clock>) -> Result<(Self, tokio::task::JoinHandle<()>), AuditError> {
        let file = writer::open(path)?;
        let (queue, events) = mpsc::channel(QUEUE_LEN);
        let task = tokio::spawn(writer::run(path.to_path_buf(), file, events));
        Ok((AuditLog { queue: Some(queue), clock: Some(clock), dropped: Arc::default() }, task))
    }

    /// Records one event: counted, and queued for the file if there is one. Never waits.
    pub fn record(&self, event: AuditEvent) {
        metrics::counter!("weft_audit_events_total", "event" => event.name(), "result" => event.outcome().name())
            .increment(1);
        if let AuditEvent::Admin { api, outcome, .. } = &event {
            metrics::counter!("weft_audit_admin_changes_total", "api" => api.clone(), "result" => outcome.name())
                .increment(1);
        }
        let (Some(queue), Some(clock)) = (&self.queue, &self.clock) else {
            return;
        };
        if queue.try_send((clock.now_ms(), event)).is_err() {
            metrics::counter!("weft_audit_dropped_total").increment(1);
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed);
            if dropped.is_power_of_two() || dropped == 0 {
                tracing::warn!(
                    dropped = dropped + 1,
                    "audit log writer is behind; events dropped (see weft_audit_dropped_total)"
                );
            }
        }
    }
}
