//! The self-contained HTML report. PLACEHOLDER API (the report helper replaces the body).

use crate::model::Run;

/// Renders `run` as one HTML page, beside `baseline` when given (a comparison of two runs).
pub fn render(run: &Run, baseline: Option<&Run>) -> String {
    let _ = (run, baseline);
    String::from("<!doctype html><title>weft bench</title>")
}

/// A terminal table comparing two runs' headline figures.
pub fn compare_table(run: &Run, baseline: &Run) -> String {
    let _ = (run, baseline);
    String::new()
}
