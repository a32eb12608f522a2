//! Record-level handling of v2 batches: decompression with a hard size bound, a walk over every record that
//! trusts no count or length in the bytes, the produce-path validator built on it (Kafka's `LogValidator`
//! rules), and a bounded decoder of stored batches into `kafka_protocol` records.
//!
//! Every count decoded from the bytes is checked against the bytes actually present before it is used, so a
//! small hostile batch can cost at most its own size plus the decompression bound.

pub mod decode;
pub mod decompress;
mod lz4_frame;
pub mod validate;
pub mod walk;

pub use decode::{DecodedRecords, decode_records};
pub use decompress::{MAX_DECOMPRESSED_BYTES, decompress};
pub use validate::{
    BatchSummary, MAX_LISTED_RECORD_ERRORS, ValidateOptions, batch_payload, create_time_rewrite_needed,
    set_create_time_max_timestamp, validate_batch, validate_records,
};
pub use walk::{Mode, RecordView, walk};

use crate::batch::BatchError;

/// Why a batch's records are refused (produce) or cannot be read (stored data).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordsError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("unknown compression codec {codec} in batch attributes")]
    UnknownCodec { codec: i16 },
    #[error("{codec} payload cannot be decompressed: {reason}")]
    Decompress { codec: &'static str, reason: String },
    #[error("{codec} payload decompresses to more than {limit} bytes")]
    TooLarge { codec: &'static str, limit: usize },
    #[error("record {index}: {field} runs past the end of the batch")]
    Truncated { index: u32, field: &'static str },
    #[error("record {index}: {field} varint is too long")]
    VarintTooLong { index: u32, field: &'static str },
    #[error("record {index}: {field} length {value} is invalid")]
    BadLength { index: u32, field: &'static str, value: i64 },
    #[error("record {index}: header count {count} cannot fit in the {left} bytes left")]
    HeaderCount { index: u32, count: i32, left: usize },
    #[error("record {index}: declared length {declared} but its fields take {used} bytes")]
    LengthMismatch { index: u32, declared: usize, used: usize },
    #[error("record {index}: offset delta {delta} where {expected} was expected")]
    OffsetDelta { index: u32, delta: i32, expected: String },
    #[error("batch declares {declared} records but holds {found}")]
    CountMismatch { declared: i32, found: u32 },
    #[error("producer batch holds no records")]
    NoRecords,
    #[error("batch declares last offset delta {declared} but its last record has {found}")]
    LastOffsetDelta { declared: i32, found: i32 },
}

impl RecordsError {
    /// True when the batch's compressed payload itself is bad (codec, decompression, size bound), as opposed
    /// to the records inside it. Kafka answers the former with CORRUPT_MESSAGE and the latter with
    /// INVALID_RECORD (its `InvalidRecordException`).
    pub fn is_payload_error(&self) -> bool {
        matches!(
            self,
            RecordsError::Batch(_)
                | RecordsError::UnknownCodec { .. }
                | RecordsError::Decompress { .. }
                | RecordsError::TooLarge { .. }
        )
    }
}

#[cfg(test)]
mod tests;
