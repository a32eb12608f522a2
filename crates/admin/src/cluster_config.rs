//! `weft config get | set`: broker configs, the cluster-wide dynamic defaults every broker applies (Kafka's
//! broker resource with an empty name), and with `--group` a group's configs (KIP-848 / KIP-932 group
//! configs, Kafka's `kafka-configs --entity-type groups`).

use crate::common::{ConnArgs, emit, parse_kv, print_line};
use crate::configs::{self, Change, ConfigRow, RESOURCE_BROKER, RESOURCE_GROUP, Resource};
use crate::wire::Wire;
use anyhow::{Result, bail};

#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ConfigCommand {
    /// Show broker configs (one, or all) with their value and source
    Get {
        key: Option<String>,
        /// The broker whose configs to show; "" for only the cluster-wide dynamic defaults
        /// (default: the lowest broker id)
        #[arg(long, conflicts_with = "group")]
        broker: Option<String>,
        /// Show this group's configs instead (its own values and the defaults)
        #[arg(long)]
        group: Option<String>,
    },
    /// Set cluster-wide dynamic broker defaults, or delete them (back to each broker's own setting); with
    /// --group, a group's configs
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["set", "delete"])))]
    Set {
        /// Configs to set
        #[arg(value_name = "KEY=VALUE", value_parser = parse_kv)]
        set: Vec<(String, String)>,
        /// A config to delete (repeatable)
        #[arg(long, value_name = "KEY")]
        delete: Vec<String>,
        /// Change this group's configs instead (deleting one returns it to the broker's default)
        #[arg(long)]
        group: Option<String>,
    },
}

pub async fn run_config(args: ConfigArgs) -> Result<()> {
    let conn = &args.conn;
    match &args.command {
        ConfigCommand::Get { key, group: Some(group), .. } => get_group(conn, key.as_deref(), group).await,
        ConfigCommand::Get { key, broker, group: None } => get(conn, key.as_deref(), broker.as_deref()).await,
        ConfigCommand::Set { set, delete, group: Some(group) } => {
            set_group(conn, group, &Change::new(set, delete)?).await
        }
        ConfigCommand::Set { set, delete, group: None } => set_defaults(conn, &Change::new(set, delete)?).await,
    }
}

async fn get(conn: &ConnArgs, key: Option<&str>, broker: Option<&str>) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    let md = w.metadata(Some(&[])).await?;
    let name = match broker {
        Some("") => String::new(),
        Some(id) => match id.parse::<i32>() {
            Ok(n) if md.brokers.iter().any(|b| b.node_id.0 == n) => id.to_string(),
            _ => bail!("broker {id} is not in the cluster (brokers: {})", broker_ids(&md)),
        },
        None => match md.brokers.iter().map(|b| b.node_id.0).min() {
            Some(n) => n.to_string(),
            None => bail!("the cluster at {} listed no brokers", conn.bootstrap_servers),
        },
    };
    // A broker's own configs are answered by that broker.
    if let Ok(id) = name.parse::<i32>() {
        w = w.into_node(id, &md).await?;
    }
    let mut rows = configs::describe(&mut w, Resource { kind: RESOURCE_BROKER, name: &name }).await?;
    if let Some(k) = key {
        rows.retain(|r| r.name == k);
        if rows.is_empty() {
            let whose =
                if name.is_empty() { "the cluster-wide defaults".to_string() } else { format!("broker {name}") };
            bail!("{whose} has no config {k}");
        }
    }
    let value: Vec<&ConfigRow> = rows.iter().collect();
    emit(conn.json, &value, || configs::config_table(&rows))
}

async fn get_group(conn: &ConnArgs, key: Option<&str>, group: &str) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    let mut rows = configs::describe(&mut w, Resource { kind: RESOURCE_GROUP, name: group }).await?;
    if let Some(k) = key {
        rows.retain(|r| r.name == k);
        if rows.is_empty() {
            bail!("group configs have no config {k}");
        }
    }
    let value: Vec<&ConfigRow> = rows.iter().collect();
    emit(conn.json, &value, || configs::config_table(&rows))
}

async fn set_group(conn: &ConnArgs, group: &str, change: &Change) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    configs::alter(&mut w, Resource { kind: RESOURCE_GROUP, name: group }, change).await?;
    if conn.json {
        let line = serde_json::json!({"group": group, "set": change.set, "deleted": change.delete});
        return print_line(&line.to_string());
    }
    let mut parts: Vec<String> = change.set.iter().map(|(k, v)| format!("set {k}={v}")).collect();
    parts.extend(change.delete.iter().map(|k| format!("deleted {k}")));
    print_line(&format!("group {group}: {}", parts.join(", ")))
}

fn broker_ids(md: &kafka_protocol::messages::MetadataResponse) -> String {
    md.brokers.iter().map(|b| b.node_id.0.to_string()).collect::<Vec<_>>().join(", ")
}

async fn set_defaults(conn: &ConnArgs, change: &Change) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    configs::alter(&mut w, Resource { kind: RESOURCE_BROKER, name: "" }, change).await?;
    if conn.json {
        return print_line(&serde_json::json!({"set": change.set, "deleted": change.delete}).to_string());
    }
    let mut parts: Vec<String> = change.set.iter().map(|(k, v)| format!("set {k}={v}")).collect();
    parts.extend(change.delete.iter().map(|k| format!("deleted {k}")));
    print_line(&format!("cluster-wide broker defaults: {}", parts.join(", ")))
}
