//! The ramp steps' open windows in the meter. A record belongs to the step during which it was meant to be
//! sent (its intended send time), whenever it is acknowledged or consumed, so a step is judged on its own
//! records and not on the backlog of the one before. A step stays open after its time is over until its
//! records are settled (or the controller gives up waiting), so several may be open at once.

use super::meter::Latencies;

/// What one step's records did so far.
#[derive(Debug, Clone)]
pub(crate) struct StepWindow {
    /// Clock time the step started; records meant to be sent from then on (until the next step) are its.
    pub start_ns: u64,
    /// Clock time the step's time was over; records meant to be sent from then on are not its.
    pub end_ns: Option<u64>,
    /// Records of the step handed to the client.
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    /// End-to-end samples (one per record and consumer group reading it).
    pub consumed: u64,
    pub latencies: Latencies,
}

impl StepWindow {
    fn new(start_ns: u64) -> StepWindow {
        StepWindow { start_ns, end_ns: None, sent: 0, acked: 0, errors: 0, consumed: 0, latencies: Latencies::new() }
    }

    /// Records sent and neither acknowledged nor failed yet.
    pub(crate) fn in_flight(&self) -> u64 {
        self.sent.saturating_sub(self.acked + self.errors)
    }
}

/// The open steps, oldest first.
#[derive(Debug, Default)]
pub(crate) struct StepWindows {
    open: Vec<StepWindow>,
}

impl StepWindows {
    /// Opens a step starting at `start_ns` (after every open one).
    pub(crate) fn open(&mut self, start_ns: u64) {
        self.open.push(StepWindow::new(start_ns));
    }

    /// The step a record meant to be sent at `sent_ns` belongs to, `None` before the first open step (the
    /// warmup, or a step already closed).
    pub(crate) fn of(&mut self, sent_ns: u64) -> Option<&mut StepWindow> {
        let w = self.open.iter_mut().rev().find(|w| w.start_ns <= sent_ns)?;
        w.end_ns.is_none_or(|end| sent_ns < end).then_some(w)
    }

    /// The step that started at `start_ns` takes no records meant to be sent from `end_ns` on.
    pub(crate) fn end(&mut self, start_ns: u64, end_ns: u64) {
        if let Some(w) = self.open.iter_mut().find(|w| w.start_ns == start_ns) {
            w.end_ns = Some(end_ns);
        }
    }

    /// A copy of the step that started at `start_ns`.
    pub(crate) fn get(&self, start_ns: u64) -> Option<StepWindow> {
        self.open.iter().find(|w| w.start_ns == start_ns).cloned()
    }

    /// Closes the step that started at `start_ns`; records of it that arrive later are not counted.
    pub(crate) fn close(&mut self, start_ns: u64) -> Option<StepWindow> {
        let at = self.open.iter().position(|w| w.start_ns == start_ns)?;
        Some(self.open.remove(at))
    }

    pub(crate) fn clear(&mut self) {
        self.open.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_the_step_of_their_send_time() {
        let mut w = StepWindows::default();
        assert!(w.of(5).is_none());
        w.open(10);
        w.open(20);
        assert!(w.of(9).is_none(), "before the first step");
        w.end(20, 30);
        assert!(w.of(30).is_none(), "after the last step's end");
        w.of(15).unwrap().sent += 1;
        w.of(25).unwrap().sent += 2;
        w.of(20).unwrap().acked += 1;
        assert_eq!(w.get(10).unwrap().sent, 1);
        assert_eq!((w.get(20).unwrap().sent, w.get(20).unwrap().in_flight()), (2, 1));
        assert_eq!(w.close(10).unwrap().sent, 1);
        assert!(w.of(15).is_none(), "a closed step's late records are not counted");
        assert!(w.close(10).is_none());
        w.clear();
        assert!(w.get(20).is_none());
    }
}
