//! The run's clock: once a second it takes the meter's interval into a `weft_report::Interval`, refreshes
//! the live view, and moves the ramp on (closing a step, judging it against the objective, raising the
//! rate or ending the ramp after the first step that fails).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weft_report::{Interval, Step};

use super::live::Live;
use super::meter::{Counts, Latencies, Meter};
use crate::scenario::{ObjectiveSpec, Ramp, StepFigures, step_met};

/// Length of one interval.
pub(crate) const TICK: Duration = Duration::from_secs(1);

/// The ramp as it runs.
pub(crate) struct RampRun {
    pub ramp: Ramp,
    pub objective: ObjectiveSpec,
    /// The ramping group's rate, which the producers read.
    pub rate: Arc<AtomicU64>,
    index: u64,
    step_start: Option<(Instant, u64)>,
    acked: u64,
    errors: u64,
    pub done: bool,
}

impl RampRun {
    pub(crate) fn new(ramp: Ramp, objective: ObjectiveSpec, rate: Arc<AtomicU64>) -> RampRun {
        RampRun { ramp, objective, rate, index: 0, step_start: None, acked: 0, errors: 0, done: false }
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

    /// The producers were told to stop: no rate is offered any more.
    pub(crate) fn producers_stopped(&mut self) {
        self.rates = None;
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
            self.advance_ramp(now, &counts);
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from((at - self.started).as_millis()).unwrap_or(u64::MAX)
    }

    fn advance_ramp(&mut self, now: Instant, counts: &Counts) {
        let started = self.started;
        let Some(ramp) = self.ramp.as_mut().filter(|r| !r.done) else { return };
        let Some((step_start, rate)) = ramp.step_start else {
            // The warmup ran at the first step's rate; the step's figures start now.
            self.meter.take_step();
            ramp.step_start = Some((now, ramp.ramp.rate(0).unwrap_or(0)));
            return;
        };
        ramp.acked += counts.produced_records;
        ramp.errors += counts.produce_errors;
        let held = now - step_start;
        if held + Duration::from_millis(50) < ramp.ramp.step_duration() {
            return;
        }
        let latencies = self.meter.take_step();
        let step = close_step(ramp, rate, held, &latencies, ms_between(started, step_start));
        let next = ramp.ramp.rate(ramp.index + 1);
        match next.filter(|_| step.met) {
            Some(next) => {
                ramp.index += 1;
                ramp.rate.store(next, Ordering::Relaxed);
                ramp.step_start = Some((now, next));
            }
            None => ramp.done = true,
        }
        (ramp.acked, ramp.errors) = (0, 0);
        self.steps.push(step);
    }
}

fn ms_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_millis()).unwrap_or(u64::MAX)
}

/// The step that held `rate` for `held`, judged against the ramp's objective.
fn close_step(ramp: &RampRun, rate: u64, held: Duration, latencies: &Latencies, start_ms: u64) -> Step {
    let offered = rate as f64;
    let achieved = ramp.acked as f64 / held.as_secs_f64().max(1e-3);
    let measured = match ramp.objective.latency {
        crate::scenario::LatencyKind::ProduceAck => &latencies.ack,
        crate::scenario::LatencyKind::EndToEnd => &latencies.e2e,
    };
    let latency_ms = measured.percentile_ms(ramp.objective.percentile);
    let figures = StepFigures { offered, achieved, latency_ms, errors: ramp.errors };
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
        errors: ramp.errors,
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
        let meter = Arc::new(Meter::new(Clock::new(), 1, 0));
        meter.start(Duration::ZERO);
        let c = Control::new(
            meter,
            Instant::now(),
            Duration::ZERO,
            Live::hidden(),
            vec![rate.clone()],
            Some(RampRun::new(ramp, objective, rate.clone())),
        );
        (c, rate)
    }

    /// Simulates one second at `records` acknowledged with 1 ms ack latency.
    fn second(c: &mut Control, at: &mut Instant, records: u64) {
        for _ in 0..records {
            let now = c.meter.clock.now_ns();
            c.meter.sent();
            c.meter.acked(0, 10, now.saturating_sub(1_000_000));
        }
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
}
