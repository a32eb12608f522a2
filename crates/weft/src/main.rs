//! The `weft` command: wires the crates together; no logic of its own beyond argument handling.

mod agent_args;
mod logging;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "weft", version, about = "Kafka-compatible streaming on object storage")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an agent: a Kafka listener backed by an object store and a metastore.
    Agent(agent_args::AgentArgs),
    /// Benchmark a Kafka-compatible cluster with a real client (librdkafka).
    Bench(weft_bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Agent(args) => agent_args::run(args).await,
            Command::Bench(args) => weft_bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
