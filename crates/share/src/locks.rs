//! Acquisition locks ending: at their deadline (the lock duration passed without an acknowledgement) or when
//! their member leaves the group or its session dies. Either way the records are delivered again, or archived
//! once delivered as often as the delivery count limit allows.

use crate::{RecordState, SharePartition};

impl SharePartition {
    /// Releases every record whose lock deadline is at or before `now_ms`; returns how many.
    pub fn expire_locks(&mut self, now_ms: i64) -> u64 {
        let n = self.release_where(|_, deadline_ms| deadline_ms <= now_ms);
        self.counters.lock_timeouts += n;
        n
    }

    /// Releases every record `member` holds (it left, or its share session ended); returns how many.
    pub fn release_member(&mut self, member: &str) -> u64 {
        let n = self.release_where(|holder, _| holder == member);
        self.counters.released += n;
        n
    }

    /// Releases the acquired runs `held` selects by member and deadline, then tidies runs and the start.
    fn release_where(&mut self, held: impl Fn(&str, i64) -> bool) -> u64 {
        let config = self.config;
        let (mut released, mut archived) = (0u64, 0u64);
        for (first, run) in self.runs.iter_mut() {
            let RecordState::Acquired { member, deadline_ms } = &run.state else { continue };
            if !held(member, *deadline_ms) {
                continue;
            }
            let n = (run.last - first + 1) as u64;
            released += n;
            run.state = config.released_state(run.delivery_count);
            if run.state == RecordState::Archived {
                archived += n;
            }
        }
        if released > 0 {
            self.counters.archived += archived;
            self.runs.coalesce(self.start, self.end - 1);
            self.advance_start();
        }
        released
    }
}
