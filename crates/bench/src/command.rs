//! The `weft bench` command line: the phase benchmark (`--mode`), a scenario run (`--scenario`), and the
//! `scenarios` and `compare` subcommands.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::args::BenchArgs;
use crate::runner::{self, RunOptions};
use crate::scenario::{self, Overrides};

/// `weft bench`: benchmark with phases (`--mode`) or a scenario (`--scenario`); list scenarios; compare runs.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchCommand {
    #[command(subcommand)]
    pub action: Option<BenchAction>,
    #[command(flatten)]
    pub args: BenchArgs,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchAction {
    /// List the scenarios shipped in the binary, with their descriptions.
    Scenarios,
    /// Compare two saved runs: prints a table of the headline figures and writes a side-by-side page.
    Compare {
        /// The baseline run's report.json.
        baseline: PathBuf,
        /// The run to compare with it (its report.json).
        run: PathBuf,
        /// Where to write the side-by-side HTML page.
        #[arg(long, default_value = "weft-bench-compare.html")]
        html: PathBuf,
    },
}

/// Runs `weft bench` as the command line asked.
pub async fn run_command(command: BenchCommand) -> Result<()> {
    match command.action {
        Some(BenchAction::Scenarios) => {
            print!("{}", scenario_list());
            Ok(())
        }
        Some(BenchAction::Compare { baseline, run, html }) => {
            print!("{}", runner::compare(&baseline, &run, &html)?);
            println!("side-by-side page: {}", html.display());
            Ok(())
        }
        None if command.args.scenario.is_some() => run_scenario_command(command.args).await,
        None => crate::run(command.args).await,
    }
}

/// The shipped scenarios, one a line: name and description.
pub fn scenario_list() -> String {
    let mut out = String::new();
    for parsed in scenario::shipped() {
        match parsed {
            Ok(s) => out.push_str(&format!("{:<18} {}\n", s.name, s.description)),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    }
    out
}

/// Loads, runs and reports a scenario; fails (after writing the report, partial when a client failed) when a
/// client failed or the run had problems.
pub async fn run_scenario_command(args: BenchArgs) -> Result<()> {
    args.check_command_config()?;
    let Some(name) = args.scenario.as_deref() else { bail!("no --scenario given") };
    let overrides =
        Overrides { duration_secs: args.duration_secs, warmup_secs: args.warmup_secs, step_secs: args.step_secs };
    let scenario = scenario::load(name)?.with_overrides(overrides)?;
    let opts = RunOptions {
        metrics_url: args.metrics_url.clone(),
        target_pid: args.target_pid,
        keep_topics: args.keep_topics,
        live: crate::progress::enabled(args.json),
    };
    let outcome = runner::run_scenario(&scenario, &args, &opts).await?;
    let dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| runner::default_report_dir(&scenario.name, outcome.run.started_at_unix_ms));
    runner::write_report(&dir, &outcome.run)?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome.run).context("serialising the report")?);
    } else {
        print!("{}", runner::summary_table(&outcome, &dir));
    }
    if let Some(failure) = &outcome.failure {
        bail!("{failure} (partial report in {})", dir.display());
    }
    fail_on_problems(&outcome.problems, &dir)
}

fn fail_on_problems(problems: &[String], dir: &Path) -> Result<()> {
    match problems {
        [] => Ok(()),
        [first, rest @ ..] => {
            bail!(
                "{first}{} (report in {})",
                if rest.is_empty() { String::new() } else { format!(" and {} more", rest.len()) },
                dir.display()
            )
        }
    }
}
