//! Fault injection for tests: fail the n-th object-store operation, either before it takes effect (the
//! request never reached the store) or after (it took effect but the caller saw an error, as when a process
//! dies between an upload and recording it). Crash-at-every-step tests sweep n over a job's operations.

use std::sync::atomic::{AtomicU64, Ordering};

/// When an injected failure strikes relative to the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// The operation does not happen.
    Before,
    /// The operation happens, then reports failure.
    After,
}

/// A shared fault plan: counts operations and fails the chosen one.
#[derive(Debug, Default)]
pub struct Faults {
    ops: AtomicU64,
    /// 1-based number of the operation to fail; 0 = none.
    fail_at: AtomicU64,
    after: std::sync::atomic::AtomicBool,
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails operation number `n` (counted from now, 1-based) in `mode`.
    pub fn fail_nth(&self, n: u64, mode: FaultMode) {
        self.ops.store(0, Ordering::SeqCst);
        self.after.store(mode == FaultMode::After, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Stops injecting.
    pub fn clear(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }

    /// Operations counted since the last `fail_nth`.
    pub fn count(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Counts one operation; returns the mode to fail it in, if it is the chosen one.
    pub(crate) fn next(&self) -> Option<FaultMode> {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.fail_at.load(Ordering::SeqCst);
        (at != 0 && n == at)
            .then(|| if self.after.load(Ordering::SeqCst) { FaultMode::After } else { FaultMode::Before })
    }
}
