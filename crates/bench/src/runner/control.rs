//! The run's clock: once a second it takes the meter's interval into a `weft_report::Interval`, refreshes
//! the live view, and moves the ramp on. A step's time over, the rate goes up at once and the step waits
//! until its own records (by intended send time) are acknowledged, or consumed by every group reading them
//! for an end-to-end objective, or until the objective's `max_ms` has passed; records still missing then
//! are older than the bound and count as violations. The first step that fails ends the ramp and the step
//! after it is dropped; so is the step running when the producers stop.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weft_report::{Interval, Step};

use super::live::Live;
use super::meter::{Counts, Latencies, Meter};
use super::steps::StepWindow;
use crate::scenario::{LatencyKind, ObjectiveSpec, Ramp, StepFigures, step_met};

/// Length of one interval.
pub(crate) const TICK: Duration = Duration::from_secs(1);

/// The ramp as it runs.
pub(crate) struct RampRun {
    pub ramp: Ramp,
    pub objective: ObjectiveSpec,
    /// The ramping group's rate, which the producers read.
    pub rate: Arc<AtomicU64>,
    /// Consumer groups reading the ramping group's topic: end-to-end samples expected per record.
    readers: u64,
    started: bool,
    /// The step being offered now.
    current: Option<OpenStep>,
    /// Steps whose time is over, waiting for their records, oldest first.
    settling: VecDeque<OpenStep>,
    /// No more steps are offered (the last one ran, one failed, or the producers stopped).
    pub done: bool,
}

#[derive(Debug, Clone, Copy)]
struct OpenStep {
    index: u64,
    rate: u64,
    start: Instant,
    /// `start` on the meter's clock (the step's window there).
    start_ns: u64,
    /// When its time was over (`Instant`, clock nanoseconds).
    end: Option<(Instant, u64)>,
}

impl RampRun {
    pub(crate) fn new(ramp: Ramp, objective: ObjectiveSpec, rate: Arc<AtomicU64>, readers: u64) -> RampRun {
        let settling = VecDeque::new();
        RampRun { ramp, objective, rate, readers, started: false, current: None, settling, done: false }
    }

    fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.objective.max_ms / 1000.0)
    }

    /// Whether every record of the step has what the objective measures.
    fn settled(&self, w: &StepWindow) -> bool {
        w.in_flight() == 0
            && (self.objective.latency == LatencyKind::ProduceAck || w.consumed >= w.acked * self.readers)
    }

    /// Records of the step still without what the objective measures.
    fn missing(&self, w: &StepWindow) -> u64 {
        match self.objective.latency {
            LatencyKind::ProduceAck => w.in_flight(),
            LatencyKind::EndToEnd => (w.sent.saturating_sub(w.errors) * self.readers).saturating_sub(w.consumed),
        }
    }
}

pub(crate) struct Control {
    pub meter: Arc<Meter>,
    pub started: Instant,
    warmup_end: Instant,
    last: Instant,
    pub intervals: Vec<Interval>,
    pub steps: Vec<Step>,
    pub live: Live,
    /// The producer groups' rates (0: unlimited); `None` once the producers were told to stop.
    rates: Option<Vec<Arc<AtomicU64>>>,
    pub ramp: Option<RampRun>,
    pub phase: &'static str,
}

impl Control {
    pub(crate) fn new(
        meter: Arc<Meter>,
        started: Instant,
        warmup: Duration,
        live: Live,
        rates: Vec<Arc<AtomicU64>>,
        ramp: Option<RampRun>,
    ) -> Control {
        let phase = if warmup.is_zero() { "produce" } else { "warmup" };
        let (intervals, steps) = (Vec::new(), Vec::new());
        Control {
            meter,
            started,
            warmup_end: started + warmup,
            last: started,
            intervals,
            steps,
            live,
            rates: Some(rates),
            ramp,
            phase,
        }
    }

    /// The producers were told to stop: no rate is offered any more, the ramp ends and the step running
    /// now is dropped (steps whose time was over are still judged once their records are in).
    pub(crate) fn producers_stopped(&mut self) {
        self.rates = None;
        if let Some(ramp) = self.ramp.as_mut() {
            ramp.done = true;
            if let Some(open) = ramp.current.take() {
                self.meter.close_step(open.start_ns);
            }
        }
    }

    fn offered(&self) -> Option<f64> {
        let Some(rates) = &self.rates else { return Some(0.0) };
        let rates: Vec<u64> = rates.iter().map(|r| r.load(Ordering::Relaxed)).collect();
        (!rates.contains(&0)).then(|| rates.iter().sum::<u64>() as f64)
    }

    /// Waits for the end of the current interval, then records it.
    pub(crate) async fn tick(&mut self) {
        tokio::time::sleep_until((self.last + TICK).into()).await;
        self.record(Instant::now());
    }

    /// Records the interval from the previous tick to `now` (also used for the last, partial one).
    pub(crate) fn record(&mut self, now: Instant) {
        let offered = self.offered();
        let (counts, latencies) = self.meter.take_interval();
        let interval = interval(self.ms(self.last), self.ms(now), offered, &counts, &latencies, self.meter.in_flight());
        self.last = now;
        if interval.duration_ms == 0 && counts == Counts::default() {
            return;
        }
        self.live.update(self.phase, now - self.started, &interval, self.meter.totals().1);
        self.intervals.push(interval);
        if self.phase == "warmup" && now >= self.warmup_end {
            self.phase = "produce";
        }
        if now >= self.warmup_end {
            self.advance_ramp(now);
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from((at - self.started).as_millis()).unwrap_or(u64::MAX)
    }

    fn advance_ramp(&mut self, now: Instant) {
        let meter = Arc::clone(&self.meter);
        let Some(ramp) = self.ramp.as_mut().filter(|r| !r.done || !r.settling.is_empty()) else { return };
        if !ramp.started {
            // The warmup ran at the first step's rate; the step's records start now.
            ramp.started = true;
            ramp.current = Some(open_step(&meter, 0, ramp.ramp.rate(0).unwrap_or(0), now));
            return;
        }
        let ended = ramp.current.filter(|c| now - c.start + Duration::from_millis(50) >= ramp.ramp.step_duration());
        if let Some(cur) = ended {
            let end_ns = meter.clock.now_ns();
            meter.end_step(cur.start_ns, end_ns);
            ramp.settling.push_back(OpenStep { end: Some((now, end_ns)), ..cur });
            ramp.current = None;
        }
        self.judge_settled(now);
        let Some(ramp) = self.ramp.as_mut() else { return };
        // The next step starts once the one before ended, unless its judgement (if in) ended the ramp.
        if let Some(cur) = ended.filter(|_| !ramp.done) {
            ramp.current = ramp.ramp.rate(cur.index + 1).map(|next| {
                ramp.rate.store(next, Ordering::Relaxed);
                open_step(&meter, cur.index + 1, next, now)
            });
        }
        if ramp.current.is_none() {
            ramp.done = true;
        }
    }

    /// Judges the steps whose records are in (or whose grace ran out), in order; a failed one ends the ramp.
    fn judge_settled(&mut self, now: Instant) {
        let Some(ramp) = self.ramp.as_mut() else { return };
        let meter = &self.meter;
        while let Some(&first) = ramp.settling.front() {
            let Some(((end, end_ns), mut window)) = first.end.zip(meter.step(first.start_ns)) else {
                ramp.settling.pop_front();
                continue;
            };
            let settled = ramp.settled(&window);
            if !settled && now < end + ramp.grace() {
                break;
            }
            if !settled {
                // Older than the bound and still missing: violations, at least as old as they are now.
                let age_us = (meter.clock.now_ns().saturating_sub(end_ns) / 1000)
                    .max((ramp.objective.max_ms * 1000.0) as u64 + 1000);
                let missing = ramp.missing(&window);
                match ramp.objective.latency {
                    LatencyKind::ProduceAck => window.latencies.ack.record_micros_n(age_us, missing),
                    LatencyKind::EndToEnd => window.latencies.e2e.record_micros_n(age_us, missing),
                }
            }
            meter.close_step(first.start_ns);
            ramp.settling.pop_front();
            let step = close_step(ramp, &first, end - first.start, &window, ms_between(self.started, first.start));
            let failed = !step.met;
            self.steps.push(step);
            if failed {
                ramp.done = true;
                ramp.current = None;
                ramp.settling.clear();
                meter.drop_steps();
            }
        }
    }
}

/// Opens step `index` at `rate` now, in the meter too.
fn open_step(meter: &Meter, index: u64, rate: u64, now: Instant) -> OpenStep {
    let start_ns = meter.clock.now_ns();
    meter.open_step(start_ns);
    OpenStep { index, rate, start: now, start_ns, end: None }
}

fn ms_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_millis()).unwrap_or(u64::MAX)
}

/// The step `open` that held its rate for `held`, judged on its records (`w`) against the ramp's objective.
fn close_step(ramp: &RampRun, open: &OpenStep, held: Duration, w: &StepWindow, start_ms: u64) -> Step {
    let offered = open.rate as f64;
    let achieved = w.acked as f64 / held.as_secs_f64().max(1e-3);
    let latencies: &Latencies = &w.latencies;
    let measured = match ramp.objective.latency {
        LatencyKind::ProduceAck => &latencies.ack,
        LatencyKind::EndToEnd => &latencies.e2e,
    };
    let latency_ms = measured.percentile_ms(ramp.objective.percentile);
    let figures = StepFigures { offered, achieved, latency_ms, errors: w.errors };
    Step {
        offered_records_per_sec: offered,
        achieved_records_per_sec: achieved,
        start_ms,
        duration_ms: u64::try_from(held.as_millis()).unwrap_or(u64::MAX),
        latency_ms,
        produce_ack_p50_ms: latencies.ack.percentile_ms(50.0),
        produce_ack_p99_ms: latencies.ack.percentile_ms(99.0),
        end_to_end_p50_ms: latencies.e2e.percentile_ms(50.0),
        end_to_end_p99_ms: latencies.e2e.percentile_ms(99.0),
        errors: w.errors,
        met: step_met(&ramp.objective, &figures),
    }
}

fn interval(start_ms: u64, end_ms: u64, offered: Option<f64>, c: &Counts, l: &Latencies, in_flight: u64) -> Interval {
    Interval {
        start_ms,
        duration_ms: end_ms.saturating_sub(start_ms),
        offered_records_per_sec: offered,
        produced_records: c.produced_records,
        produced_bytes: c.produced_bytes,
        consumed_records: c.consumed_records,
        consumed_bytes: c.consumed_bytes,
        produce_errors: c.produce_errors,
        consume_errors: c.consume_errors,
        produce_ack_p50_ms: l.ack.percentile_ms(50.0),
        produce_ack_p99_ms: l.ack.percentile_ms(99.0),
        end_to_end_p50_ms: l.e2e.percentile_ms(50.0),
        end_to_end_p99_ms: l.e2e.percentile_ms(99.0),
        in_flight_records: in_flight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Clock;
    use crate::scenario::{LatencyKind, RampSpec};

    fn control(max_ms: f64) -> (Control, Arc<AtomicU64>) {
        let rate = Arc::new(AtomicU64::new(100));
        let ramp = Ramp::new(RampSpec { start: 100, step: 100, step_secs: 1, max: 300 });
        let objective = ObjectiveSpec { latency: LatencyKind::ProduceAck, percentile: 99.0, max_ms };
        let meter = Arc::new(Meter::new(Clock::new(), 1, 0, Some(0)));
        meter.start(Duration::ZERO);
        let c = Control::new(
            meter,
            Instant::now(),
            Duration::ZERO,
            Live::hidden(),
            vec![rate.clone()],
            Some(RampRun::new(ramp, objective, rate.clone(), 1)),
        );
        (c, rate)
    }

    /// Sends `records` of producer group `group` now; returns their send time.
    fn send(c: &Control, group: usize, records: u64) -> u64 {
        let ns = c.meter.clock.now_ns();
        (0..records).for_each(|_| c.meter.sent(group, ns));
        ns
    }

    fn ack(c: &Control, group: usize, records: u64, sent_ns: u64) {
        (0..records).for_each(|_| c.meter.acked(group, 0, 10, sent_ns));
    }

    /// Simulates one second at `records` acknowledged with at least 1 ms ack latency.
    fn second(c: &mut Control, at: &mut Instant, records: u64) {
        let ns = send(c, 0, records);
        std::thread::sleep(Duration::from_millis(1));
        ack(c, 0, records, ns);
        *at += TICK;
        c.record(*at);
    }

    #[test]
    fn the_ramp_steps_up_while_met_and_stops_at_max() {
        let (mut c, rate) = control(1_000.0);
        let mut at = c.started;
        second(&mut c, &mut at, 0); // starts step 0
        second(&mut c, &mut at, 100);
        assert_eq!((c.steps.len(), rate.load(Ordering::Relaxed)), (1, 200));
        assert!(c.steps[0].met, "{:?}", c.steps[0]);
        second(&mut c, &mut at, 200);
        second(&mut c, &mut at, 300);
        assert_eq!(c.steps.iter().map(|s| s.offered_records_per_sec).collect::<Vec<_>>(), vec![100.0, 200.0, 300.0]);
        assert!(c.ramp.as_ref().unwrap().done, "max reached");
        assert_eq!(crate::scenario::sustainable_rate(&c.steps), Some(300.0));
        assert_eq!(c.intervals.len(), 4);
        assert_eq!(c.intervals[1].offered_records_per_sec, Some(100.0));
    }

    #[test]
    fn the_ramp_stops_after_the_first_failed_step() {
        let (mut c, rate) = control(1_000.0);
        let mut at = c.started;
        second(&mut c, &mut at, 0);
        second(&mut c, &mut at, 100);
        second(&mut c, &mut at, 120); // offered 200, achieved 120: behind
        assert!(c.ramp.as_ref().unwrap().done);
        assert_eq!(c.steps.iter().map(|s| s.met).collect::<Vec<_>>(), vec![true, false]);
        assert_eq!(rate.load(Ordering::Relaxed), 200, "not raised after the failure");
        assert_eq!(crate::scenario::sustainable_rate(&c.steps), Some(100.0));
    }

    #[test]
    fn latency_above_the_objective_fails_a_step() {
        let (mut c, _) = control(0.5);
        let mut at = c.started;
        second(&mut c, &mut at, 0);
        second(&mut c, &mut at, 100);
        assert!(!c.steps[0].met && c.steps[0].latency_ms.unwrap() >= 0.99, "{:?}", c.steps[0]);
        assert_eq!(crate::scenario::sustainable_rate(&c.steps), None);
    }

    #[test]
    fn a_step_waits_for_its_own_records_and_other_groups_do_not_count() {
        let (mut c, rate) = control(1_000.0);
        let mut at = c.started;
        second(&mut c, &mut at, 0);
        let late = send(&c, 0, 100);
        ack(&c, 0, 60, late);
        ack(&c, 1, 500, send(&c, 1, 500)); // another group: not the ramp's
        at += TICK;
        c.record(at);
        assert!(c.steps.is_empty(), "40 records of step 0 still in flight");
        assert_eq!(rate.load(Ordering::Relaxed), 200, "the next step runs meanwhile");
        let next = send(&c, 0, 30);
        ack(&c, 0, 40, late); // step 0's records, acknowledged during step 1
        ack(&c, 0, 30, next);
        at += Duration::from_millis(300);
        c.record(at);
        assert_eq!(c.steps.len(), 1);
        let s = &c.steps[0];
        assert!(s.met && s.achieved_records_per_sec == 100.0, "its own 100 records, not the other group's: {s:?}");
    }

    #[test]
    fn records_in_flight_past_the_bound_are_violations() {
        let (mut c, _) = control(100.0);
        let mut at = c.started;
        second(&mut c, &mut at, 0);
        let sent = send(&c, 0, 100);
        ack(&c, 0, 97, sent);
        at += TICK;
        c.record(at);
        assert!(c.steps.is_empty(), "within the grace");
        at += Duration::from_millis(150);
        c.record(at);
        let s = &c.steps[0];
        assert!(!s.met && s.latency_ms.unwrap() > 100.0, "3 % never acknowledged within 100 ms: {s:?}");
        assert!(c.ramp.as_ref().unwrap().done);
        assert!(c.ramp.as_ref().unwrap().current.is_none(), "the step after it was dropped");
    }

    #[test]
    fn stopping_the_producers_ends_the_ramp_and_drops_the_partial_step() {
        let (mut c, _) = control(1_000.0);
        let mut at = c.started;
        second(&mut c, &mut at, 0);
        second(&mut c, &mut at, 100);
        assert_eq!(c.steps.len(), 1);
        c.producers_stopped();
        assert!(c.ramp.as_ref().unwrap().done);
        second(&mut c, &mut at, 50);
        second(&mut c, &mut at, 50);
        assert_eq!(c.steps.len(), 1, "the step running at the stop is not judged");
    }
}
