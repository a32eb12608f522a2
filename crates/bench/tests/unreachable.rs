//! Running against a closed port must fail fast with an error naming the
//! bootstrap servers. (No timing assertions: the bound comes from
//! `--timeout-secs`, and a generous outer timeout only guards against hangs.)

use std::time::Duration;

use clap::Parser;
use weft_bench::BenchArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn args(extra: &[&str]) -> BenchArgs {
    let mut argv = vec!["weft-bench", "--bootstrap-servers", "127.0.0.1:1", "--timeout-secs", "1", "--json"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("valid arguments").bench
}

async fn expect_unreachable(args: BenchArgs) {
    let result = tokio::time::timeout(Duration::from_secs(60), weft_bench::run(args))
        .await
        .expect("run() must give up on an unreachable broker instead of hanging");
    let err = result.expect_err("run() must fail against a closed port");
    let message = format!("{err:#}");
    assert!(message.contains("127.0.0.1:1"), "error should name the bootstrap servers: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_fails_with_clear_error() {
    expect_unreachable(args(&[])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_fails_in_consume_mode() {
    expect_unreachable(args(&["--mode", "consume"])).await;
}
