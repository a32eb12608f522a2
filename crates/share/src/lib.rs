//! The share-partition state machine of KIP-932 (share groups, "queues for Kafka"), pure and synchronous: no
//! I/O, time passed in as `now_ms`. One [`SharePartition`] is what a share-partition leader holds for one
//! (group, topic, partition): the start offset, the in-flight records as runs of offsets sharing one state and
//! delivery count, acquisition locks, acknowledgements, and the counters the metrics report.
//!
//! The wire handlers (ShareFetch, ShareAcknowledge) drive it; the metastore (`weft_meta::ShareStates`) keeps
//! what [`SharePartition::to_record`] gives, and [`SharePartition::from_record`] rebuilds it on takeover.

mod acknowledge;
mod config;
mod counters;
mod error;
mod locks;
mod partition;
mod persist;
mod record_state;
mod runs;

pub use acknowledge::{AckBatch, AcknowledgeType, parse_batches};
pub use config::{AutoOffsetReset, ShareConfig};
pub use counters::{Counters, InFlight};
pub use error::{AckError, RestoreError};
pub use partition::{AcquiredRange, SharePartition};
pub use record_state::RecordState;
