//! The live terminal view of a scenario run: one status line on stderr refreshed each second (phase,
//! elapsed, offered and achieved rate, MB/s, ack and end-to-end p50/p99, consumed rate, errors). Off with
//! `--json` or when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use weft_report::Interval;

pub(crate) struct Live {
    bar: ProgressBar,
}

impl Live {
    pub(crate) fn new(enabled: bool, scenario: &str) -> Live {
        if !enabled {
            return Live::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(scenario.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        Live { bar }
    }

    pub(crate) fn hidden() -> Live {
        Live { bar: ProgressBar::hidden() }
    }

    pub(crate) fn update(&self, phase: &str, elapsed: Duration, i: &Interval, errors: u64) {
        if !self.bar.is_hidden() {
            self.bar.set_message(status_line(phase, elapsed, i, errors));
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// The status line of one interval.
pub(crate) fn status_line(phase: &str, elapsed: Duration, i: &Interval, errors: u64) -> String {
    let secs = (i.duration_ms as f64 / 1000.0).max(1e-3);
    let offered = i.offered_records_per_sec.map_or_else(|| "max".to_string(), |r| format!("{r:.0}/s"));
    format!(
        "{phase:<8} {:>4}s | offered {offered} achieved {:.0}/s {:.2} MB/s | ack p50 {} p99 {} ms | \
         e2e p50 {} p99 {} ms | consumed {:.0}/s | errors {errors}",
        elapsed.as_secs(),
        i.produced_records as f64 / secs,
        i.produced_bytes as f64 / secs / 1e6,
        ms(i.produce_ack_p50_ms),
        ms(i.produce_ack_p99_ms),
        ms(i.end_to_end_p50_ms),
        ms(i.end_to_end_p99_ms),
        i.consumed_records as f64 / secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_shows_rates_and_percentiles() {
        let i = Interval {
            duration_ms: 1000,
            offered_records_per_sec: Some(5000.0),
            produced_records: 4990,
            produced_bytes: 5_109_760,
            consumed_records: 4980,
            produce_ack_p50_ms: Some(2.04),
            produce_ack_p99_ms: Some(8.0),
            ..Interval::default()
        };
        let line = status_line("produce", Duration::from_secs(12), &i, 3);
        for part in
            ["12s", "offered 5000/s", "achieved 4990/s", "5.11 MB/s", "p50 2.0 p99 8.0", "e2e p50 - p99 -", "errors 3"]
        {
            assert!(line.contains(part), "{part} in {line}");
        }
    }
}
