//! One module per group of Kafka APIs. Handlers take decoded requests and return responses; errors are
//! per-topic or per-partition codes inside the response, as the protocol requires.

pub mod alter_configs;
pub mod api_versions;
pub mod cluster;
pub mod configs;
pub mod consumer_group;
pub mod delete_records;
pub mod fetch;
pub mod groups;
pub mod init_producer_id;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod record_checks;
pub mod topics;
pub mod txn;
pub mod txn_admin;

use kafka_protocol::protocol::StrBytes;

pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
