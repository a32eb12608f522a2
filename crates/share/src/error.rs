//! What can go wrong acknowledging records or rebuilding a partition from its stored state.

/// A refused acknowledgement; nothing of the call was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// Malformed: bad ranges or types, or offsets past what was ever acquired (Kafka's INVALID_REQUEST).
    #[error("invalid acknowledgement: {reason}")]
    InvalidRequest { reason: String },
    /// Offsets not acquired by this member (another holds them, their lock expired, they are already
    /// acknowledged or below the start offset): Kafka's INVALID_RECORD_STATE.
    #[error("offsets {first}..={last} are not acquired by member {member:?}: {reason}")]
    InvalidRecordState { first: i64, last: i64, member: String, reason: &'static str },
}

impl AckError {
    /// The Kafka error code to answer with.
    pub fn error_code(&self) -> i16 {
        match self {
            AckError::InvalidRequest { .. } => 42,
            AckError::InvalidRecordState { .. } => 121,
        }
    }
}

/// Stored state that cannot be a share partition's (it is not loaded; the partition is not served).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("stored share state of {group}/{topic_id}/{partition} is corrupt: {reason}")]
    Corrupt { group: String, topic_id: String, partition: i32, reason: String },
}
