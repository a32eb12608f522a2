//! `weft cluster info`: cluster id, controller, brokers, topic and partition counts.

use crate::common::{ConnArgs, print_line, table};
use crate::wire::{Wire, error_text};
use anyhow::{Result, bail};
use kafka_protocol::messages::DescribeClusterRequest;
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ClusterCommand {
    /// Show the cluster id, controller, brokers and how many topics and partitions there are
    Info,
}

#[derive(Serialize)]
struct Broker {
    id: i32,
    host: String,
    port: i32,
    rack: Option<String>,
}

#[derive(Serialize)]
struct Info {
    cluster_id: Option<String>,
    controller_id: Option<i32>,
    brokers: Vec<Broker>,
    topics: usize,
    partitions: usize,
}

pub async fn run_cluster(args: ClusterArgs) -> Result<()> {
    match args.command {
        ClusterCommand::Info => info(&args.conn).await,
    }
}

async fn info(conn: &ConnArgs) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    let md = w.metadata(None).await?;
    let topics: Vec<_> = md.topics.iter().filter(|t| t.error_code == 0).collect();
    let partitions = topics.iter().map(|t| t.partitions.len()).sum();
    let mut info = if w.supports::<DescribeClusterRequest>() {
        let (d, _) = w.call(1, &DescribeClusterRequest::default()).await?;
        if let Some(e) = error_text(d.error_code, d.error_message.as_ref()) {
            bail!("the cluster refused DescribeCluster: {e}");
        }
        let brokers = d.brokers.iter().map(|b| Broker {
            id: b.broker_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        });
        Info {
            cluster_id: Some(d.cluster_id.to_string()),
            controller_id: Some(d.controller_id.0).filter(|c| *c >= 0),
            brokers: brokers.collect(),
            topics: topics.len(),
            partitions,
        }
    } else {
        let brokers = md.brokers.iter().map(|b| Broker {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        });
        Info {
            cluster_id: md.cluster_id.as_ref().map(|c| c.to_string()),
            controller_id: Some(md.controller_id.0).filter(|c| *c >= 0),
            brokers: brokers.collect(),
            topics: topics.len(),
            partitions,
        }
    };
    info.brokers.sort_by_key(|b| b.id);
    if conn.json {
        return print_line(&serde_json::to_string(&info)?);
    }
    let dash = || "-".to_string();
    let brokers = table(
        &["ID", "HOST", "PORT", "RACK", "CONTROLLER"],
        info.brokers.iter().map(|b| {
            let controller = if info.controller_id == Some(b.id) { "yes" } else { "" };
            vec![
                b.id.to_string(),
                b.host.clone(),
                b.port.to_string(),
                b.rack.clone().unwrap_or_else(dash),
                controller.into(),
            ]
        }),
    );
    print_line(&format!(
        "cluster id   {}\ncontroller   {}\ntopics       {}\npartitions   {}\n{brokers}",
        info.cluster_id.clone().unwrap_or_else(dash),
        info.controller_id.map_or_else(dash, |c| c.to_string()),
        info.topics,
        info.partitions,
    ))
}
