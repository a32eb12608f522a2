//! Transaction coordinator state, one record per transactional id.

use crate::{Refused, Result, TransactionMeta, TxnState, TxnUpdate};
use async_trait::async_trait;

/// What transactions own: the coordinator's state of each transactional id (producer id and epoch, state,
/// partitions and groups in the transaction, offsets staged for commit).
///
/// Invariants: [`Transactions::update_transaction`] is an atomic read-modify-write of one transactional id:
/// concurrent updates of the same id serialise, a refusal stores nothing, and offsets a committing
/// transaction publishes land in the same transaction. The state machine itself lives in the agent.
///
/// Used by: the agent's transaction coordinator (AddPartitionsToTxn, EndTxn, recovery of timed-out
/// transactions), DescribeTransactions/ListTransactions, and transactional-id expiry.
#[async_trait]
pub trait Transactions: Send + Sync + 'static {
    /// Atomically reads one transactional id's state, applies `update` and stores what it returns (with the
    /// offsets it publishes). A refusal changes nothing and is handed back.
    async fn update_transaction(
        &self,
        transactional_id: &str,
        update: TxnUpdate<'_>,
    ) -> Result<std::result::Result<TransactionMeta, Refused>>;

    /// One transactional id's state.
    async fn transaction(&self, transactional_id: &str) -> Result<Option<TransactionMeta>>;

    /// Every transactional id (without partitions, groups and pending offsets), optionally only those in `states`.
    async fn list_transactions(&self, states: Option<&[TxnState]>) -> Result<Vec<TransactionMeta>>;

    /// Forgets transactional ids with no transaction in progress, not used since `older_than_ms`
    /// (transactional.id.expiration.ms). Returns how many were removed.
    async fn expire_transactions(&self, older_than_ms: i64) -> Result<u64>;
}
