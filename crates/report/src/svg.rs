//! Inline SVG charts for the HTML report, rendered on the server side so the page needs no script and no
//! network to show them: line charts of series over time and grouped bar charts (the latency histogram).
//! Every label is escaped. Each series carries `data-series` so the page's script can toggle it.

use std::fmt::Write;

/// Chart size in SVG units (the page scales it to its width).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
/// Height of one row of the legend under the plot.
const LEGEND_ROW: f64 = 16.0;
/// Replaced by the view box once the legend's height is known.
const VIEWBOX_MARK: &str = "@viewbox@";
const BOTTOM: f64 = 40.0;
/// Colours for series in order (a baseline series takes its run series' colour, dashed).
const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// One line of a chart: `(x, y)` points in data units.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (a baseline run's series).
    pub dashed: bool,
    /// Index into the palette.
    pub colour: usize,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A line chart; an empty one says there was nothing to plot.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let points = series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x_max, mut y_max) = (0.0f64, 0.0f64);
    for &(x, y) in points {
        (x_max, y_max) = (x_max.max(x), y_max.max(y));
    }
    let y_max = nice(y_max);
    let mut out = open(title);
    axes(&mut out, x_label, y_label, x_max, y_max);
    for s in series {
        let d: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x, x_max), py(y, y_max)))
            .collect();
        if d.is_empty() {
            continue;
        }
        let dash = if s.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        let _ = write!(
            out,
            "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{dash} points=\"{}\"><title>{}</title></polyline>",
            escape(&s.name),
            PALETTE[s.colour % PALETTE.len()],
            d.join(" "),
            escape(&s.name)
        );
    }
    close(out, series)
}

/// A grouped bar chart: one group per category, one bar per series (values by category index).
pub fn bar_chart(title: &str, categories: &[String], y_label: &str, series: &[Series]) -> String {
    let y_max = nice(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max));
    let mut out = open(title);
    axes(&mut out, "", y_label, 0.0, y_max);
    let group = (WIDTH - LEFT - RIGHT) / categories.len().max(1) as f64;
    let bar = group * 0.8 / series.len().max(1) as f64;
    for (i, category) in categories.iter().enumerate() {
        let x = LEFT + group * i as f64;
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + group / 2.0,
            HEIGHT - BOTTOM + 14.0,
            escape(category)
        );
        for (j, s) in series.iter().enumerate() {
            let Some(&(_, v)) = s.points.get(i) else { continue };
            let top = py(v, y_max);
            let _ = write!(
                out,
                "<rect class=\"series\" data-series=\"{}\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"{}><title>{}: {} {}</title></rect>",
                escape(&s.name),
                x + group * 0.1 + bar * j as f64,
                bar.max(1.0),
                (HEIGHT - BOTTOM - top).max(0.0),
                PALETTE[s.colour % PALETTE.len()],
                if s.dashed { " fill-opacity=\"0.45\"" } else { "" },
                escape(&s.name),
                escape(category),
                v
            );
        }
    }
    close(out, series)
}

fn open(title: &str) -> String {
    let t = escape(title);
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"{VIEWBOX_MARK}\" xmlns=\"http://www.w3.org/2000/svg\"><text class=\"title\" x=\"{LEFT}\" y=\"16\">{t}</text>"
    )
}

fn axes(out: &mut String, x_label: &str, y_label: &str, x_max: f64, y_max: f64) {
    let (x0, y0, x1, y1) = (LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, TOP);
    let _ = write!(out, "<path class=\"axis\" d=\"M{x0},{y1} L{x0},{y0} L{x1},{y0}\" fill=\"none\" stroke=\"#888\"/>");
    for k in 0..=4 {
        let v = y_max * k as f64 / 4.0;
        let y = py(v, y_max);
        let _ = write!(
            out,
            "<path d=\"M{x0},{y:.1} L{x1},{y:.1}\" stroke=\"#eee\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 4.0,
            y + 4.0,
            short(v)
        );
        if x_max > 0.0 {
            let xv = x_max * k as f64 / 4.0;
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                px(xv, x_max),
                y0 + 14.0,
                short(xv)
            );
        }
    }
    let _ = write!(
        out,
        "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text class=\"label\" x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        HEIGHT - 6.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

/// The legend, in rows under the plot (as many as the names need); returns the chart's full height.
fn legend(out: &mut String, series: &[Series]) -> f64 {
    let (mut x, mut y) = (LEFT, HEIGHT + 4.0);
    for s in series {
        let name = escape(&s.name);
        let width = 24.0 + 6.5 * s.name.chars().count() as f64;
        if x + width > WIDTH && x > LEFT {
            (x, y) = (LEFT, y + LEGEND_ROW);
        }
        let dash = if s.dashed { " stroke-dasharray=\"4 3\"" } else { "" };
        let _ = write!(
            out,
            "<g class=\"legend\" data-series=\"{name}\"><path d=\"M{x:.1},{:.1} L{:.1},{:.1}\" stroke=\"{}\" stroke-width=\"3\"{dash}/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{name}</text></g>",
            y + 6.0,
            x + 14.0,
            y + 6.0,
            PALETTE[s.colour % PALETTE.len()],
            x + 18.0,
            y + 10.0
        );
        x += width;
    }
    y + LEGEND_ROW
}

/// Closes a chart whose content is in `out`, sizing its view box to the legend's rows.
fn close(out: String, series: &[Series]) -> String {
    let mut out = out;
    let height = legend(&mut out, series);
    out.push_str("</svg>");
    out.replacen(VIEWBOX_MARK, &format!("0 0 {WIDTH} {height:.0}"), 1)
}

fn px(x: f64, x_max: f64) -> f64 {
    LEFT + if x_max > 0.0 { x / x_max } else { 0.0 } * (WIDTH - LEFT - RIGHT)
}

fn py(y: f64, y_max: f64) -> f64 {
    HEIGHT - BOTTOM - if y_max > 0.0 { y.max(0.0) / y_max } else { 0.0 } * (HEIGHT - TOP - BOTTOM)
}

/// The next round number at or above `v` (1, 2 or 5 times a power of ten), so ticks are readable.
fn nice(v: f64) -> f64 {
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|n| *n >= v).unwrap_or(10.0 * magnitude)
}

fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 1e9 => format!("{:.1}G", v / 1e9),
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.0}k", v / 1e3),
        _ => {
            let text = format!("{v:.2}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn charts_hold_one_element_per_series_and_escape_names() {
        let s =
            |name: &str, dashed| Series { name: name.into(), points: vec![(0.0, 1.0), (1.0, 3.0)], dashed, colour: 0 };
        let svg = line_chart("t<", "s", "ms", &[s("a<b", false), s("base", true)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("data-series=\"a&lt;b\"") && !svg.contains("a<b"));
        assert!(svg.contains("stroke-dasharray"));
        let bars = bar_chart("h", &["1".into(), "5".into()], "count", &[s("run", false)]);
        assert_eq!(bars.matches("<rect").count(), 2);
        assert!(line_chart("empty", "", "", &[]).ends_with("</svg>"));
    }

    #[test]
    fn nice_bounds() {
        assert_eq!((nice(0.0), nice(7.0), nice(120.0), nice(f64::NAN)), (1.0, 10.0, 200.0, 1.0));
    }
}
