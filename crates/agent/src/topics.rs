//! A short-lived cache of topic metadata in front of the metastore.
//!
//! Produce and fetch look topics up on every request; the cache keeps that off the metastore. Entries
//! expire after `ttl` so that changes made through another agent are seen; changes made through this agent
//! update the cache at once.

use crate::topic_config;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;
use weft_meta::{Metastore, Topic};

/// A topic with the configs the hot paths need, already parsed.
#[derive(Debug)]
pub struct TopicEntry {
    pub topic: Topic,
    pub max_message_bytes: i32,
    loaded: Instant,
}

impl TopicEntry {
    fn new(topic: Topic, broker_max_message_bytes: i32) -> Self {
        let max_message_bytes =
            topic.configs.get("max.message.bytes").and_then(|v| v.parse().ok()).unwrap_or(broker_max_message_bytes);
        TopicEntry { topic, max_message_bytes, loaded: Instant::now() }
    }

    /// The effective value of a topic config.
    pub fn config(&self, name: &str) -> Option<&str> {
        topic_config::effective(&self.topic.configs, name, None)
    }
}

pub struct TopicCache {
    by_name: RwLock<HashMap<String, Arc<TopicEntry>>>,
    ttl: Duration,
    broker_max_message_bytes: i32,
}

impl TopicCache {
    pub fn new(ttl: Duration, broker_max_message_bytes: i32) -> Self {
        TopicCache { by_name: RwLock::new(HashMap::new()), ttl, broker_max_message_bytes }
    }

    fn cached(&self, name: &str) -> Option<Arc<TopicEntry>> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).filter(|e| e.loaded.elapsed() < self.ttl).cloned()
    }

    /// Remembers a topic (after creating or changing it here, or loading it).
    pub fn insert(&self, topic: Topic) -> Arc<TopicEntry> {
        let entry = Arc::new(TopicEntry::new(topic, self.broker_max_message_bytes));
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.insert(entry.topic.name.clone(), entry.clone());
        entry
    }

    pub fn remove(&self, name: &str) {
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.remove(name);
    }

    /// Looks a topic up by name, from the cache or the metastore.
    pub async fn get(&self, meta: &dyn Metastore, name: &str) -> weft_meta::Result<Option<Arc<TopicEntry>>> {
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
    pub async fn get_by_id(&self, meta: &dyn Metastore, id: Uuid) -> weft_meta::Result<Option<Arc<TopicEntry>>> {
        {
            let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map.values().find(|e| e.topic.id == id && e.loaded.elapsed() < self.ttl) {
                return Ok(Some(hit.clone()));
            }
        }
        Ok(meta.topic_by_id(id).await?.map(|t| self.insert(t)))
    }
}
