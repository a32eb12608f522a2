//! `weft topic describe`: metadata, configs and stored sizes (DescribeLogDirs) over the wire, log start and end
//! offsets through librdkafka.

use crate::common::{ConnArgs, print_line, table};
use crate::configs::{self, ConfigRow, RESOURCE_TOPIC, Resource, SOURCE_DEFAULT};
use crate::offsets;
use crate::wire::{Wire, error_text, topic_id};
use anyhow::{Context, Result, bail};
use serde::Serialize;

#[derive(Serialize)]
struct PartitionRow {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    log_start: i64,
    log_end: i64,
    /// Offsets between log start and end; transaction markers count too.
    records: i64,
    /// Bytes stored for the partition (DescribeLogDirs), if the broker reports it.
    stored_bytes: Option<i64>,
}

/// Stored bytes per partition of `topic`, summed over the log dirs of every broker that answers
/// DescribeLogDirs (Weft reports bytes in the object store; Kafka, bytes on disk per replica).
async fn stored_sizes(w: &mut Wire, topic: &str, ids: &[i32]) -> Option<std::collections::HashMap<i32, i64>> {
    use kafka_protocol::messages::DescribeLogDirsRequest;
    use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
    if !w.supports::<DescribeLogDirsRequest>() {
        return None;
    }
    let wanted = DescribableLogDirTopic::default()
        .with_topic(kafka_protocol::messages::TopicName(crate::wire::str_bytes(topic)))
        .with_partitions(ids.to_vec());
    let req = DescribeLogDirsRequest::default().with_topics(Some(vec![wanted]));
    let (resp, _) = w.call(4, &req).await.ok()?;
    let mut sizes = std::collections::HashMap::new();
    for dir in resp.results.iter().filter(|d| d.error_code == 0) {
        for t in dir.topics.iter().filter(|t| t.name.as_str() == topic) {
            for p in &t.partitions {
                *sizes.entry(p.partition_index).or_insert(0) += p.partition_size;
            }
        }
    }
    Some(sizes)
}

#[derive(Serialize)]
struct Description {
    topic: String,
    topic_id: Option<String>,
    internal: bool,
    partitions: Vec<PartitionRow>,
    configs: Vec<ConfigRow>,
}

pub async fn describe(conn: &ConnArgs, topic: &str, all: bool) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    let md = w.metadata(Some(&[topic.to_string()])).await?;
    let Some(t) = md.topics.iter().find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == topic)) else {
        bail!("topic {topic} does not exist");
    };
    if t.error_code == 3 {
        bail!("topic {topic} does not exist");
    }
    if let Some(e) = error_text(t.error_code, None) {
        bail!("cannot describe topic {topic}: {e}");
    }
    let mut configs = configs::describe(&mut w, Resource { kind: RESOURCE_TOPIC, name: topic }).await?;
    if !all {
        configs.retain(|c| c.source_id != SOURCE_DEFAULT);
    }
    let ids: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
    let sizes = stored_sizes(&mut w, topic, &ids).await.unwrap_or_default();
    let (c2, name) = (conn.clone(), topic.to_string());
    let marks = tokio::task::spawn_blocking(move || {
        let c = offsets::consumer(&c2)?;
        offsets::watermarks(&c, &c2, &name, &ids)
    })
    .await
    .context("watermarks task")??;
    let mut partitions: Vec<PartitionRow> = t
        .partitions
        .iter()
        .zip(marks)
        .map(|(p, (_, log_start, log_end))| PartitionRow {
            partition: p.partition_index,
            leader: p.leader_id.0,
            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
            log_start,
            log_end,
            records: log_end - log_start,
            stored_bytes: sizes.get(&p.partition_index).copied(),
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    let d = Description {
        topic: topic.to_string(),
        topic_id: topic_id(&t.topic_id),
        internal: t.is_internal,
        partitions,
        configs,
    };
    if conn.json {
        return print_line(&serde_json::to_string(&d)?);
    }
    let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let head = format!(
        "topic {}  id {}  partitions {}  records {}{}",
        d.topic,
        d.topic_id.as_deref().unwrap_or("-"),
        d.partitions.len(),
        d.partitions.iter().map(|p| p.records).sum::<i64>(),
        if d.internal { "  (internal)" } else { "" }
    );
    let parts = table(
        &["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG START", "LOG END", "RECORDS", "STORED BYTES"],
        d.partitions.iter().map(|p| {
            vec![
                p.partition.to_string(),
                p.leader.to_string(),
                list(&p.replicas),
                list(&p.isr),
                p.log_start.to_string(),
                p.log_end.to_string(),
                p.records.to_string(),
                p.stored_bytes.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            ]
        }),
    );
    let which = if all { "configs" } else { "configs that differ from the default (--all for every config)" };
    let configs =
        if d.configs.is_empty() { "(none)".to_string() } else { configs::config_table(&d.configs).to_string() };
    print_line(&format!("{head}\n{parts}\n{which}:\n{configs}"))
}
