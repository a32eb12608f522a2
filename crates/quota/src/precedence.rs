//! Which quota applies to a client, by Kafka's precedence (`DefaultQuotaCallback`): the first level, from the
//! most specific down, that sets the key:
//!
//! 1. `/config/users/<user>/clients/<client-id>`
//! 2. `/config/users/<user>/clients/<default>`
//! 3. `/config/users/<user>`
//! 4. `/config/users/<default>/clients/<client-id>`
//! 5. `/config/users/<default>/clients/<default>`
//! 6. `/config/users/<default>`
//! 7. `/config/clients/<client-id>`
//! 8. `/config/clients/<default>`
//!
//! The level found also says who shares the quota (Kafka's metric tags): a quota on a user alone is shared
//! by all that user's clients; one on a client id alone by that client id of every user; a default applies
//! to each user or client id on its own.

use std::collections::HashMap;
use weft_meta::{QuotaEntity, QuotaName, QuotaRecord};

/// The quota that applies to a request, and the key its measurements are kept under (user, client id; an
/// empty string where the entity has no such part).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub bound: f64,
    pub shared_by: (String, String),
}

/// Every configured quota, by entity then key, and for each key the levels that set it (so that a request
/// probes only those: resolving is on every request of every client once any quota exists).
#[derive(Debug, Clone, Default)]
pub struct QuotaTable {
    entities: HashMap<QuotaEntity, HashMap<String, f64>>,
    levels: HashMap<String, u8>,
}

/// The shape of each precedence level: whether the user and the client id parts are a name (`Some(true)`),
/// the default (`Some(false)`) or absent (`None`).
const LEVELS: [(Option<bool>, Option<bool>); 8] = [
    (Some(true), Some(true)),
    (Some(true), Some(false)),
    (Some(true), None),
    (Some(false), Some(true)),
    (Some(false), Some(false)),
    (Some(false), None),
    (None, Some(true)),
    (None, Some(false)),
];

fn shape(name: &Option<QuotaName>) -> Option<bool> {
    name.as_ref().map(|n| matches!(n, QuotaName::Named(_)))
}

/// The level of `entity` as a bit of a level mask (an entity of no level, such as nothing at all, has none).
fn level_bit(entity: &QuotaEntity) -> u8 {
    let this = (shape(&entity.user), shape(&entity.client_id));
    LEVELS.iter().position(|l| *l == this).map_or(0, |i| 1 << i)
}

/// The part of a level's entity for a request's `name`.
fn part(shape: Option<bool>, name: &str) -> Option<QuotaName> {
    shape.map(|named| if named { QuotaName::Named(name.to_string()) } else { QuotaName::Default })
}

impl QuotaTable {
    /// The table of `records` (as the metastore lists them).
    pub fn new(records: Vec<QuotaRecord>) -> Self {
        let mut entities: HashMap<QuotaEntity, HashMap<String, f64>> = HashMap::new();
        let mut levels: HashMap<String, u8> = HashMap::new();
        for r in records {
            *levels.entry(r.key.clone()).or_default() |= level_bit(&r.entity);
            entities.entry(r.entity).or_default().insert(r.key, r.value);
        }
        QuotaTable { entities, levels }
    }

    /// Whether no quota at all is configured.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Whether any entity sets `key`.
    pub fn has_key(&self, key: &str) -> bool {
        self.levels.contains_key(key)
    }

    /// The quota `key` of the client `client_id` of `user` (the principal's name), by the eight levels.
    pub fn resolve(&self, key: &str, user: &str, client_id: &str) -> Option<Resolved> {
        let mask = *self.levels.get(key)?;
        LEVELS.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).find_map(|(_, &(u, c))| {
            let entity = QuotaEntity { user: part(u, user), client_id: part(c, client_id) };
            let bound = *self.entities.get(&entity)?.get(key)?;
            let user = if u.is_some() { user.to_string() } else { String::new() };
            let client = if c.is_some() { client_id.to_string() } else { String::new() };
            Some(Resolved { bound, shared_by: (user, client) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> Option<QuotaName> {
        Some(QuotaName::Named(n.to_string()))
    }

    const K: &str = "producer_byte_rate";

    fn rec(user: Option<QuotaName>, client_id: Option<QuotaName>, value: f64) -> QuotaRecord {
        QuotaRecord { entity: QuotaEntity { user, client_id }, key: K.into(), value }
    }

    /// All eight levels set, each with its level number as the value; removing them from the most specific
    /// down must reveal each next level in turn.
    #[test]
    fn the_most_specific_level_wins_in_kafkas_order() {
        let d = || Some(QuotaName::Default);
        let all = [
            rec(named("alice"), named("app"), 1.0),
            rec(named("alice"), d(), 2.0),
            rec(named("alice"), None, 3.0),
            rec(d(), named("app"), 4.0),
            rec(d(), d(), 5.0),
            rec(d(), None, 6.0),
            rec(None, named("app"), 7.0),
            rec(None, d(), 8.0),
        ];
        let expected_sharing = [
            ("alice", "app"),
            ("alice", "app"),
            ("alice", ""),
            ("alice", "app"),
            ("alice", "app"),
            ("alice", ""),
            ("", "app"),
            ("", "app"),
        ];
        for level in 0..8 {
            let table = QuotaTable::new(all[level..].to_vec());
            let got = table.resolve(K, "alice", "app").expect("a quota applies");
            assert_eq!(got.bound, (level + 1) as f64, "level {}", level + 1);
            let (u, c) = expected_sharing[level];
            assert_eq!(got.shared_by, (u.to_string(), c.to_string()), "level {}", level + 1);
        }
    }

    #[test]
    fn other_names_and_keys_do_not_match() {
        let table = QuotaTable::new(vec![rec(named("bob"), None, 1.0), rec(None, named("other"), 2.0)]);
        assert_eq!(table.resolve(K, "alice", "app"), None);
        assert_eq!(table.resolve("consumer_byte_rate", "bob", "app"), None);
        assert!(table.has_key(K) && !table.has_key("consumer_byte_rate"));
        assert!(QuotaTable::default().is_empty());
    }
}
