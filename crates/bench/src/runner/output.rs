//! What a scenario run leaves behind: the report directory (`report.json`, the `Run`; `report.html`, its
//! page), the summary table on stdout, and `weft bench compare` of two saved runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use weft_report::Run;

use super::Outcome;

/// `weft-bench-<scenario>-<UTC time>` for a run started at `unix_ms`.
pub fn default_report_dir(scenario: &str, unix_ms: u64) -> PathBuf {
    PathBuf::from(format!("weft-bench-{scenario}-{}", utc_stamp(unix_ms / 1000)))
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time (civil-from-days, proleptic Gregorian).
fn utc_stamp(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Writes `report.json` and `report.html` of `run` into `dir` (created if missing).
pub fn write_report(dir: &Path, run: &Run) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating the report directory {}", dir.display()))?;
    let json = serde_json::to_string_pretty(run).context("serialising the report")?;
    let path = dir.join("report.json");
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("report.html");
    std::fs::write(&path, weft_report::html::render(run, None)).with_context(|| format!("writing {}", path.display()))
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// The human summary of a run.
pub fn summary_table(outcome: &Outcome, dir: &Path) -> String {
    let run = &outcome.run;
    let t = &outcome.totals;
    let window = measured(run);
    let secs: f64 = window.iter().map(|i| i.duration_ms as f64 / 1000.0).sum::<f64>().max(1e-3);
    let measured_records: u64 = window.iter().map(|i| i.produced_records).sum();
    let (produced_bytes, consumed): (u64, u64) =
        run.intervals.iter().fold((0, 0), |(b, c), i| (b + i.produced_bytes, c + i.consumed_records));
    let mut out = String::new();
    let _ = writeln!(out, "scenario {}: {}", run.scenario, run.description);
    let _ = writeln!(out, "target   {}", run.target.bootstrap_servers);
    let _ = writeln!(
        out,
        "produced {} records ({:.1} MB; {:.0} records/s over the {:.0} s measured), {} errors",
        t.produced_records,
        produced_bytes as f64 / 1e6,
        measured_records as f64 / secs,
        secs,
        t.produce_errors
    );
    if let (Some(p99), Some(max)) = (t.send_lag_p99_ms, t.send_lag_max_ms) {
        let _ =
            writeln!(out, "send lag behind the schedule: p99 {p99:.1} ms, max {max:.1} ms (counted in the latencies)");
    }
    let _ = writeln!(out, "consumed {consumed} records, {} redelivered after rebalances", t.redelivered_records);
    for (group, n) in &t.consumed_by_group {
        let _ = writeln!(out, "  group {group}: {n}");
    }
    if t.transactions_committed + t.transactions_aborted > 0 {
        let _ =
            writeln!(out, "transactions: {} committed, {} aborted", t.transactions_committed, t.transactions_aborted);
    }
    if t.rejoins > 0 {
        let _ = writeln!(out, "rebalance storm: {} members left and joined again", t.rejoins);
    }
    let _ = writeln!(out, "\nlatency (ms, after warmup)   p50       p99       p99.9");
    for (name, p) in &run.percentiles {
        let _ = writeln!(out, "{name:<28} {:<9.1} {:<9.1} {:.1}", p.p50_ms, p.p99_ms, p.p99_9_ms);
    }
    if !run.steps.is_empty() {
        let _ = writeln!(out, "\nramp step  offered/s  achieved/s  latency ms  met");
        for (i, s) in run.steps.iter().enumerate() {
            let met = if s.met { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "{i:<10} {:<10.0} {:<11.0} {:<11} {met}",
                s.offered_records_per_sec,
                s.achieved_records_per_sec,
                opt_ms(s.latency_ms)
            );
        }
        let sustainable = run
            .sustainable_records_per_sec
            .map_or_else(|| "none met the objective".into(), |r| format!("{r:.0} records/s"));
        let _ = writeln!(out, "sustainable rate: {sustainable}");
    }
    if let Some(b) = run.bottleneck.as_ref().filter(|b| !b.resource.is_empty()) {
        let _ = writeln!(out, "\nbottleneck: {}: {}", b.resource, b.summary);
    }
    if let Some(f) = &outcome.failure {
        let _ = writeln!(out, "failed: {f} (the report holds what was measured until then)");
    }
    for p in &outcome.problems {
        let _ = writeln!(out, "problem: {p}");
    }
    let _ = writeln!(out, "\nreport: {}/report.json, {}/report.html", dir.display(), dir.display());
    out
}

/// The measured window: intervals after the warmup (the `warmup_secs` setting) while the producers ran (an
/// offered rate of 0 marks the stop, catch-up and drain after them).
fn measured(run: &Run) -> Vec<&weft_report::Interval> {
    let warmup_ms = run.settings.get("warmup_secs").and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) * 1000;
    run.intervals.iter().filter(|i| i.start_ms >= warmup_ms && i.offered_records_per_sec != Some(0.0)).collect()
}

/// Reads a saved run.
fn read_run(path: &Path) -> Result<Run> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a weft bench report", path.display()))
}

/// `weft bench compare`: the table of `run` against `baseline`, and the side-by-side page written to `html`.
pub fn compare(baseline: &Path, run: &Path, html: &Path) -> Result<String> {
    let (base, run) = (read_run(baseline)?, read_run(run)?);
    std::fs::write(html, weft_report::html::render(&run, Some(&base)))
        .with_context(|| format!("writing {}", html.display()))?;
    Ok(weft_report::html::compare_table(&run, &base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_report::HistogramBucket;

    #[test]
    fn report_dirs_carry_the_utc_time() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_700_000_000), "20231114T221320Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z", "leap day");
        assert_eq!(
            default_report_dir("fan-out", 86_400_000 + 3_661_000),
            PathBuf::from("weft-bench-fan-out-19700102T010101Z")
        );
    }

    #[test]
    fn the_summary_uses_exact_percentiles_and_the_measured_window() {
        let at = |start_ms, offered, produced_records| weft_report::Interval {
            start_ms,
            duration_ms: 1000,
            offered_records_per_sec: offered,
            produced_records,
            ..Default::default()
        };
        let run = Run {
            version: weft_report::REPORT_VERSION,
            scenario: "s".into(),
            description: "d".into(),
            started_at_unix_ms: 0,
            target: weft_report::Target::default(),
            settings: [("warmup_secs".to_string(), "1".to_string())].into(),
            objective: None,
            intervals: vec![
                at(0, Some(10.0), 1000),
                at(1000, Some(10.0), 10),
                at(2000, Some(10.0), 10),
                at(3000, Some(0.0), 500),
            ],
            steps: vec![],
            sustainable_records_per_sec: None,
            histograms: [("produce_ack".to_string(), vec![HistogramBucket { le_ms: 5.0, count: 20 }])].into(),
            percentiles: [(
                "produce_ack".to_string(),
                weft_report::Percentiles { p50_ms: 3.3, p99_ms: 4.4, p99_9_ms: 4.9 },
            )]
            .into(),
            resources: vec![],
            bottleneck: None,
        };
        let totals = crate::runner::Totals {
            produced_records: 1520,
            send_lag_p99_ms: Some(2.0),
            send_lag_max_ms: Some(7.5),
            ..Default::default()
        };
        let outcome = Outcome { run, totals, problems: vec![], failure: None };
        let text = summary_table(&outcome, Path::new("d"));
        assert!(text.contains("10 records/s over the 2 s measured"), "{text}");
        assert!(text.contains("produce_ack                  3.3       4.4       4.9"), "{text}");
        assert!(text.contains("max 7.5 ms"), "{text}");
    }
}
