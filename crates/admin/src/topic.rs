//! `weft topic create | list | describe | alter-config | add-partitions | delete`.

use crate::common::{ConnArgs, emit, parse_kv, print_line, table};
use crate::configs::{self, Change, RESOURCE_TOPIC, Resource};
use crate::topic_describe;
use crate::wire::{Wire, error_text, str_bytes, topic_id};
use anyhow::{Result, bail};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName};
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct TopicArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum TopicCommand {
    /// Create a topic
    Create(CreateArgs),
    /// List topics with their partition count, replication factor and whether they are internal
    List,
    /// Show a topic's id, partitions (leader, log start and end offsets, record count) and configs
    Describe {
        topic: String,
        /// Show every config, not only those that differ from the default
        #[arg(long)]
        all: bool,
    },
    /// Set topic configs or return them to their default
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["set", "delete"])))]
    AlterConfig {
        topic: String,
        /// A config to set (repeatable)
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_kv)]
        set: Vec<(String, String)>,
        /// A config to return to its default (repeatable)
        #[arg(long, value_name = "KEY")]
        delete: Vec<String>,
    },
    /// Grow a topic to a total number of partitions
    AddPartitions {
        topic: String,
        /// The new total partition count
        #[arg(long)]
        total: i32,
    },
    /// Delete topics and all their records
    Delete {
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    pub topic: String,
    /// Partition count (default: the cluster's num.partitions)
    #[arg(long, short = 'p')]
    pub partitions: Option<i32>,
    /// Replication factor (default: the cluster's default.replication.factor)
    #[arg(long, short = 'r')]
    pub replication_factor: Option<i16>,
    /// A topic config (repeatable)
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub configs: Vec<(String, String)>,
    /// Only ask the cluster whether the topic could be created
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run_topic(args: TopicArgs) -> Result<()> {
    let conn = &args.conn;
    match &args.command {
        TopicCommand::Create(c) => create(conn, c).await,
        TopicCommand::List => list(conn).await,
        TopicCommand::Describe { topic, all } => topic_describe::describe(conn, topic, *all).await,
        TopicCommand::AlterConfig { topic, set, delete } => alter_config(conn, topic, &Change::new(set, delete)?).await,
        TopicCommand::AddPartitions { topic, total } => add_partitions(conn, topic, *total).await,
        TopicCommand::Delete { topics } => delete(conn, topics).await,
    }
}

fn request_timeout_ms(conn: &ConnArgs) -> i32 {
    i32::try_from(conn.timeout_secs.saturating_mul(1000)).unwrap_or(i32::MAX)
}

async fn create(conn: &ConnArgs, a: &CreateArgs) -> Result<()> {
    let mut w = Wire::connect(conn).await?.into_controller().await?;
    let configs = a
        .configs
        .iter()
        .map(|(k, v)| CreatableTopicConfig::default().with_name(str_bytes(k)).with_value(Some(str_bytes(v))))
        .collect();
    let topic = CreatableTopic::default()
        .with_name(TopicName(str_bytes(&a.topic)))
        .with_num_partitions(a.partitions.unwrap_or(-1))
        .with_replication_factor(a.replication_factor.unwrap_or(-1))
        .with_configs(configs);
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(request_timeout_ms(conn))
        .with_validate_only(a.dry_run);
    let version = w.version::<CreateTopicsRequest>(7)?;
    if version < 4 && (a.partitions.is_none() || a.replication_factor.is_none()) {
        bail!("this cluster needs both --partitions and --replication-factor (CreateTopics v{version})");
    }
    let (resp, _) = w.call(version, &req).await?;
    let Some(r) = resp.topics.into_iter().next() else { bail!("the cluster answered for no topic") };
    if let Some(e) = error_text(r.error_code, r.error_message.as_ref()) {
        bail!("cannot create topic {}: {e}", a.topic);
    }
    // v5+ reports what the cluster chose; before that, what was asked for.
    let known = |n: i32| (version >= 5 && n >= 0).then_some(n);
    let partitions = known(r.num_partitions).or(a.partitions);
    let replication = known(r.replication_factor.into()).or(a.replication_factor.map(i32::from));
    #[derive(Serialize)]
    struct Created<'a> {
        topic: &'a str,
        topic_id: Option<String>,
        partitions: Option<i32>,
        replication_factor: Option<i32>,
        dry_run: bool,
    }
    let out = Created {
        topic: &a.topic,
        topic_id: topic_id(&r.topic_id),
        partitions,
        replication_factor: replication,
        dry_run: a.dry_run,
    };
    if conn.json {
        return print_line(&serde_json::to_string(&out)?);
    }
    let n = |v: Option<i32>| v.map_or_else(|| "default".to_string(), |v| v.to_string());
    let verb = if a.dry_run { "would create" } else { "created" };
    print_line(&format!(
        "{verb} topic {} ({} partitions, replication factor {})",
        a.topic,
        n(partitions),
        n(replication)
    ))
}

async fn list(conn: &ConnArgs) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    let md = w.metadata(None).await?;
    #[derive(Serialize)]
    struct Row {
        topic: String,
        topic_id: Option<String>,
        partitions: usize,
        replication_factor: usize,
        internal: bool,
    }
    let mut rows: Vec<Row> = md
        .topics
        .iter()
        .filter(|t| t.error_code == 0)
        .map(|t| Row {
            topic: t.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
            topic_id: topic_id(&t.topic_id),
            partitions: t.partitions.len(),
            replication_factor: t.partitions.first().map_or(0, |p| p.replica_nodes.len()),
            internal: t.is_internal,
        })
        .collect();
    rows.sort_by(|a, b| a.topic.cmp(&b.topic));
    emit(conn.json, &rows, || {
        table(
            &["TOPIC", "PARTITIONS", "REPLICATION", "INTERNAL"],
            rows.iter().map(|r| {
                let internal = if r.internal { "yes" } else { "no" };
                vec![r.topic.clone(), r.partitions.to_string(), r.replication_factor.to_string(), internal.into()]
            }),
        )
    })
}

async fn alter_config(conn: &ConnArgs, topic: &str, change: &Change) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    configs::alter(&mut w, Resource { kind: RESOURCE_TOPIC, name: topic }, change).await?;
    let value = serde_json::json!({"topic": topic, "set": change.set, "deleted": change.delete});
    if conn.json {
        return print_line(&value.to_string());
    }
    let mut parts: Vec<String> = change.set.iter().map(|(k, v)| format!("set {k}={v}")).collect();
    parts.extend(change.delete.iter().map(|k| format!("reset {k} to its default")));
    print_line(&format!("topic {topic}: {}", parts.join(", ")))
}

async fn add_partitions(conn: &ConnArgs, topic: &str, total: i32) -> Result<()> {
    let mut w = Wire::connect(conn).await?.into_controller().await?;
    let req = CreatePartitionsRequest::default()
        .with_topics(vec![
            CreatePartitionsTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_count(total)
                .with_assignments(None),
        ])
        .with_timeout_ms(request_timeout_ms(conn));
    let (resp, _) = w.call(3, &req).await?;
    let Some(r) = resp.results.into_iter().next() else { bail!("the cluster answered for no topic") };
    if r.error_code == 3 {
        bail!("topic {topic} does not exist");
    }
    if let Some(e) = error_text(r.error_code, r.error_message.as_ref()) {
        bail!("cannot grow topic {topic} to {total} partitions: {e}");
    }
    if conn.json {
        return print_line(&serde_json::json!({"topic": topic, "partitions": total}).to_string());
    }
    print_line(&format!("topic {topic} now has {total} partitions"))
}

async fn delete(conn: &ConnArgs, topics: &[String]) -> Result<()> {
    let mut w = Wire::connect(conn).await?.into_controller().await?;
    let names: Vec<TopicName> = topics.iter().map(|t| TopicName(str_bytes(t))).collect();
    let states = names.iter().map(|n| DeleteTopicState::default().with_name(Some(n.clone()))).collect();
    // v6 names topics in `topics`, earlier versions in `topic_names`; each version encodes only its own field.
    let req = DeleteTopicsRequest::default()
        .with_topics(states)
        .with_topic_names(names)
        .with_timeout_ms(request_timeout_ms(conn));
    let (resp, _) = w.call(6, &req).await?;
    let mut failed = Vec::new();
    let mut deleted = Vec::new();
    for r in resp.responses {
        let name = r.name.map(|n| n.to_string()).unwrap_or_default();
        match error_text(r.error_code, r.error_message.as_ref()) {
            None => deleted.push(name),
            Some(_) if r.error_code == 3 => failed.push(format!("topic {name} does not exist")),
            Some(e) => failed.push(format!("cannot delete topic {name}: {e}")),
        }
    }
    if conn.json {
        print_line(&serde_json::json!({"deleted": deleted, "errors": failed}).to_string())?;
    } else {
        for t in &deleted {
            print_line(&format!("deleted topic {t}"))?;
        }
    }
    match failed.len() {
        0 => Ok(()),
        1 => bail!("{}", failed[0]),
        _ => bail!("{}", failed.join("; ")),
    }
}
