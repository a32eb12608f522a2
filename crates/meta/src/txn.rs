//! Transaction coordinator state as the metastore keeps it. The state machine itself (which request may
//! move a transaction where) lives in the agent; the store offers an atomic read-modify-write of one
//! transaction ([`crate::Transactions::update_transaction`]) and applies the log-side rules (KIP-890
//! verification, last stable offset, aborted ranges) inside the segment commit.

use crate::CommittedOffset;
use uuid::Uuid;

/// Kafka's transaction states (TransactionState.java), with their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl TxnState {
    pub const ALL: [TxnState; 6] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
    ];

    /// The name Kafka's admin APIs use (ListTransactions, DescribeTransactions).
    pub fn as_str(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }

    pub fn parse(s: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A decision (commit or abort) is recorded but its markers are not all written yet.
    pub fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// A partition taking part in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TxnPartition {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// An offset commit made inside a transaction, published to the group when the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOffset {
    pub group: String,
    pub offset: CommittedOffset,
}

/// Everything the coordinator knows about one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionMeta {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump made by the coordinator itself (a timeout or a fence), -1 if none;
    /// KIP-360 lets a producer still holding it recover.
    pub last_producer_epoch: i16,
    pub state: TxnState,
    pub timeout_ms: i32,
    /// When the current transaction started (its first AddPartitions/AddOffsets), -1 outside a transaction.
    pub start_ms: i64,
    pub updated_ms: i64,
    pub partitions: Vec<TxnPartition>,
    pub groups: Vec<String>,
    pub pending_offsets: Vec<PendingOffset>,
}

/// The result of a transaction update: the new state, and offsets to publish to their groups in the same
/// metastore transaction (those of a committing transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnWrite {
    pub meta: TransactionMeta,
    pub publish_offsets: Vec<PendingOffset>,
}

/// An update refused by the caller's rules; the code is the caller's and is handed back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub i16);

/// The change applied by [`crate::Transactions::update_transaction`]: given the current state (if any), the
/// new one, or a refusal. It runs inside the metastore transaction and must not block.
pub type TxnUpdate<'a> = Box<dyn FnOnce(Option<TransactionMeta>) -> std::result::Result<TxnWrite, Refused> + Send + 'a>;

/// An aborted transaction's range in one partition (Fetch's aborted_transactions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The offset of the abort marker.
    pub last_offset: i64,
}

/// A producer active in a partition (DescribeProducers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub epoch: i16,
    pub last_sequence: i32,
    pub last_update_ms: i64,
    /// First offset of the producer's open transaction in the partition, -1 if none.
    pub txn_start_offset: i64,
}
