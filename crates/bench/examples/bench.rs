//! Stand-alone runner for the benchmark, equivalent to `weft bench`:
//! `cargo run -p weft-bench --release --example bench -- --help`

use clap::Parser;
use weft_bench::BenchArgs;

#[derive(Parser)]
#[command(name = "weft-bench", about = "Benchmark a Kafka-protocol broker")]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    weft_bench::run(Cli::parse().bench).await
}
