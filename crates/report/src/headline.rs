//! A run's headline figures (throughput, latency percentiles, the sustainable rate, errors) and their
//! deltas against a baseline run, shared by the HTML page and the terminal comparison.

use crate::model::{HistogramBucket, Interval, Run};

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One headline figure of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: &'static str,
    pub unit: &'static str,
    pub value: Option<f64>,
    pub better: Better,
}

/// The headline figures of `run`, in display order.
/// Rates are over the measured window (see [`measured`]); errors over the whole run.
pub fn figures(run: &Run) -> Vec<Figure> {
    let window = measured(run);
    let secs: f64 = window.iter().map(|i| i.duration_ms as f64).sum::<f64>() / 1000.0;
    let per_sec =
        |f: fn(&Interval) -> u64| (secs > 0.0).then(|| window.iter().map(|i| f(i)).sum::<u64>() as f64 / secs);
    let total = |f: fn(&Interval) -> u64| run.intervals.iter().map(f).sum::<u64>();
    let fig = |name, unit, value, better| Figure { name, unit, value, better };
    let p = |name: &str, q: f64| exact_percentile(run, name, q);
    vec![
        fig("produced", "records/s", per_sec(|i| i.produced_records), Better::Higher),
        fig("produced", "MB/s", per_sec(|i| i.produced_bytes).map(|b| b / 1e6), Better::Higher),
        fig("consumed", "records/s", per_sec(|i| i.consumed_records), Better::Higher),
        fig("produce ack p50", "ms", p("produce_ack", 0.50), Better::Lower),
        fig("produce ack p99", "ms", p("produce_ack", 0.99), Better::Lower),
        fig("end-to-end p50", "ms", p("end_to_end", 0.50), Better::Lower),
        fig("end-to-end p99", "ms", p("end_to_end", 0.99), Better::Lower),
        fig("sustainable rate", "records/s", run.sustainable_records_per_sec, Better::Higher),
        fig("errors", "", Some(total(|i| i.produce_errors) as f64 + total(|i| i.consume_errors) as f64), Better::Lower),
    ]
}

/// The intervals of the measured window: after the warmup (the `warmup_secs` setting) and while the
/// producers ran (an offered rate of 0 marks the stop, catch-up and drain that follow).
pub fn measured(run: &Run) -> Vec<&Interval> {
    let warmup_ms = run.settings.get("warmup_secs").and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) * 1000;
    run.intervals.iter().filter(|i| i.start_ms >= warmup_ms && i.offered_records_per_sec != Some(0.0)).collect()
}

/// The `q` quantile (0.5, 0.99 or 0.999) of histogram `name`: exact when the run carries it, else the bound
/// of the bucket holding it (reports written before exact percentiles were kept).
pub fn exact_percentile(run: &Run, name: &str, q: f64) -> Option<f64> {
    if let Some(p) = run.percentiles.get(name) {
        let exact = [(0.5, p.p50_ms), (0.99, p.p99_ms), (0.999, p.p99_9_ms)];
        if let Some((_, v)) = exact.iter().find(|(at, _)| (at - q).abs() < 1e-9) {
            return Some(*v);
        }
    }
    run.histograms.get(name).and_then(|h| percentile(h, q))
}

/// The `q` quantile of a bucketed distribution: the upper bound of the bucket holding it.
pub fn percentile(buckets: &[HistogramBucket], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    buckets
        .iter()
        .find(|b| {
            seen += b.count;
            seen >= rank
        })
        .map(|b| b.le_ms)
}

/// The change from `baseline` to `value` in percent, `None` when either is missing or the baseline is 0.
pub fn delta_percent(value: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    let (v, b) = (value?, baseline?);
    (b != 0.0).then(|| (v - b) * 100.0 / b.abs())
}

/// Whether a change is an improvement (`None` when unchanged or unknown).
pub fn improved(figure: &Figure, delta: Option<f64>) -> Option<bool> {
    let d = delta.filter(|d| d.abs() >= 0.05)?;
    Some((d > 0.0) == (figure.better == Better::Higher))
}

/// A figure for display: a few significant digits, `-` when absent.
pub fn format_value(value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

pub fn format_delta(delta: Option<f64>) -> String {
    delta.map_or("-".into(), |d| format!("{d:+.1} %"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_bucket_bound() {
        let b = |le_ms, count| HistogramBucket { le_ms, count };
        let h = [b(1.0, 50), b(5.0, 45), b(20.0, 4), b(100.0, 1)];
        assert_eq!(percentile(&h, 0.5), Some(1.0));
        assert_eq!(percentile(&h, 0.95), Some(5.0));
        assert_eq!(percentile(&h, 0.99), Some(20.0));
        assert_eq!(percentile(&h, 1.0), Some(100.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn figures_use_exact_percentiles_and_the_measured_window() {
        let mut run = crate::fixture::run(Vec::new());
        let at = |start_ms, offered, produced_records| Interval {
            start_ms,
            duration_ms: 1000,
            offered_records_per_sec: offered,
            produced_records,
            ..Interval::default()
        };
        run.settings.insert("warmup_secs".into(), "1".into());
        // warmup, two measured seconds, the stop phase.
        run.intervals =
            vec![at(0, Some(100.0), 10), at(1000, Some(100.0), 100), at(2000, None, 300), at(3000, Some(0.0), 50)];
        run.percentiles
            .insert("produce_ack".into(), crate::model::Percentiles { p50_ms: 3.3, p99_ms: 42.0, p99_9_ms: 77.0 });
        let f = figures(&run);
        assert_eq!(f[0].value, Some(200.0), "400 records over the 2 measured seconds");
        assert_eq!(f[3].value, Some(3.3), "exact, not the 5 ms bucket bound");
        assert_eq!(f[4].value, Some(42.0));
        assert_eq!(exact_percentile(&run, "produce_ack", 0.999), Some(77.0));
        run.percentiles.clear();
        assert_eq!(
            f[3].value.map(|_| exact_percentile(&run, "produce_ack", 0.5)),
            Some(Some(10.0)),
            "buckets without it"
        );
    }

    #[test]
    fn deltas_know_which_way_is_better() {
        let lat = Figure { name: "p99", unit: "ms", value: Some(80.0), better: Better::Lower };
        let d = delta_percent(Some(80.0), Some(100.0));
        assert_eq!(d, Some(-20.0));
        assert_eq!(improved(&lat, d), Some(true));
        assert_eq!(delta_percent(Some(1.0), Some(0.0)), None);
        assert_eq!(format_delta(d), "-20.0 %");
        assert_eq!(format_value(Some(12345.6)), "12346");
    }
}
