//! The schemas broker-side validation needs, cached in front of the store: a schema by id (parsed once; ids
//! never change content, so entries stay until evicted) and the ids live under a subject (reloaded when older
//! than [`SUBJECT_TTL`], or at once when an id is missing, so a schema registered through any agent is accepted
//! on its first record). Both maps are bounded, and a producer sending unknown ids costs at most one store read
//! per id and subject per [`MISS_INTERVAL`].

use crate::registry::Registry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_meta::Schemas;
use weft_schema::Schema;

/// How long the live ids of a subject are trusted; a version deleted elsewhere is refused after at most this.
pub const SUBJECT_TTL: Duration = Duration::from_secs(5);
/// The least time between two store reads for the same missing id or subject.
pub const MISS_INTERVAL: Duration = Duration::from_millis(250);
/// Most schemas and most subjects kept.
pub const MAX_ENTRIES: usize = 10_000;

/// What an id names.
#[derive(Clone)]
pub enum Found {
    Schema(Arc<Schema>),
    /// No schema has this id.
    Unknown,
    /// A stored schema whose references cannot be resolved: no record can be checked against it.
    Unusable(String),
}

/// The store could not be read; the check should be retried.
#[derive(Debug, thiserror::Error)]
#[error("schema registry store failed: {0}")]
pub struct LookupError(pub String);

struct Timed<T> {
    value: T,
    at: Instant,
}

/// A map that forgets its oldest insertions past `MAX_ENTRIES`.
struct Bounded<K, V> {
    map: HashMap<K, Timed<V>>,
    order: VecDeque<K>,
}

impl<K: std::hash::Hash + Eq + Clone, V> Bounded<K, V> {
    fn new() -> Self {
        Bounded { map: HashMap::new(), order: VecDeque::new() }
    }

    fn insert(&mut self, key: K, value: V, at: Instant) {
        if self.map.insert(key.clone(), Timed { value, at }).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > MAX_ENTRIES {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// Store reads one produce request may cause; a hostile request naming thousands of unseen ids over many
/// partitions is refused (retriably) once it is spent, while what it looked up stays cached.
#[derive(Debug)]
pub struct LookupBudget(u32);

/// Store reads allowed per produce request.
pub const LOOKUPS_PER_REQUEST: u32 = 256;

impl Default for LookupBudget {
    fn default() -> Self {
        LookupBudget(LOOKUPS_PER_REQUEST)
    }
}

impl LookupBudget {
    fn spend(&mut self) -> Result<(), LookupError> {
        self.0 = self.0.checked_sub(1).ok_or_else(|| {
            LookupError(format!("more than {LOOKUPS_PER_REQUEST} schema lookups in one produce request"))
        })?;
        Ok(())
    }
}

/// The cache; one per agent, shared by every connection.
pub struct SchemaIds {
    registry: Registry,
    /// Schemas by id (only `Found::Schema`; ids never change content).
    schemas: Mutex<Bounded<i32, Found>>,
    /// Ids found unknown or unusable lately.
    absent: Mutex<Bounded<i32, Found>>,
    subjects: Mutex<Bounded<String, Arc<HashSet<i32>>>>,
    /// (subject, id) pairs found missing lately: asked again only after [`MISS_INTERVAL`].
    misses: Mutex<Bounded<(String, i32), ()>>,
}

impl SchemaIds {
    pub fn new(store: Arc<dyn Schemas>) -> Self {
        SchemaIds {
            registry: Registry::new(store),
            schemas: Mutex::new(Bounded::new()),
            absent: Mutex::new(Bounded::new()),
            subjects: Mutex::new(Bounded::new()),
            misses: Mutex::new(Bounded::new()),
        }
    }

    /// The schema with `id`. Ids without a usable schema are kept apart (so they never push real schemas out)
    /// and asked again after [`MISS_INTERVAL`]. A store read spends one unit of `budget`.
    pub async fn schema(&self, id: i32, budget: &mut LookupBudget) -> Result<Found, LookupError> {
        if let Some(e) = self.schemas.lock().unwrap_or_else(|p| p.into_inner()).map.get(&id) {
            return Ok(e.value.clone());
        }
        {
            let absent = self.absent.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = absent.map.get(&id).filter(|e| e.at.elapsed() < MISS_INTERVAL) {
                return Ok(e.value.clone());
            }
        }
        budget.spend()?;
        let found = match self.registry.store().schema_by_id(id).await.map_err(|e| LookupError(e.to_string()))? {
            None => Found::Unknown,
            Some(stored) => match self.registry.parse_stored(&stored).await {
                Ok(schema) => Found::Schema(Arc::new(schema)),
                // The store failing (or a stored schema no longer parsing, which the registry also answers as 50001).
                Err(e) if e.status.is_server_error() => return Err(LookupError(e.message)),
                Err(e) => Found::Unusable(e.message),
            },
        };
        let map = if matches!(found, Found::Schema(_)) { &self.schemas } else { &self.absent };
        map.lock().unwrap_or_else(|p| p.into_inner()).insert(id, found.clone(), Instant::now());
        Ok(found)
    }

    /// Whether `id` is a live version of `subject`. A miss reloads the subject (at most once per [`MISS_INTERVAL`]
    /// for the same id), so a version registered a moment ago is found.
    pub async fn subject_has(&self, subject: &str, id: i32, budget: &mut LookupBudget) -> Result<bool, LookupError> {
        let cached = {
            let cache = self.subjects.lock().unwrap_or_else(|p| p.into_inner());
            cache.map.get(subject).map(|e| (e.value.contains(&id), e.at.elapsed()))
        };
        if let Some((true, age)) = cached
            && age < SUBJECT_TTL
        {
            return Ok(true);
        }
        let miss = (subject.to_string(), id);
        {
            let misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
            if misses.map.get(&miss).is_some_and(|e| e.at.elapsed() < MISS_INTERVAL) {
                return Ok(false);
            }
        }
        budget.spend()?;
        let live = self.registry.live_versions(subject).await;
        let ids: HashSet<i32> = match live {
            Ok(versions) => versions.iter().map(|v| v.schema_id).collect(),
            Err(e) if e.status.is_server_error() => return Err(LookupError(e.message)),
            Err(_) => HashSet::new(),
        };
        let has = ids.contains(&id);
        let now = Instant::now();
        self.subjects.lock().unwrap_or_else(|p| p.into_inner()).insert(subject.to_string(), Arc::new(ids), now);
        if !has {
            self.misses.lock().unwrap_or_else(|p| p.into_inner()).insert(miss, (), now);
        }
        Ok(has)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_forgets_the_oldest() {
        let mut b = Bounded::new();
        let now = Instant::now();
        for i in 0..(MAX_ENTRIES as i32 + 10) {
            b.insert(i, i, now);
        }
        assert_eq!(b.map.len(), MAX_ENTRIES);
        assert!(!b.map.contains_key(&9) && b.map.contains_key(&10));
        b.insert(10, 0, now);
        assert_eq!(b.order.len(), MAX_ENTRIES, "re-inserting does not grow the order");
    }
}
