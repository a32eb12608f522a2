//! Logging setup: `WEFT_LOG` sets levels (tracing env-filter syntax, default `info`), `WEFT_LOG_FORMAT=json`
//! switches to JSON lines. Logs go to stderr; colour only on a terminal and when `NO_COLOR` is unset.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// `default` is the filter used when `WEFT_LOG` is not set.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("WEFT_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    if let Err(e) = result {
        eprintln!("warning: logging already initialised: {e}");
    }
}
