//! One module per group of Kafka APIs. Handlers take the agent, the request's context, the decoded request
//! and its version, and return responses; errors are per-topic or per-partition codes inside the response, as
//! the protocol requires. Each handler authorizes every resource it touches through
//! [`crate::request::authorize`], with the operation Kafka checks and Kafka's error on denial.

pub mod acls;
pub mod alter_configs;
pub mod api_versions;
#[cfg(test)]
mod authorization_tests;
pub mod authorized_operations;
pub mod cluster;
pub mod configs;
pub mod consumer_group;
pub mod delete_records;
pub mod fetch;
pub mod group_configs;
pub mod groups;
pub mod init_producer_id;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod quotas;
pub mod record_checks;
pub mod schema_checks;
pub mod scram_credentials;
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group;
pub mod share_offsets;
pub mod share_partitions;
pub mod topics;
pub mod txn;
pub mod txn_admin;

use kafka_protocol::protocol::StrBytes;

pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
