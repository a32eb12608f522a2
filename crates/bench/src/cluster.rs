//! Cluster-level operations: reachability check, topic creation and
//! watermark queries, all through one rdkafka `AdminClient` with bounded
//! timeouts. Blocking librdkafka calls run on tokio's blocking pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;

use crate::args::BenchArgs;

/// Offsets of one partition: records in `start..end` are the ones of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionRange {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

impl PartitionRange {
    pub(crate) fn len(&self) -> u64 {
        u64::try_from(self.end - self.start).unwrap_or(0)
    }
}

/// Low and high watermark of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watermarks {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
}

/// Ranges from `before` (high watermarks) to `after` (high watermarks), i.e.
/// what was appended in between; partitions missing from `before` start at
/// their low watermark.
pub(crate) fn appended_between(before: &[Watermarks], after: &[Watermarks]) -> Vec<PartitionRange> {
    after
        .iter()
        .map(|a| {
            let start = before.iter().find(|b| b.partition == a.partition).map_or(a.low, |b| b.high.max(a.low));
            PartitionRange { partition: a.partition, start: start.min(a.high), end: a.high }
        })
        .collect()
}

/// Everything currently stored: low to high watermark.
pub(crate) fn stored(marks: &[Watermarks]) -> Vec<PartitionRange> {
    marks.iter().map(|m| PartitionRange { partition: m.partition, start: m.low, end: m.high.max(m.low) }).collect()
}

pub(crate) struct Cluster {
    admin: Arc<AdminClient<DefaultClientContext>>,
    bootstrap: String,
    timeout: Duration,
}

impl Cluster {
    /// Creates the admin client and checks that the cluster answers a
    /// metadata request within the timeout.
    pub(crate) async fn connect(args: &BenchArgs) -> Result<Self> {
        let admin: AdminClient<DefaultClientContext> = args.base_config().create().with_context(|| {
            format!("invalid client configuration for bootstrap servers `{}`", args.bootstrap_servers)
        })?;
        let cluster = Cluster {
            admin: Arc::new(admin),
            bootstrap: args.bootstrap_servers.clone(),
            timeout: args.request_timeout(),
        };
        let metadata = cluster.metadata().await?;
        if metadata.brokers().is_empty() {
            bail!("Kafka cluster at {} returned metadata without any broker", cluster.bootstrap);
        }
        Ok(cluster)
    }

    /// Cluster metadata for all topics (fetching all topics avoids triggering
    /// broker-side auto-creation of the bench topic).
    async fn metadata(&self) -> Result<Metadata> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.timeout;
        blocking(move || admin.inner().fetch_metadata(None, timeout)).await?.map_err(|e| {
            anyhow!("cannot reach Kafka broker(s) at {} within {} s: {e}", self.bootstrap, self.timeout.as_secs_f64())
        })
    }

    /// Partition ids of `topic` once every partition has a leader, `None` if
    /// the topic does not exist.
    async fn ready_partitions(&self, topic: &str) -> Result<Option<Vec<i32>>> {
        let metadata = self.metadata().await?;
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Ok(None);
        };
        if t.error().is_some() || t.partitions().is_empty() {
            return Ok(None);
        }
        if t.partitions().iter().any(|p| p.leader() < 0) {
            return Ok(None);
        }
        let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        Ok(Some(ids))
    }

    /// Returns the partitions of `topic`, creating it with `partitions`
    /// partitions and replication factor 1 if it is missing and `create` is set.
    pub(crate) async fn ensure_topic(&self, topic: &str, partitions: i32, create: bool) -> Result<Vec<i32>> {
        if let Some(ids) = self.ready_partitions(topic).await? {
            return Ok(ids);
        }
        if !create {
            bail!("topic `{topic}` does not exist on {} (run with --mode produce first)", self.bootstrap);
        }
        self.create_topic(topic, partitions, &[]).await
    }

    /// Creates `topic` with `partitions` partitions, replication factor 1 and `configs`, and waits until
    /// every partition has a leader.
    pub(crate) async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<Vec<i32>> {
        let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        for (key, value) in configs {
            new_topic = new_topic.set(key, value);
        }
        let opts = AdminOptions::new().request_timeout(Some(self.timeout)).operation_timeout(Some(self.timeout));
        let results =
            tokio::time::timeout(self.timeout + Duration::from_secs(1), self.admin.create_topics([&new_topic], &opts))
                .await
                .map_err(|_| anyhow!("timed out creating topic `{topic}` on {}", self.bootstrap))?
                .with_context(|| format!("creating topic `{topic}` on {}", self.bootstrap))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    bail!("creating topic `{name}` on {} failed: {code}", self.bootstrap)
                }
            }
        }
        // Wait until the new topic shows up with leaders for every partition.
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(ids) = self.ready_partitions(topic).await? {
                return Ok(ids);
            }
            if Instant::now() >= deadline {
                bail!("topic `{topic}` was created but has no leaders after {} s", self.timeout.as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The configs of `topic` as the cluster describes them (name, value), for the report.
    pub(crate) async fn topic_configs(&self, topic: &str) -> Result<Vec<(String, String)>> {
        let opts = AdminOptions::new().request_timeout(Some(self.timeout));
        let resource = ResourceSpecifier::Topic(topic);
        let results = tokio::time::timeout(self.timeout, self.admin.describe_configs([&resource], &opts))
            .await
            .map_err(|_| anyhow!("timed out describing topic `{topic}` on {}", self.bootstrap))?
            .with_context(|| format!("describing topic `{topic}` on {}", self.bootstrap))?;
        let mut configs = Vec::new();
        for result in results {
            let resource = result.map_err(|code| anyhow!("describing topic `{topic}` failed: {code}"))?;
            configs.extend(resource.entries.into_iter().filter_map(|e| Some((e.name, e.value?))));
        }
        Ok(configs)
    }

    /// Deletes `topics`; a topic that is already gone is fine.
    pub(crate) async fn delete_topics(&self, topics: &[String]) -> Result<()> {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let opts = AdminOptions::new().request_timeout(Some(self.timeout)).operation_timeout(Some(self.timeout));
        let results =
            tokio::time::timeout(self.timeout + Duration::from_secs(1), self.admin.delete_topics(&names, &opts))
                .await
                .map_err(|_| anyhow!("timed out deleting the run's topics on {}", self.bootstrap))?
                .with_context(|| format!("deleting the run's topics on {}", self.bootstrap))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((name, code)) => bail!("deleting topic `{name}` on {} failed: {code}", self.bootstrap),
            }
        }
        Ok(())
    }

    /// Low/high watermarks of the given partitions.
    pub(crate) async fn watermarks(&self, topic: &str, partitions: &[i32]) -> Result<Vec<Watermarks>> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.timeout;
        let topic = topic.to_string();
        let partitions = partitions.to_vec();
        let bootstrap = self.bootstrap.clone();
        blocking(move || {
            partitions
                .iter()
                .map(|&partition| {
                    let (low, high) = admin
                        .inner()
                        .fetch_watermarks(&topic, partition, timeout)
                        .with_context(|| format!("fetching watermarks of {topic}/{partition} from {bootstrap}"))?;
                    Ok(Watermarks { partition, low, high })
                })
                .collect()
        })
        .await?
    }
}

/// Runs a blocking closure on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.context("benchmark worker thread panicked")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wm(partition: i32, low: i64, high: i64) -> Watermarks {
        Watermarks { partition, low, high }
    }

    #[test]
    fn appended_ranges() {
        let before = [wm(0, 0, 10), wm(1, 5, 5)];
        let after = [wm(0, 0, 25), wm(1, 5, 9), wm(2, 0, 4)];
        let ranges = appended_between(&before, &after);
        assert_eq!(
            ranges,
            vec![
                PartitionRange { partition: 0, start: 10, end: 25 },
                PartitionRange { partition: 1, start: 5, end: 9 },
                PartitionRange { partition: 2, start: 0, end: 4 },
            ]
        );
        assert_eq!(ranges.iter().map(PartitionRange::len).sum::<u64>(), 15 + 4 + 4);
    }

    #[test]
    fn appended_ranges_survive_retention() {
        // Low watermark moved past the old high watermark: start at low.
        let ranges = appended_between(&[wm(0, 0, 10)], &[wm(0, 20, 30)]);
        assert_eq!(ranges[0], PartitionRange { partition: 0, start: 20, end: 30 });
    }

    #[test]
    fn stored_ranges() {
        let ranges = stored(&[wm(0, 3, 8), wm(1, 0, 0)]);
        assert_eq!(ranges[0].len(), 5);
        assert_eq!(ranges[1].len(), 0);
    }
}
