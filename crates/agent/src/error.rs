//! The one place where outcomes become Kafka error codes.
//!
//! The services answer with typed outcomes: the group coordinator with [`GroupError`], the transaction
//! coordinator with [`TxnError`], the log with [`FlushFailure`] and the metastore's [`AppendOutcome`],
//! the topic configs with [`ConfigError`], the record walk with [`RecordsError`] and [`BatchError`], the
//! metastore with [`MetaError`]; the log's reader with [`ReadError`]. None of them knows a Kafka code. [`KafkaCode`] maps
//! each of them here, and its table test is the specification of that mapping.
//!
//! Handlers still write `ResponseError::X.code()` themselves for the protocol's own rules about a request
//! (an invalid topic name, a malformed or contradictory request, a partition index outside the topic, a
//! request version's limits, answers a Kafka broker gives by convention such as OPERATION_NOT_ATTEMPTED):
//! those are checks of the request, not outcomes of a service.

use kafka_protocol::ResponseError;
use weft_groups::GroupError;
use weft_log::{FlushFailure, FlushFailureKind, ReadError};
use weft_meta::{AppendOutcome, MetaError};
use weft_protocol::batch::BatchError;
use weft_protocol::records::RecordsError;
use weft_topics::config::ConfigError;
use weft_txn::TxnError;

/// The Kafka error code a client receives for an outcome (0 when it is a success).
pub trait KafkaCode {
    fn code(&self) -> i16;
}

/// A refused group config: INVALID_CONFIG, as Kafka answers its `InvalidConfigurationException`.
impl KafkaCode for weft_groups::config::GroupConfigError {
    fn code(&self) -> i16 {
        ResponseError::InvalidConfig.code()
    }
}

/// Reading stored batches back (fetch, ListOffsets by time).
impl KafkaCode for ReadError {
    fn code(&self) -> i16 {
        match self {
            ReadError::Meta(e) => e.code(),
            ReadError::Storage(_) => ResponseError::KafkaStorageError.code(),
            ReadError::BadStoredBatch { .. } => ResponseError::CorruptMessage.code(),
        }
    }
}

/// The metastore's refusals of a topic change, and KAFKA_STORAGE_ERROR for any failure of the store itself.
/// (The coordinators answer their own store's failures as an unavailable coordinator: see [`GroupError`]
/// and [`TxnError`].)
impl KafkaCode for MetaError {
    fn code(&self) -> i16 {
        match self {
            MetaError::TopicExists { .. } => ResponseError::TopicAlreadyExists.code(),
            MetaError::UnknownTopic { .. } => ResponseError::UnknownTopicOrPartition.code(),
            MetaError::BadPartitionCount { .. } => ResponseError::InvalidPartitions.code(),
            _ => ResponseError::KafkaStorageError.code(),
        }
    }
}

/// A producer's batch whose records are refused: CORRUPT_MESSAGE when the payload cannot be decompressed (or
/// its codec is unknown), MESSAGE_TOO_LARGE when it decompresses past the bound, INVALID_RECORD for malformed
/// records, as Kafka answers its `InvalidRecordException` since KIP-467.
impl KafkaCode for RecordsError {
    fn code(&self) -> i16 {
        match self {
            // A deterministic refusal: CORRUPT_MESSAGE would make Kafka clients retry the same batch.
            RecordsError::TooLarge { .. } => ResponseError::MessageTooLarge.code(),
            e if e.is_payload_error() => ResponseError::CorruptMessage.code(),
            _ => ResponseError::InvalidRecord.code(),
        }
    }
}

/// A produce request's records that do not split into v2 batches.
impl KafkaCode for BatchError {
    fn code(&self) -> i16 {
        match self {
            BatchError::UnsupportedMagic { .. } => ResponseError::UnsupportedForMessageFormat.code(),
            _ => ResponseError::CorruptMessage.code(),
        }
    }
}

/// A flush that failed answers every producer waiting on it.
impl KafkaCode for FlushFailure {
    fn code(&self) -> i16 {
        match self.kind {
            FlushFailureKind::Storage => ResponseError::KafkaStorageError.code(),
            // Clients look for the partition's leader again, and find another agent.
            FlushFailureKind::ShuttingDown => ResponseError::NotLeaderOrFollower.code(),
        }
    }
}

/// The metastore's verdict on one appended batch.
impl KafkaCode for AppendOutcome {
    fn code(&self) -> i16 {
        match self {
            AppendOutcome::Appended { .. } | AppendOutcome::Duplicate { .. } => 0,
            AppendOutcome::UnknownPartition => ResponseError::UnknownTopicOrPartition.code(),
            AppendOutcome::OutOfOrderSequence => ResponseError::OutOfOrderSequenceNumber.code(),
            AppendOutcome::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch.code(),
            AppendOutcome::UnknownProducerId => ResponseError::UnknownProducerId.code(),
            AppendOutcome::InvalidTxnState => ResponseError::InvalidTxnState.code(),
            AppendOutcome::MarkerFenced => ResponseError::TransactionCoordinatorFenced.code(),
        }
    }
}

/// A topic or cluster config that cannot be set: INVALID_CONFIG, whatever the reason.
impl KafkaCode for ConfigError {
    fn code(&self) -> i16 {
        ResponseError::InvalidConfig.code()
    }
}

impl KafkaCode for GroupError {
    fn code(&self) -> i16 {
        let e = match self {
            GroupError::InvalidGroupId => ResponseError::InvalidGroupId,
            GroupError::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout,
            GroupError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
            GroupError::MemberIdRequired => ResponseError::MemberIdRequired,
            GroupError::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached,
            GroupError::UnknownMemberId => ResponseError::UnknownMemberId,
            GroupError::FencedInstanceId => ResponseError::FencedInstanceId,
            GroupError::IllegalGeneration => ResponseError::IllegalGeneration,
            GroupError::RebalanceInProgress => ResponseError::RebalanceInProgress,
            GroupError::NotCoordinator => ResponseError::NotCoordinator,
            GroupError::NonEmptyGroup => ResponseError::NonEmptyGroup,
            GroupError::GroupIdNotFound => ResponseError::GroupIdNotFound,
            GroupError::InvalidRequest => ResponseError::InvalidRequest,
            GroupError::UnsupportedAssignor => ResponseError::UnsupportedAssignor,
            GroupError::FencedMemberEpoch => ResponseError::FencedMemberEpoch,
            GroupError::StaleMemberEpoch => ResponseError::StaleMemberEpoch,
            GroupError::InvalidRegularExpression => ResponseError::InvalidRegularExpression,
            GroupError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        };
        e.code()
    }
}

impl KafkaCode for TxnError {
    fn code(&self) -> i16 {
        let e = match self {
            TxnError::InvalidTransactionTimeout => ResponseError::InvalidTransactionTimeout,
            TxnError::ProducerFenced => ResponseError::ProducerFenced,
            TxnError::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch,
            TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
            TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
            TxnError::InvalidTxnState => ResponseError::InvalidTxnState,
            TxnError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        };
        e.code()
    }
}

/// The code of an outcome that may be a success (0).
impl<E: KafkaCode> KafkaCode for Result<(), E> {
    fn code(&self) -> i16 {
        self.as_ref().err().map_or(0, E::code)
    }
}

/// PRODUCER_FENCED arrived with KIP-588: a request older than version `since` gets INVALID_PRODUCER_EPOCH
/// instead, as Kafka sends.
pub fn fenced_compat(code: i16, version: i16, since: i16) -> i16 {
    if code == TxnError::ProducerFenced.code() && version < since {
        TxnError::InvalidProducerEpoch.code()
    } else {
        code
    }
}

#[cfg(test)]
mod tests;
