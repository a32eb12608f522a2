//! Accept failures (out of file descriptors, aborted handshakes) are logged without flooding the log.

use std::time::Duration;

/// Logs accept failures at most every few seconds, with how many were not logged.
#[derive(Default)]
pub struct AcceptErrors {
    last_logged: Option<tokio::time::Instant>,
    suppressed: u64,
}

impl AcceptErrors {
    const EVERY: Duration = Duration::from_secs(5);

    pub fn note(&mut self, e: &std::io::Error) {
        let now = tokio::time::Instant::now();
        if self.last_logged.is_some_and(|at| now - at < Self::EVERY) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(error = %e, suppressed = self.suppressed, "accept failed; retrying in 50 ms");
        self.last_logged = Some(now);
        self.suppressed = 0;
    }
}
