//! What the agent knows about topics: the cached view of the metastore's catalog ([`TopicCache`], one
//! [`TopicEntry`] per topic with its effective settings) and Kafka's topic configuration keys with their
//! types, defaults and validation ([`config`]). The metastore stays the state of record; this crate only
//! caches and interprets it, so any agent can rebuild it.

mod cache;
pub mod config;
pub mod schema_rules;

pub use cache::{TopicCache, TopicEntry};
