//! The group configs the coordinators read, served from memory and reloaded from the metastore once they are
//! `ttl` old, so a change made through another agent takes effect within `ttl`; a change made here is seen at
//! once. Bounded: past `MAX_ENTRIES` groups, stale entries go first, then everything.

use super::{BrokerGroupSettings, GroupSettings, resolve};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use weft_meta::{GroupConfigs, StoredGroupConfigs};

const MAX_ENTRIES: usize = 100_000;

pub struct GroupConfigCache {
    store: Arc<dyn GroupConfigs>,
    broker: BrokerGroupSettings,
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<StoredGroupConfigs>)>>,
}

impl GroupConfigCache {
    pub fn new(store: Arc<dyn GroupConfigs>, broker: BrokerGroupSettings, ttl: Duration) -> Self {
        GroupConfigCache { store, broker, ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The broker settings the group configs default to and are bounded by.
    pub fn broker(&self) -> &BrokerGroupSettings {
        &self.broker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<StoredGroupConfigs>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A group's explicit configs as of at most `ttl` ago. When the store cannot be read, an older copy is
    /// served if there is one (a heartbeat keeps its interval through a metastore blip), else the error.
    pub async fn configs(&self, group: &str) -> weft_meta::Result<Arc<StoredGroupConfigs>> {
        let cached = self.lock().get(group).cloned();
        if let Some((at, configs)) = &cached
            && at.elapsed() < self.ttl
        {
            return Ok(configs.clone());
        }
        match self.store.group_configs(group).await {
            Ok(fresh) => Ok(self.insert(group, fresh)),
            Err(e) => match cached {
                Some((_, stale)) => {
                    tracing::warn!(group, error = %e, "group configs not reloaded; serving the last ones read");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    /// A group's effective configuration (see [`GroupConfigCache::configs`]).
    pub async fn settings(&self, group: &str) -> weft_meta::Result<GroupSettings> {
        Ok(resolve(&self.broker, &self.configs(group).await?.configs))
    }

    /// A group's configs read from the store now (for a read-validate-write), cached as read.
    pub async fn fresh(&self, group: &str) -> weft_meta::Result<Arc<StoredGroupConfigs>> {
        Ok(self.insert(group, self.store.group_configs(group).await?))
    }

    /// Records configs this agent just stored.
    pub fn insert(&self, group: &str, configs: StoredGroupConfigs) -> Arc<StoredGroupConfigs> {
        let configs = Arc::new(configs);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(group) {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(group.to_string(), (Instant::now(), configs.clone()));
        configs
    }

    /// Forgets a group's configs (they were deleted).
    pub fn forget(&self, group: &str) {
        self.lock().remove(group);
    }
}
