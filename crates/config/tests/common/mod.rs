//! Parsing `weft agent` arguments as the binary does, with chosen `WEFT_*` variables and TOML file.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use clap::{Args, Command, FromArgMatches};
use std::sync::Mutex;
use weft_config::{AgentArgs, AgentConfig, options};

/// clap reads variables when it builds the arguments, so tests that set them must not overlap.
static ENV: Mutex<()> = Mutex::new(());

pub fn command() -> Command {
    AgentArgs::augment_args(Command::new("agent").no_binary_name(true))
}

/// Every variable an option (or `--config`) reads.
fn all_vars() -> Vec<String> {
    let mut vars: Vec<String> = options().iter().map(|o| o.env()).collect();
    vars.push("WEFT_CONFIG".into());
    vars
}

/// Runs `f` with exactly the variables `env` set among the options' variables.
pub fn with_env<T>(env: &[(String, String)], f: impl FnOnce() -> T) -> T {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the lock above serialises every test of this binary that reads or writes the environment.
    unsafe {
        for var in all_vars() {
            std::env::remove_var(var);
        }
        for (k, v) in env {
            std::env::set_var(k, v);
        }
    }
    let out = f();
    // SAFETY: as above.
    unsafe {
        for (k, _) in env {
            std::env::remove_var(k);
        }
    }
    out
}

/// `weft agent ARGS` with `env`, resolved to a configuration (or the error message, causes included).
pub fn resolve(args: &[String], env: &[(String, String)]) -> Result<AgentConfig, String> {
    with_env(env, || {
        let m = command().try_get_matches_from(args).map_err(|e| e.to_string())?;
        let parsed = AgentArgs::from_arg_matches(&m).map_err(|e| e.to_string())?;
        parsed.into_config().map_err(|e| chain(&e))
    })
}

/// An error with its causes, as `weft` prints it (`{:#}` of anyhow).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
