//! The mapping's specification: every typed outcome and the code a Kafka broker answers with.

use super::*;
use ResponseError as E;
use weft_storage::StorageError;

fn check<T: KafkaCode + std::fmt::Debug>(table: &[(T, Option<E>)]) {
    for (outcome, kafka) in table {
        assert_eq!(outcome.code(), kafka.map_or(0, |e| e.code()), "{outcome:?}");
    }
}

#[test]
fn group_errors() {
    use GroupError as G;
    let table = [
        (G::InvalidGroupId, E::InvalidGroupId),
        (G::InvalidSessionTimeout, E::InvalidSessionTimeout),
        (G::InconsistentGroupProtocol, E::InconsistentGroupProtocol),
        (G::MemberIdRequired, E::MemberIdRequired),
        (G::GroupMaxSizeReached, E::GroupMaxSizeReached),
        (G::UnknownMemberId, E::UnknownMemberId),
        (G::FencedInstanceId, E::FencedInstanceId),
        (G::IllegalGeneration, E::IllegalGeneration),
        (G::RebalanceInProgress, E::RebalanceInProgress),
        (G::NotCoordinator, E::NotCoordinator),
        (G::NonEmptyGroup, E::NonEmptyGroup),
        (G::GroupIdNotFound, E::GroupIdNotFound),
        (G::InvalidRequest, E::InvalidRequest),
        (G::UnsupportedAssignor, E::UnsupportedAssignor),
        (G::FencedMemberEpoch, E::FencedMemberEpoch),
        (G::StaleMemberEpoch, E::StaleMemberEpoch),
        (G::InvalidRegularExpression, E::InvalidRegularExpression),
        (G::CoordinatorNotAvailable, E::CoordinatorNotAvailable),
    ];
    for (g, e) in table {
        assert_eq!(g.code(), e.code(), "{g:?}");
        // ConsumerGroupHeartbeat sends the refusal's name as its message, as it did with Kafka's names.
        assert_eq!(format!("{g:?}"), format!("{e:?}"));
    }
    check(&[(Ok(()), None), (Err(G::UnknownMemberId), Some(E::UnknownMemberId))]);
}

#[test]
fn txn_errors() {
    use TxnError as T;
    check(&[
        (T::InvalidTransactionTimeout, Some(E::InvalidTransactionTimeout)),
        (T::ProducerFenced, Some(E::ProducerFenced)),
        (T::InvalidProducerEpoch, Some(E::InvalidProducerEpoch)),
        (T::ConcurrentTransactions, Some(E::ConcurrentTransactions)),
        (T::InvalidProducerIdMapping, Some(E::InvalidProducerIdMapping)),
        (T::InvalidTxnState, Some(E::InvalidTxnState)),
        (T::CoordinatorNotAvailable, Some(E::CoordinatorNotAvailable)),
    ]);
}

#[test]
fn producer_fenced_is_an_older_epoch_error_before_kip_588() {
    let fenced = E::ProducerFenced.code();
    assert_eq!(fenced_compat(fenced, 1, 2), E::InvalidProducerEpoch.code());
    assert_eq!(fenced_compat(fenced, 2, 2), fenced);
    assert_eq!(fenced_compat(E::InvalidTxnState.code(), 1, 2), E::InvalidTxnState.code());
    assert_eq!(fenced_compat(0, 0, 2), 0);
}

#[test]
fn flush_failures() {
    check(&[
        (FlushFailure::storage("bucket gone"), Some(E::KafkaStorageError)),
        (FlushFailure { kind: FlushFailureKind::ShuttingDown, message: "bye".into() }, Some(E::NotLeaderOrFollower)),
    ]);
}

#[test]
fn append_outcomes() {
    check(&[
        (AppendOutcome::Appended { base_offset: 3, log_start: 0 }, None),
        (AppendOutcome::Duplicate { base_offset: 3, log_start: 0 }, None),
        (AppendOutcome::UnknownPartition, Some(E::UnknownTopicOrPartition)),
        (AppendOutcome::OutOfOrderSequence, Some(E::OutOfOrderSequenceNumber)),
        (AppendOutcome::InvalidProducerEpoch, Some(E::InvalidProducerEpoch)),
        (AppendOutcome::UnknownProducerId, Some(E::UnknownProducerId)),
        (AppendOutcome::InvalidTxnState, Some(E::InvalidTxnState)),
        (AppendOutcome::MarkerFenced, Some(E::TransactionCoordinatorFenced)),
    ]);
}

#[test]
fn agent_errors() {
    let meta = |e: MetaError| ReadError::Meta(e);
    check(&[
        (meta(MetaError::TopicExists { name: "t".into() }), Some(E::TopicAlreadyExists)),
        (meta(MetaError::UnknownTopic { name: "t".into() }), Some(E::UnknownTopicOrPartition)),
        (meta(MetaError::BadPartitionCount { name: "t".into(), current: 3, requested: 2 }), Some(E::InvalidPartitions)),
        (meta(MetaError::Corrupt("x".into())), Some(E::KafkaStorageError)),
        (ReadError::Storage(StorageError::NotFound { key: "k".into() }), Some(E::KafkaStorageError)),
        (ReadError::BadStoredBatch { offset: 1, reason: "crc".into() }, Some(E::CorruptMessage)),
    ]);
}

#[test]
fn meta_errors() {
    check(&[
        (MetaError::TopicExists { name: "t".into() }, Some(E::TopicAlreadyExists)),
        (MetaError::UnknownTopic { name: "t".into() }, Some(E::UnknownTopicOrPartition)),
        (MetaError::BadPartitionCount { name: "t".into(), current: 3, requested: 2 }, Some(E::InvalidPartitions)),
        (MetaError::Corrupt("x".into()), Some(E::KafkaStorageError)),
        (MetaError::FilesChanged { reason: "moved".into() }, Some(E::KafkaStorageError)),
        (MetaError::SchemaTooNew { found: 9, supported: 8 }, Some(E::KafkaStorageError)),
    ]);
}

#[test]
fn records_and_batch_errors() {
    check(&[
        (RecordsError::TooLarge { codec: "zstd", limit: 10 }, Some(E::MessageTooLarge)),
        (RecordsError::UnknownCodec { codec: 5 }, Some(E::CorruptMessage)),
        (RecordsError::Decompress { codec: "gzip", reason: "bad".into() }, Some(E::CorruptMessage)),
        (RecordsError::Batch(BatchError::CrcMismatch { stored: 1, computed: 2 }), Some(E::CorruptMessage)),
        (RecordsError::NoRecords, Some(E::InvalidRecord)),
        (RecordsError::CountMismatch { declared: 2, found: 1 }, Some(E::InvalidRecord)),
    ]);
    check(&[
        (BatchError::UnsupportedMagic { magic: 1 }, Some(E::UnsupportedForMessageFormat)),
        (BatchError::Truncated { len: 3, need: 61 }, Some(E::CorruptMessage)),
        (BatchError::CrcMismatch { stored: 1, computed: 2 }, Some(E::CorruptMessage)),
    ]);
}

#[test]
fn config_errors() {
    check(&[
        (ConfigError::Unknown("x".into()), Some(E::InvalidConfig)),
        (ConfigError::NotDynamic("listeners".into()), Some(E::InvalidConfig)),
        (ConfigError::Invalid { name: "a".into(), value: "b".into(), reason: "c".into() }, Some(E::InvalidConfig)),
    ]);
}
