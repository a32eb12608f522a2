//! The ramp: offered rates `start, start + step, ...` up to `max`, each held for `step_secs`, and the
//! judgement of a step against the latency objective. The ramp stops after the first step that fails;
//! the sustainable rate is what the highest step that met the objective achieved, at most its offered rate.

use std::time::Duration;

use weft_report::Step;

use super::model::{ObjectiveSpec, RampSpec};

/// A step's achieved rate must be at least this share of its offered rate to count as met.
pub const ACHIEVED_SHARE: f64 = 0.95;

/// A stepped ramp of offered rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    spec: RampSpec,
}

impl Ramp {
    pub fn new(spec: RampSpec) -> Ramp {
        Ramp { spec }
    }

    /// The offered rate (records/s) of step `index`, `None` past `max`.
    pub fn rate(&self, index: u64) -> Option<u64> {
        let rate = self.spec.start.checked_add(self.spec.step.checked_mul(index)?)?;
        (rate <= self.spec.max).then_some(rate)
    }

    /// How long each step is held.
    pub fn step_duration(&self) -> Duration {
        Duration::from_secs(self.spec.step_secs)
    }

    /// Number of steps from `start` to `max`.
    pub fn steps(&self) -> u64 {
        (self.spec.max - self.spec.start.min(self.spec.max)) / self.spec.step.max(1) + 1
    }
}

/// What a step measured, for the judgement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepFigures {
    pub offered: f64,
    pub achieved: f64,
    /// The objective's percentile of its latency over the step; `None` without samples.
    pub latency_ms: Option<f64>,
    pub errors: u64,
}

/// Whether a step met `objective`: the latency within its bound, the achieved rate within 5 % of the
/// offered one, and no delivery errors. A step without latency samples did not meet it.
pub fn step_met(objective: &ObjectiveSpec, f: &StepFigures) -> bool {
    let latency_ok = f.latency_ms.is_some_and(|l| l <= objective.max_ms);
    latency_ok && f.achieved >= f.offered * ACHIEVED_SHARE && f.errors == 0
}

/// The rate the highest step (by offered rate) that met the objective sustained: `min(offered, achieved)`
/// (a met step achieved at least 95 % of its offer).
pub fn sustainable_rate(steps: &[Step]) -> Option<f64> {
    let best = steps
        .iter()
        .filter(|s| s.met)
        .max_by(|a, b| a.offered_records_per_sec.total_cmp(&b.offered_records_per_sec))?;
    Some(best.offered_records_per_sec.min(best.achieved_records_per_sec))
}

#[cfg(test)]
mod tests {
    use super::super::model::LatencyKind;
    use super::*;

    fn ramp() -> Ramp {
        Ramp::new(RampSpec { start: 1000, step: 500, step_secs: 10, max: 2600 })
    }

    #[test]
    fn rates_step_up_to_max() {
        let r = ramp();
        let rates: Vec<u64> = (0..10).map_while(|i| r.rate(i)).collect();
        assert_eq!(rates, vec![1000, 1500, 2000, 2500]);
        assert_eq!(r.steps(), 4);
        assert_eq!(r.step_duration(), Duration::from_secs(10));
        assert_eq!(Ramp::new(RampSpec { start: 5, step: u64::MAX, step_secs: 1, max: 5 }).rate(1), None);
    }

    fn objective() -> ObjectiveSpec {
        ObjectiveSpec { latency: LatencyKind::EndToEnd, percentile: 99.0, max_ms: 100.0 }
    }

    #[test]
    fn judgement_needs_latency_rate_and_no_errors() {
        let ok = StepFigures { offered: 1000.0, achieved: 990.0, latency_ms: Some(80.0), errors: 0 };
        assert!(step_met(&objective(), &ok));
        assert!(step_met(&objective(), &StepFigures { latency_ms: Some(100.0), ..ok }), "bound inclusive");
        assert!(!step_met(&objective(), &StepFigures { latency_ms: Some(100.5), ..ok }));
        assert!(!step_met(&objective(), &StepFigures { latency_ms: None, ..ok }));
        assert!(!step_met(&objective(), &StepFigures { achieved: 900.0, ..ok }), "fell behind the offered rate");
        assert!(!step_met(&objective(), &StepFigures { errors: 1, ..ok }));
    }

    fn step(offered: f64, met: bool) -> Step {
        Step {
            offered_records_per_sec: offered,
            achieved_records_per_sec: offered,
            start_ms: 0,
            duration_ms: 1000,
            latency_ms: Some(1.0),
            produce_ack_p50_ms: None,
            produce_ack_p99_ms: None,
            end_to_end_p50_ms: None,
            end_to_end_p99_ms: None,
            errors: 0,
            met,
        }
    }

    #[test]
    fn sustainable_is_the_highest_met_step() {
        assert_eq!(sustainable_rate(&[]), None);
        assert_eq!(sustainable_rate(&[step(1000.0, false)]), None);
        assert_eq!(sustainable_rate(&[step(1000.0, true), step(2000.0, true), step(3000.0, false)]), Some(2000.0));
        let short = Step { achieved_records_per_sec: 1960.0, ..step(2000.0, true) };
        assert_eq!(sustainable_rate(&[step(1000.0, true), short]), Some(1960.0), "what it achieved");
        let over = Step { achieved_records_per_sec: 1100.0, ..step(1000.0, true) };
        assert_eq!(sustainable_rate(&[over]), Some(1000.0), "at most what was offered");
    }
}
