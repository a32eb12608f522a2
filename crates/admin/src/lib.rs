//! Operator commands that talk the Kafka protocol to any Weft agent, and to Kafka itself: librdkafka for the data
//! path (produce, consume, list offsets) and groups, a small protocol client (`wire`) for the rest of admin.

mod acl;
mod assignment;
mod cluster;
mod cluster_config;
mod common;
mod configs;
mod consume;
mod group;
mod offsets;
mod produce;
mod produce_input;
mod progress;
mod quota;
mod sasl_login;
mod schema;
mod security;
mod share_group;
mod template;
mod topic;
mod topic_describe;
mod user;
mod wire;

pub use acl::{AclArgs, run_acl};
pub use cluster::{ClusterArgs, run_cluster};
pub use cluster_config::{ConfigArgs, run_config};
pub use common::{ConnArgs, print_line, table};
pub use consume::{ConsumeArgs, run_consume};
pub use group::{GroupArgs, run_group};
pub use offsets::{OffsetsArgs, run_offsets};
pub use produce::{ProduceArgs, run_produce};
pub use quota::{QuotaArgs, run_quota};
pub use schema::{SchemaArgs, run_schema};
pub use security::read_properties;
pub use topic::{TopicArgs, run_topic};
pub use user::{UserArgs, run_user};
pub use wire::{Wire, error_text, str_bytes};
