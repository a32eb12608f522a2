//! Operator commands that talk the Kafka protocol (through librdkafka) to any Weft agent, and to Kafka itself.

mod assignment;
mod common;
mod group;

pub use group::{GroupArgs, run_group};
