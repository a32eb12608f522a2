//! A short-lived cache of topic metadata and cluster-wide config defaults in front of the metastore.
//!
//! Produce and fetch look topics up on every request; the cache keeps that off the metastore. Entries
//! expire after `ttl` so that changes made through another agent are seen (config changes included); changes
//! made through this agent update the cache at once.

use crate::config;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;
use weft_meta::{Catalog, Topic};

/// A topic with the configs the hot paths need, already parsed.
#[derive(Debug)]
pub struct TopicEntry {
    pub topic: Topic,
    pub max_message_bytes: i32,
    /// Produce-path settings, parsed once per cache entry rather than per request.
    pub timestamp_after_max_ms: i64,
    pub timestamp_before_max_ms: i64,
    pub log_append_time: bool,
    pub compacted: bool,
    /// Schema validation of records (`None`: off, the produce path skips it).
    pub schema_validation: Option<crate::schema_rules::SchemaValidation>,
    /// The cluster-wide dynamic defaults this entry was built with.
    pub cluster: Arc<BTreeMap<String, String>>,
    loaded: Instant,
}

impl TopicEntry {
    fn new(topic: Topic, cluster: Arc<BTreeMap<String, String>>, broker_max_message_bytes: i32) -> Self {
        // The static broker value (message.max.bytes flag) sits between the cluster default and Kafka's.
        let max_message_bytes = match config::effective(&topic.configs, &cluster, "max.message.bytes") {
            Some((v, src)) if src != config::source::DEFAULT => v.parse().ok(),
            _ => None,
        }
        .unwrap_or(broker_max_message_bytes);
        let mut entry = TopicEntry {
            topic,
            max_message_bytes,
            timestamp_after_max_ms: 0,
            timestamp_before_max_ms: 0,
            log_append_time: false,
            compacted: false,
            schema_validation: None,
            cluster,
            loaded: Instant::now(),
        };
        entry.timestamp_after_max_ms = entry.config_i64("message.timestamp.after.max.ms");
        entry.timestamp_before_max_ms = entry.config_i64("message.timestamp.before.max.ms");
        entry.log_append_time = entry.config("message.timestamp.type") == Some("LogAppendTime");
        entry.compacted = entry.has_policy("compact");
        entry.schema_validation = crate::schema_rules::SchemaValidation::from_configs(|name| entry.config(name));
        entry
    }

    /// The effective value of a topic config.
    pub fn config(&self, name: &str) -> Option<&str> {
        config::effective(&self.topic.configs, &self.cluster, name).map(|(v, _)| v)
    }

    /// A numeric topic config (Kafka's default when unset or unparsable).
    pub fn config_i64(&self, name: &str) -> i64 {
        self.config(name)
            .and_then(|v| v.trim().parse().ok())
            .or_else(|| config::lookup(name).and_then(|d| d.default.parse().ok()))
            .unwrap_or(i64::MAX)
    }

    /// Whether cleanup.policy includes `policy` (delete or compact).
    pub fn has_policy(&self, policy: &str) -> bool {
        self.config("cleanup.policy").is_some_and(|v| v.split(',').any(|p| p.trim() == policy))
    }
}

struct ClusterDefaults {
    values: Arc<BTreeMap<String, String>>,
    loaded: Option<Instant>,
}

pub struct TopicCache {
    by_name: RwLock<HashMap<String, Arc<TopicEntry>>>,
    cluster: RwLock<ClusterDefaults>,
    ttl: Duration,
    broker_max_message_bytes: i32,
}

impl TopicCache {
    pub fn new(ttl: Duration, broker_max_message_bytes: i32) -> Self {
        TopicCache {
            by_name: RwLock::new(HashMap::new()),
            cluster: RwLock::new(ClusterDefaults { values: Arc::new(BTreeMap::new()), loaded: None }),
            ttl,
            broker_max_message_bytes,
        }
    }

    /// The cluster-wide dynamic defaults, reloaded from the metastore once they are `ttl` old.
    pub async fn cluster_defaults(&self, meta: &dyn Catalog) -> weft_meta::Result<Arc<BTreeMap<String, String>>> {
        {
            let c = self.cluster.read().unwrap_or_else(|p| p.into_inner());
            if c.loaded.is_some_and(|at| at.elapsed() < self.ttl) {
                return Ok(c.values.clone());
            }
        }
        let fresh = meta.cluster_configs().await?;
        Ok(self.set_cluster_defaults(fresh))
    }

    /// Installs new cluster defaults; topic entries built with other values are dropped.
    pub fn set_cluster_defaults(&self, fresh: BTreeMap<String, String>) -> Arc<BTreeMap<String, String>> {
        let mut c = self.cluster.write().unwrap_or_else(|p| p.into_inner());
        c.loaded = Some(Instant::now());
        if *c.values != fresh {
            c.values = Arc::new(fresh);
            self.by_name.write().unwrap_or_else(|p| p.into_inner()).clear();
        }
        c.values.clone()
    }

    pub fn current_cluster(&self) -> Arc<BTreeMap<String, String>> {
        self.cluster.read().unwrap_or_else(|p| p.into_inner()).values.clone()
    }

    fn cached(&self, name: &str) -> Option<Arc<TopicEntry>> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).filter(|e| e.loaded.elapsed() < self.ttl).cloned()
    }

    /// Remembers a topic (after creating or changing it here, or loading it).
    pub fn insert(&self, topic: Topic) -> Arc<TopicEntry> {
        let entry = Arc::new(TopicEntry::new(topic, self.current_cluster(), self.broker_max_message_bytes));
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.insert(entry.topic.name.clone(), entry.clone());
        entry
    }

    pub fn remove(&self, name: &str) {
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.remove(name);
    }

    /// Looks a topic up by name, from the cache or the metastore.
    pub async fn get(&self, meta: &dyn Catalog, name: &str) -> weft_meta::Result<Option<Arc<TopicEntry>>> {
        self.cluster_defaults(meta).await?;
        if let Some(hit) = self.cached(name) {
            return Ok(Some(hit));
        }
        match meta.topic(name).await? {
            Some(t) => Ok(Some(self.insert(t))),
            None => {
                self.remove(name);
                Ok(None)
            }
        }
    }

    /// Looks a topic up by id (Fetch v13+, DeleteTopics v6).
    pub async fn get_by_id(&self, meta: &dyn Catalog, id: Uuid) -> weft_meta::Result<Option<Arc<TopicEntry>>> {
        self.cluster_defaults(meta).await?;
        {
            let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map.values().find(|e| e.topic.id == id && e.loaded.elapsed() < self.ttl) {
                return Ok(Some(hit.clone()));
            }
        }
        Ok(meta.topic_by_id(id).await?.map(|t| self.insert(t)))
    }
}
