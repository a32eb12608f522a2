//! `weft quota set | list | remove`: client quotas through AlterClientQuotas and DescribeClientQuotas, with
//! the entity options of Kafka's `kafka-configs.sh` (`--user`, `--client`, `--user-defaults`,
//! `--client-defaults`) and its `--add-config k=v,...` / `--delete-config k,...`. Works against Kafka too.

use crate::common::{ConnArgs, emit, table};
use crate::wire::{Wire, error_text, str_bytes};
use anyhow::{Result, bail};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: QuotaCommand,
}

/// The quota entity: a user, a client id, or both; each a name or the defaults.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EntityArgs {
    /// The user (the principal's name without "User:"; ANONYMOUS on a plaintext listener)
    #[arg(long, conflicts_with = "user_defaults")]
    pub user: Option<String>,
    /// Every user without a quota of their own
    #[arg(long)]
    pub user_defaults: bool,
    /// The client id
    #[arg(long, conflicts_with = "client_defaults")]
    pub client: Option<String>,
    /// Every client id without a quota of its own
    #[arg(long)]
    pub client_defaults: bool,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum QuotaCommand {
    /// Set quotas of an entity: producer_byte_rate, consumer_byte_rate (bytes/s), request_percentage
    Set {
        #[command(flatten)]
        entity: EntityArgs,
        /// Quotas to set, as key=value[,key=value...]
        #[arg(long, value_name = "KEY=VALUE,...", required = true)]
        add_config: Vec<String>,
        /// Check only; change nothing
        #[arg(long)]
        validate_only: bool,
    },
    /// Remove quotas of an entity
    Remove {
        #[command(flatten)]
        entity: EntityArgs,
        /// Quota keys to remove, as key[,key...]
        #[arg(long, value_name = "KEY,...", required = true)]
        delete_config: Vec<String>,
    },
    /// List quotas: all, or those of the entities matching the options given
    List {
        #[command(flatten)]
        entity: EntityArgs,
    },
}

pub async fn run_quota(args: QuotaArgs) -> Result<()> {
    let conn = &args.conn;
    let mut w = Wire::connect(conn).await?;
    match &args.command {
        QuotaCommand::Set { entity, add_config, validate_only } => {
            let ops = parse_sets(add_config)?;
            alter(&mut w, entity, ops, *validate_only).await
        }
        QuotaCommand::Remove { entity, delete_config } => {
            let ops = split(delete_config).map(|k| OpData::default().with_key(str_bytes(k)).with_remove(true));
            alter(&mut w, entity, ops.collect(), false).await
        }
        QuotaCommand::List { entity } => list(&mut w, conn, entity).await,
    }
}

fn split(items: &[String]) -> impl Iterator<Item = &str> {
    items.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty())
}

fn parse_sets(items: &[String]) -> Result<Vec<OpData>> {
    split(items)
        .map(|kv| {
            let Some((k, v)) = kv.split_once('=') else { bail!("expected key=value, got {kv:?}") };
            let value: f64 = v.trim().parse().map_err(|_| anyhow::anyhow!("{k}: {v:?} is not a number"))?;
            Ok(OpData::default().with_key(str_bytes(k.trim())).with_value(value))
        })
        .collect()
}

fn entity_parts(e: &EntityArgs) -> Result<Vec<EntityData>> {
    let mut parts = Vec::new();
    let part = |t: &str, name: Option<&str>| {
        EntityData::default().with_entity_type(str_bytes(t)).with_entity_name(name.map(str_bytes))
    };
    if e.user.is_some() || e.user_defaults {
        parts.push(part("user", e.user.as_deref()));
    }
    if e.client.is_some() || e.client_defaults {
        parts.push(part("client-id", e.client.as_deref()));
    }
    if parts.is_empty() {
        bail!(
            "name an entity: --user NAME, --user-defaults, --client ID or --client-defaults (or a user and a client)"
        );
    }
    Ok(parts)
}

async fn alter(w: &mut Wire, entity: &EntityArgs, ops: Vec<OpData>, validate_only: bool) -> Result<()> {
    let entry = EntryData::default().with_entity(entity_parts(entity)?).with_ops(ops);
    let req = AlterClientQuotasRequest::default().with_entries(vec![entry]).with_validate_only(validate_only);
    let (resp, _) = w.call(1, &req).await?;
    for e in &resp.entries {
        if let Some(text) = error_text(e.error_code, e.error_message.as_ref()) {
            bail!("quotas not changed: {text}");
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Row {
    user: Option<String>,
    client_id: Option<String>,
    key: String,
    value: f64,
}

/// A part as kafka-configs shows it: the name, or `<default>`.
fn shown(part: &Option<String>, present: bool) -> String {
    match (present, part) {
        (false, _) => String::new(),
        (true, Some(n)) => n.clone(),
        (true, None) => "<default>".into(),
    }
}

async fn list(w: &mut Wire, conn: &ConnArgs, e: &EntityArgs) -> Result<()> {
    let mut components = Vec::new();
    for (t, name, default) in [("user", &e.user, e.user_defaults), ("client-id", &e.client, e.client_defaults)] {
        let c = ComponentData::default().with_entity_type(str_bytes(t));
        match (name, default) {
            (Some(n), _) => components.push(c.with_match_type(0).with_match(Some(str_bytes(n)))),
            (None, true) => components.push(c.with_match_type(1)),
            (None, false) => {}
        }
    }
    let (resp, _) = w.call(1, &DescribeClientQuotasRequest::default().with_components(components)).await?;
    if let Some(text) = error_text(resp.error_code, resp.error_message.as_ref()) {
        bail!("cannot list quotas: {text}");
    }
    let mut rows = Vec::new();
    for entry in resp.entries.unwrap_or_default() {
        let find = |t: &str| entry.entity.iter().find(|p| p.entity_type.as_str() == t);
        let user = find("user").map(|p| p.entity_name.as_ref().map(|n| n.to_string()));
        let client = find("client-id").map(|p| p.entity_name.as_ref().map(|n| n.to_string()));
        for v in &entry.values {
            rows.push((user.clone(), client.clone(), v.key.to_string(), v.value));
        }
    }
    let json: Vec<Row> = rows
        .iter()
        .map(|(u, c, k, v)| Row {
            user: u.as_ref().map(|u| shown(u, true)),
            client_id: c.as_ref().map(|c| shown(c, true)),
            key: k.clone(),
            value: *v,
        })
        .collect();
    emit(conn.json, &json, || {
        table(
            &["USER", "CLIENT-ID", "QUOTA", "VALUE"],
            rows.iter().map(|(u, c, k, v)| {
                vec![
                    shown(u.as_ref().unwrap_or(&None), u.is_some()),
                    shown(c.as_ref().unwrap_or(&None), c.is_some()),
                    k.clone(),
                    v.to_string(),
                ]
            }),
        )
    })
}
