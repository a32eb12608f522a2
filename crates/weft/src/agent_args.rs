//! `weft agent`: runs an agent configured by flags, `WEFT_*` environment variables and a TOML file (merged in
//! that order of precedence over the defaults; all declared in the `weft-config` crate) until a signal.

use anyhow::{Context, Result};
pub use weft_config::AgentArgs;

pub async fn run(args: AgentArgs) -> Result<()> {
    let config = args.into_config()?;
    let agent = weft_agent::start(config).await?;
    wait_for_signal().await?;
    tracing::info!("signal received, shutting down");
    agent.shutdown();
    agent.wait().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
