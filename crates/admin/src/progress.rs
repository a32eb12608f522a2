//! Progress on stderr for long operations, drawn only when stderr is a terminal (never into pipes or logs).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A bar towards `total`, or a counter when the total is unknown; hidden unless stderr is a terminal.
pub fn bar(total: Option<u64>, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(n) => (ProgressBar::new(n), "{bar:30} {pos}/{len} {msg} ({per_sec}, {elapsed})"),
        None => (ProgressBar::new_spinner(), "{spinner} {pos} {msg} ({per_sec}, {elapsed})"),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
