//! Why the transaction coordinator refused a step. The rules and the coordinator answer with these typed
//! outcomes; the agent turns them into Kafka error codes in one place (`weft_agent::error`).

/// A refusal of the transaction coordinator, named after the Kafka error the client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    #[error("the transaction timeout is not positive or exceeds transaction.max.timeout.ms")]
    InvalidTransactionTimeout,
    #[error("the producer id or epoch has been superseded by a newer producer")]
    ProducerFenced,
    /// What request versions older than KIP-588 are told instead of [`TxnError::ProducerFenced`].
    #[error("the producer epoch is not the transaction's current one")]
    InvalidProducerEpoch,
    #[error("another step of the transaction is in progress")]
    ConcurrentTransactions,
    #[error("the producer id does not own the transactional id")]
    InvalidProducerIdMapping,
    #[error("the transaction is not in a state that allows this step")]
    InvalidTxnState,
    #[error("the transaction state store is unavailable")]
    CoordinatorNotAvailable,
}
