//! The one place where internal errors become Kafka error codes.

use kafka_protocol::ResponseError;
use weft_meta::MetaError;
use weft_protocol::records::RecordsError;
use weft_storage::StorageError;

/// Errors of the agent's request paths.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored batch at offset {offset} is unreadable: {reason}")]
    BadStoredBatch { offset: i64, reason: String },
}

impl AgentError {
    /// The Kafka error code a client should see for this error.
    pub fn code(&self) -> i16 {
        match self {
            AgentError::Meta(MetaError::TopicExists { .. }) => ResponseError::TopicAlreadyExists.code(),
            AgentError::Meta(MetaError::UnknownTopic { .. }) => ResponseError::UnknownTopicOrPartition.code(),
            AgentError::Meta(MetaError::BadPartitionCount { .. }) => ResponseError::InvalidPartitions.code(),
            AgentError::Meta(_) | AgentError::Storage(_) => ResponseError::KafkaStorageError.code(),
            AgentError::BadStoredBatch { .. } => ResponseError::CorruptMessage.code(),
        }
    }
}

/// The code a producer gets for a batch whose records are refused: CORRUPT_MESSAGE when the payload cannot be
/// decompressed (or its codec is unknown), MESSAGE_TOO_LARGE when it decompresses past the bound,
/// INVALID_RECORD for malformed records, as Kafka answers its `InvalidRecordException` since KIP-467.
pub fn records_error_code(e: &RecordsError) -> i16 {
    match e {
        // A deterministic refusal: CORRUPT_MESSAGE would make Kafka clients retry the same batch.
        RecordsError::TooLarge { .. } => ResponseError::MessageTooLarge.code(),
        e if e.is_payload_error() => ResponseError::CorruptMessage.code(),
        _ => ResponseError::InvalidRecord.code(),
    }
}

impl From<weft_log::ReadError> for AgentError {
    fn from(e: weft_log::ReadError) -> Self {
        match e {
            weft_log::ReadError::Meta(e) => AgentError::Meta(e),
            weft_log::ReadError::Storage(e) => AgentError::Storage(e),
            weft_log::ReadError::BadStoredBatch { offset, reason } => AgentError::BadStoredBatch { offset, reason },
        }
    }
}
