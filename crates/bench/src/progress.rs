//! Progress bars on stderr (hidden for `--json` or a non-terminal stderr).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const TEMPLATE: &str = "{prefix:>8} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} \
                        ({per_sec:0}, eta {eta}) {msg}";

/// Whether progress output should be drawn at all.
pub(crate) fn enabled(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

/// A progress bar counting records of one phase.
pub(crate) fn records_bar(enabled: bool, phase: &'static str, total: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(phase);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Prints a status line to stderr when progress output is enabled.
pub(crate) fn note(enabled: bool, message: &str) {
    if enabled {
        eprintln!("{message}");
    }
}
