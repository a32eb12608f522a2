//! The self-contained HTML report: one page with inline CSS, inline SVG charts rendered here (`svg`) and a
//! few lines of inline script (toggling series from the legend; marking the page rendered), so it opens
//! from disk, offline, years later. With a baseline both runs are drawn on the same axes (the baseline
//! dashed) and a delta table heads the page. `compare_table` is the same comparison for a terminal.

use std::fmt::Write;

use crate::analysis::Bottleneck;
use crate::headline::{self, Figure};
use crate::model::Run;
use crate::path::Stage;
use crate::sample::ResourceSample;
use crate::svg::{self, Series, escape};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 12px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}\
td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}.better{color:#1a7f37}.worse{color:#c62828}\
svg.chart{width:100%;height:auto;max-width:900px;display:block;margin:8px 0}svg .tick{font-size:10px;fill:#555}\
svg .title{font-size:13px;font-weight:600}svg .label{font-size:11px;fill:#333}svg .legend{cursor:pointer}\
.resource{font-size:18px;font-weight:600}.muted{color:#666}.off{opacity:.15}";

/// Toggles a series when its legend entry is clicked, then marks the page rendered with the count of charts
/// (the browser test waits for `data-rendered`).
const SCRIPT: &str = "(function(){var charts=document.querySelectorAll('svg.chart');\
charts.forEach(function(c){c.querySelectorAll('g.legend').forEach(function(g){g.addEventListener('click',function(){\
var n=g.getAttribute('data-series');c.querySelectorAll('.series').forEach(function(s){\
if(s.getAttribute('data-series')===n){s.classList.toggle('off');}});g.classList.toggle('off');});});});\
document.body.setAttribute('data-rendered',String(charts.length));})();";

/// Renders `run` as one HTML page, beside `baseline` when given (a comparison of two runs).
pub fn render(run: &Run, baseline: Option<&Run>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = match baseline {
        Some(b) => format!("weft bench: {} vs {}", run.scenario, b.scenario),
        None => format!("weft bench: {}", run.scenario),
    };
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    header(&mut out, run, baseline);
    if let Some(b) = baseline {
        section(&mut out, "Compared with the baseline");
        out.push_str(&delta_table(run, b));
    }
    section(&mut out, "Bottleneck");
    // A run written before the analysis (or by an older bench) is analysed now.
    match &run.bottleneck {
        Some(b) => bottleneck(&mut out, b),
        None => bottleneck(&mut out, &crate::analysis::analyse(run)),
    }
    section(&mut out, "Throughput and latency over time");
    out.push_str(&throughput_chart(run, baseline));
    out.push_str(&latency_chart(run, baseline));
    section(&mut out, "Latency distribution");
    out.push_str(&histogram_chart(run, baseline));
    section(&mut out, "Resource use over time");
    out.push_str(&cpu_chart(run, baseline));
    out.push_str(&io_chart(run, baseline));
    out.push_str(&agent_chart(run, baseline));
    section(&mut out, "Ramp steps");
    steps(&mut out, run);
    section(&mut out, "Settings");
    settings(&mut out, run, baseline);
    let _ = write!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

/// A terminal table comparing two runs' headline figures.
pub fn compare_table(run: &Run, baseline: &Run) -> String {
    let rows = comparison(run, baseline);
    let mut out = format!("{:<28} {:>14} {:>14} {:>10}\n", "figure", "baseline", "run", "change");
    for (f, base, delta, _) in &rows {
        let name = if f.unit.is_empty() { f.name.to_string() } else { format!("{} ({})", f.name, f.unit) };
        let _ = writeln!(
            out,
            "{name:<28} {:>14} {:>14} {:>10}",
            headline::format_value(*base),
            headline::format_value(f.value),
            headline::format_delta(*delta)
        );
    }
    let resource = |r: &Run| r.bottleneck.clone().unwrap_or_else(|| crate::analysis::analyse(r)).resource;
    let _ = writeln!(out, "{:<28} {:>14} {:>14}", "bottleneck", resource(baseline), resource(run));
    out
}

/// A figure of the run, the baseline's value, the change in percent, and whether it improved.
type Compared = (Figure, Option<f64>, Option<f64>, Option<bool>);

/// Each figure of `run` with the baseline's value, the change, and whether it improved.
fn comparison(run: &Run, baseline: &Run) -> Vec<Compared> {
    let base = headline::figures(baseline);
    headline::figures(run)
        .into_iter()
        .zip(base)
        .map(|(f, b)| {
            let delta = headline::delta_percent(f.value, b.value);
            let better = headline::improved(&f, delta);
            (f, b.value, delta, better)
        })
        .collect()
}

fn section(out: &mut String, title: &str) {
    let _ = write!(out, "<h2>{}</h2>", escape(title));
}

fn header(out: &mut String, run: &Run, baseline: Option<&Run>) {
    let _ = write!(
        out,
        "<p>{}</p><p class=\"muted\">Target {} · started {} (Unix ms) · report layout v{}{}</p>",
        escape(&run.description),
        escape(&run.target.bootstrap_servers),
        run.started_at_unix_ms,
        run.version,
        baseline.map_or(String::new(), |b| format!(
            " · baseline: {} started {}, dashed in the charts",
            escape(&b.scenario),
            b.started_at_unix_ms
        ))
    );
    out.push_str("<table><tr><th>figure</th><th>value</th></tr>");
    for f in headline::figures(run) {
        let _ = write!(
            out,
            "<tr><td>{} {}</td><td class=\"n\">{}</td></tr>",
            escape(f.name),
            escape(f.unit),
            headline::format_value(f.value)
        );
    }
    out.push_str("</table>");
}

fn delta_table(run: &Run, baseline: &Run) -> String {
    let mut out =
        String::from("<table class=\"delta\"><tr><th>figure</th><th>baseline</th><th>run</th><th>change</th></tr>");
    for (f, base, delta, better) in comparison(run, baseline) {
        let class = match better {
            Some(true) => " better",
            Some(false) => " worse",
            None => "",
        };
        let _ = write!(
            out,
            "<tr><td>{} {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n{class}\">{}</td></tr>",
            escape(f.name),
            escape(f.unit),
            headline::format_value(base),
            headline::format_value(f.value),
            headline::format_delta(delta)
        );
    }
    out.push_str("</table>");
    out
}

fn bottleneck(out: &mut String, b: &Bottleneck) {
    let _ = write!(
        out,
        "<p class=\"resource\">{}</p><p>{}</p><p><b>Change:</b> {}<br><b>Expected effect:</b> {}</p>",
        escape(&b.resource),
        escape(&b.summary),
        escape(&b.change),
        escape(&b.expected_effect)
    );
    if !b.ambiguous_with.is_empty() {
        let _ = write!(out, "<p>Ambiguous: also saturated about then: {}</p>", escape(&b.ambiguous_with.join(", ")));
    }
    if !b.evidence.is_empty() {
        out.push_str("<table><tr><th>evidence</th><th>value</th><th>threshold</th><th>unit</th><th>at (s)</th></tr>");
        for e in &b.evidence {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{:.1}</td></tr>",
                escape(&e.metric),
                e.value,
                e.threshold.map_or("context".to_string(), |t| format!("{t:.1}")),
                escape(&e.unit),
                e.at_ms as f64 / 1000.0
            );
        }
        out.push_str("</table>");
    }
    stages(out, "Where time went: produce", &b.produce_path);
    stages(out, "Where time went: fetch", &b.fetch_path);
}

fn stages(out: &mut String, title: &str, stages: &[Stage]) {
    if stages.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h3>{}</h3><table><tr><th>stage</th><th>mean ms</th><th>share</th><th>from</th></tr>",
        escape(title)
    );
    for s in stages {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\"><svg width=\"120\" height=\"10\"><rect width=\"{:.0}\" height=\"10\" fill=\"#1f77b4\"/></svg> {:.0} %</td><td class=\"muted\">{}</td></tr>",
            escape(&s.stage),
            s.mean_ms,
            s.share_percent.clamp(0.0, 100.0) * 1.2,
            s.share_percent,
            escape(&s.source)
        );
    }
    out.push_str("</table>");
}

/// Series of `run` (solid) and, with a baseline, the same series of it (dashed, "baseline " prefixed).
fn both(run: &Run, baseline: Option<&Run>, make: impl Fn(&Run) -> Vec<(String, Vec<(f64, f64)>)>) -> Vec<Series> {
    let mut out = Vec::new();
    for (dashed, r) in [(false, Some(run)), (true, baseline)] {
        let Some(r) = r else { continue };
        for (colour, (name, points)) in make(r).into_iter().enumerate() {
            let name = if dashed { format!("baseline {name}") } else { name };
            out.push(Series { name, points, dashed, colour });
        }
    }
    out
}

fn interval_series(run: &Run, pick: impl Fn(&crate::model::Interval) -> Option<f64>) -> Vec<(f64, f64)> {
    run.intervals.iter().filter_map(|i| Some(((i.start_ms + i.duration_ms) as f64 / 1000.0, pick(i)?))).collect()
}

fn throughput_chart(run: &Run, baseline: Option<&Run>) -> String {
    let rate = |n: u64, ms: u64| (ms > 0).then(|| n as f64 * 1000.0 / ms as f64);
    let series = both(run, baseline, |r| {
        vec![
            ("produced".into(), interval_series(r, |i| rate(i.produced_records, i.duration_ms))),
            ("consumed".into(), interval_series(r, |i| rate(i.consumed_records, i.duration_ms))),
            ("offered".into(), interval_series(r, |i| i.offered_records_per_sec)),
        ]
    });
    svg::line_chart("Throughput", "seconds", "records/s", &series)
}

fn latency_chart(run: &Run, baseline: Option<&Run>) -> String {
    let series = both(run, baseline, |r| {
        vec![
            ("ack p50".into(), interval_series(r, |i| i.produce_ack_p50_ms)),
            ("ack p99".into(), interval_series(r, |i| i.produce_ack_p99_ms)),
            ("e2e p50".into(), interval_series(r, |i| i.end_to_end_p50_ms)),
            ("e2e p99".into(), interval_series(r, |i| i.end_to_end_p99_ms)),
        ]
    });
    svg::line_chart("Latency percentiles", "seconds", "ms", &series)
}

fn histogram_chart(run: &Run, baseline: Option<&Run>) -> String {
    let name = if run.histograms.contains_key("produce_ack") { "produce_ack" } else { "end_to_end" };
    let Some(buckets) = run.histograms.get(name) else {
        return "<p class=\"muted\">No latency histogram recorded.</p>".into();
    };
    let categories: Vec<String> =
        buckets.iter().map(|b| format!("≤{}", headline::format_value(Some(b.le_ms)))).collect();
    let share = |r: &Run| -> Vec<(f64, f64)> {
        let Some(h) = r.histograms.get(name) else { return vec![] };
        let total = h.iter().map(|b| b.count).sum::<u64>().max(1) as f64;
        // Aligned on the run's buckets: the baseline's count at the same bound (0 when it has no such bucket).
        buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (i as f64, h.iter().find(|o| o.le_ms == b.le_ms).map_or(0.0, |o| o.count as f64 * 100.0 / total))
            })
            .collect()
    };
    let series = both(run, baseline, |r| vec![(format!("{name} share"), share(r))]);
    svg::bar_chart(&format!("{name} latency (ms bucket upper bound)"), &categories, "% of samples", &series)
}

fn resource_series(run: &Run, pick: impl Fn(&ResourceSample) -> Option<f64>) -> Vec<(f64, f64)> {
    run.resources.iter().filter_map(|s| Some((s.t_ms as f64 / 1000.0, pick(s)?))).collect()
}

fn cpu_chart(run: &Run, baseline: Option<&Run>) -> String {
    let of_host = |s: &ResourceSample, p: Option<f64>| Some(p? / s.host.as_ref().map(|h| h.cores.max(1) as f64)?);
    let series = both(run, baseline, |r| {
        vec![
            ("host busy".into(), resource_series(r, |s| Some(s.host.as_ref()?.cpu_busy_percent))),
            ("host iowait".into(), resource_series(r, |s| Some(s.host.as_ref()?.cpu_iowait_percent))),
            ("client".into(), resource_series(r, |s| of_host(s, s.client.as_ref().map(|c| c.cpu_percent)))),
            ("target".into(), resource_series(r, |s| of_host(s, s.target.as_ref().map(|c| c.cpu_percent)))),
            (
                "hottest client thread".into(),
                resource_series(r, |s| Some(s.client.as_ref()?.hottest_thread_cpu_percent)),
            ),
            (
                "client thread CPU + run-queue wait".into(),
                resource_series(r, |s| s.client.as_ref()?.busiest_thread_demand_percent),
            ),
            ("disk util".into(), resource_series(r, |s| Some(s.host.as_ref()?.disk_util_percent))),
        ]
    });
    svg::line_chart("CPU and disk (% of all cores; threads % of one core)", "seconds", "%", &series)
}

fn io_chart(run: &Run, baseline: Option<&Run>) -> String {
    let mb = |v: f64| v / 1e6;
    let series = both(run, baseline, |r| {
        vec![
            ("disk write".into(), resource_series(r, |s| Some(mb(s.host.as_ref()?.disk_write_bytes_per_sec)))),
            ("disk read".into(), resource_series(r, |s| Some(mb(s.host.as_ref()?.disk_read_bytes_per_sec)))),
            ("net rx".into(), resource_series(r, |s| Some(mb(s.host.as_ref()?.net_rx_bytes_per_sec)))),
            ("net tx".into(), resource_series(r, |s| Some(mb(s.host.as_ref()?.net_tx_bytes_per_sec)))),
        ]
    });
    svg::line_chart("Disk and network", "seconds", "MB/s", &series)
}

fn agent_chart(run: &Run, baseline: Option<&Run>) -> String {
    let m = |s: &ResourceSample| s.metrics.clone();
    let series = both(run, baseline, |r| {
        vec![
            ("produce mean".into(), resource_series(r, |s| m(s)?.produce_mean_ms)),
            ("PUT".into(), resource_series(r, |s| m(s)?.object_store.get("put")?.mean_ms)),
            ("upload wait".into(), resource_series(r, |s| m(s)?.flush_upload_wait_mean_ms)),
            ("commit".into(), resource_series(r, |s| m(s)?.flush_commit_mean_ms)),
            ("fetch mean".into(), resource_series(r, |s| m(s)?.fetch_mean_ms)),
        ]
    });
    if series.iter().all(|s| s.points.is_empty()) {
        return "<p class=\"muted\">No target metrics (no --metrics-url, or the endpoint exports none of Weft's).</p>"
            .into();
    }
    svg::line_chart("Target: request and flush stages", "seconds", "ms", &series)
}

fn steps(out: &mut String, run: &Run) {
    if run.steps.is_empty() {
        out.push_str("<p class=\"muted\">No ramp.</p>");
        return;
    }
    if let Some(rate) = run.sustainable_records_per_sec {
        let _ = write!(out, "<p>Sustainable rate: <b>{}</b> records/s</p>", headline::format_value(Some(rate)));
    }
    out.push_str("<table><tr><th>offered /s</th><th>achieved /s</th><th>latency ms</th><th>ack p50</th><th>ack p99</th><th>e2e p99</th><th>errors</th><th>met</th></tr>");
    for s in &run.steps {
        let f = |v: Option<f64>| headline::format_value(v);
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            f(Some(s.offered_records_per_sec)),
            f(Some(s.achieved_records_per_sec)),
            f(s.latency_ms),
            f(s.produce_ack_p50_ms),
            f(s.produce_ack_p99_ms),
            f(s.end_to_end_p99_ms),
            s.errors,
            if s.met { "yes" } else { "<b class=\"worse\">no</b>" }
        );
    }
    out.push_str("</table>");
}

fn settings(out: &mut String, run: &Run, baseline: Option<&Run>) {
    out.push_str("<table><tr><th>setting</th><th>value</th>");
    if baseline.is_some() {
        out.push_str("<th>baseline</th>");
    }
    out.push_str("</tr>");
    let mut keys: Vec<&String> = run.settings.keys().chain(baseline.iter().flat_map(|b| b.settings.keys())).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let v = |r: &Run| r.settings.get(k).map_or("-".to_string(), |v| escape(v));
        let _ = write!(out, "<tr><td>{}</td><td>{}</td>", escape(k), v(run));
        if let Some(b) = baseline {
            let _ = write!(out, "<td>{}</td>", v(b));
        }
        out.push_str("</tr>");
    }
    if let Some(o) = &run.objective {
        let _ = write!(
            out,
            "<tr><td>objective</td><td>{} p{} ≤ {} ms</td></tr>",
            escape(&o.latency),
            o.percentile,
            o.max_ms
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests;
