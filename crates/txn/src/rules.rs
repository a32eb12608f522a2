//! The transaction state machine, as Kafka's TransactionCoordinator and TransactionMetadata define it. Pure
//! functions from the stored state and a request to the next state or a [`TxnError`]; the coordinator has
//! the metastore apply them atomically ([`weft_meta::Transactions::update_transaction`]).

use crate::TxnError;
use weft_meta::{PendingOffset, TransactionMeta, TxnPartition, TxnState, TxnWrite};

fn keep(meta: TransactionMeta) -> TxnWrite {
    TxnWrite { meta, publish_offsets: Vec::new() }
}

/// Kafka refuses to bump past this epoch and rotates to a new producer id instead.
const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

/// What InitProducerId asks for.
pub struct InitRequest {
    pub transactional_id: String,
    pub timeout_ms: i32,
    /// The producer id and epoch the client already holds (KIP-360), if any.
    pub expected: Option<(i64, i16)>,
    /// A fresh producer id, used if the id is new or its epochs are exhausted.
    pub fresh_producer_id: i64,
    pub now_ms: i64,
}

/// InitProducerId for a transactional id with no transaction in progress (an ongoing one is aborted first,
/// and a prepared one completed, by the coordinator): bumps the epoch, fencing earlier producers.
pub fn init(cur: Option<TransactionMeta>, req: InitRequest) -> Result<TxnWrite, TxnError> {
    let Some(mut m) = cur else {
        if req.expected.is_some_and(|(pid, _)| pid >= 0) {
            // A producer recovering an id this coordinator no longer knows (expired): start afresh.
            tracing::debug!(transactional_id = %req.transactional_id, "recovering producer of an unknown transactional id");
        }
        return Ok(keep(TransactionMeta {
            transactional_id: req.transactional_id,
            producer_id: req.fresh_producer_id,
            producer_epoch: 0,
            last_producer_epoch: -1,
            state: TxnState::Empty,
            timeout_ms: req.timeout_ms,
            start_ms: -1,
            updated_ms: req.now_ms,
            partitions: Vec::new(),
            groups: Vec::new(),
            pending_offsets: Vec::new(),
        }));
    };
    if m.state == TxnState::Ongoing || m.state.is_prepared() {
        return Err(TxnError::ConcurrentTransactions);
    }
    if let Some((pid, epoch)) = req.expected
        && !(pid == m.producer_id && (epoch == m.producer_epoch || epoch == m.last_producer_epoch))
    {
        return Err(TxnError::ProducerFenced);
    }
    match req.expected {
        Some((_, epoch)) if epoch != m.producer_epoch && epoch == m.last_producer_epoch => {
            // A retry of a call that already bumped: hand back the current epoch.
        }
        expected => {
            if m.producer_epoch >= EPOCH_EXHAUSTED {
                m.producer_id = req.fresh_producer_id;
                m.producer_epoch = 0;
                m.last_producer_epoch = -1;
            } else {
                m.last_producer_epoch = if expected.is_some() { m.producer_epoch } else { -1 };
                m.producer_epoch += 1;
            }
        }
    }
    m.state = TxnState::Empty;
    m.timeout_ms = req.timeout_ms;
    m.start_ms = -1;
    m.updated_ms = req.now_ms;
    m.partitions.clear();
    m.groups.clear();
    m.pending_offsets.clear();
    Ok(keep(m))
}

/// The checks shared by AddPartitionsToTxn and AddOffsetsToTxn.
fn check_member(cur: Option<&TransactionMeta>, producer_id: i64, epoch: i16) -> Result<&TransactionMeta, TxnError> {
    let m = cur.ok_or(TxnError::InvalidProducerIdMapping)?;
    if m.producer_id != producer_id {
        return Err(TxnError::InvalidProducerIdMapping);
    }
    if m.producer_epoch != epoch {
        return Err(TxnError::ProducerFenced);
    }
    if m.state.is_prepared() {
        return Err(TxnError::ConcurrentTransactions);
    }
    Ok(m)
}

fn begin_if_needed(m: &mut TransactionMeta, now_ms: i64) {
    if m.state != TxnState::Ongoing {
        m.state = TxnState::Ongoing;
        m.start_ms = now_ms;
    }
    m.updated_ms = now_ms;
}

/// AddPartitionsToTxn: the partitions join the transaction, which starts if none is ongoing.
pub fn add_partitions(
    cur: Option<TransactionMeta>,
    producer_id: i64,
    epoch: i16,
    partitions: &[TxnPartition],
    now_ms: i64,
) -> Result<TxnWrite, TxnError> {
    let mut m = check_member(cur.as_ref(), producer_id, epoch)?.clone();
    begin_if_needed(&mut m, now_ms);
    for p in partitions {
        if !m.partitions.contains(p) {
            m.partitions.push(p.clone());
        }
    }
    m.partitions.sort();
    Ok(keep(m))
}

/// AddOffsetsToTxn: the group's offsets become part of the transaction.
pub fn add_group(
    cur: Option<TransactionMeta>,
    producer_id: i64,
    epoch: i16,
    group: &str,
    now_ms: i64,
) -> Result<TxnWrite, TxnError> {
    let mut m = check_member(cur.as_ref(), producer_id, epoch)?.clone();
    begin_if_needed(&mut m, now_ms);
    if !m.groups.iter().any(|g| g == group) {
        m.groups.push(group.to_string());
        m.groups.sort();
    }
    Ok(keep(m))
}

/// TxnOffsetCommit: stages offsets, published to the group only if the transaction commits. The group must
/// have been added with AddOffsetsToTxn in this transaction (KIP-890's verification for offsets).
pub fn stage_offsets(
    cur: Option<TransactionMeta>,
    producer_id: i64,
    epoch: i16,
    offsets: Vec<PendingOffset>,
    now_ms: i64,
) -> Result<TxnWrite, TxnError> {
    let m = cur.ok_or(TxnError::InvalidProducerIdMapping)?;
    if m.producer_id != producer_id {
        return Err(TxnError::InvalidProducerIdMapping);
    }
    if epoch < m.producer_epoch {
        return Err(TxnError::ProducerFenced);
    }
    if epoch != m.producer_epoch || m.state != TxnState::Ongoing || offsets.iter().any(|o| !m.groups.contains(&o.group))
    {
        return Err(TxnError::InvalidTxnState);
    }
    let mut m = m;
    for o in offsets {
        m.pending_offsets.retain(|p| {
            !(p.group == o.group && p.offset.topic == o.offset.topic && p.offset.partition == o.offset.partition)
        });
        m.pending_offsets.push(o);
    }
    m.updated_ms = now_ms;
    Ok(keep(m))
}

/// EndTxn from the client: records the decision. Errors follow Kafka's handleEndTransaction. The flag is
/// true when markers must now be written, false for a retry of an end that already completed the same way.
pub fn prepare_end(
    cur: Option<TransactionMeta>,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    now_ms: i64,
) -> Result<(TxnWrite, bool), TxnError> {
    let mut m = cur.ok_or(TxnError::InvalidProducerIdMapping)?;
    if m.producer_id != producer_id {
        return Err(TxnError::InvalidProducerIdMapping);
    }
    if epoch != m.producer_epoch {
        return Err(TxnError::ProducerFenced);
    }
    let same = |s: TxnState| s == if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
    let preparing = |s: TxnState| s == if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
    match m.state {
        TxnState::Ongoing => {
            m.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
            m.updated_ms = now_ms;
            Ok((keep(m), true))
        }
        s if same(s) => Ok((keep(m), false)),
        s if preparing(s) => Err(TxnError::ConcurrentTransactions),
        _ => Err(TxnError::InvalidTxnState),
    }
}

/// A coordinator-initiated abort (timeout, or a new producer fencing an ongoing transaction): the epoch is
/// bumped so the old producer is fenced; with `recoverable` it may still recover with InitProducerId (KIP-588).
pub fn prepare_fence(cur: Option<TransactionMeta>, recoverable: bool, now_ms: i64) -> Result<TxnWrite, TxnError> {
    let mut m = cur.ok_or(TxnError::InvalidProducerIdMapping)?;
    if m.state != TxnState::Ongoing {
        return Err(TxnError::InvalidTxnState);
    }
    if m.producer_epoch < i16::MAX {
        m.last_producer_epoch = if recoverable { m.producer_epoch } else { -1 };
        m.producer_epoch += 1;
    }
    m.state = TxnState::PrepareAbort;
    m.updated_ms = now_ms;
    Ok(keep(m))
}

/// Whether `cur` is still the prepared transaction `expected`, not a later one of the same producer and epoch
/// prepared the same way: a later one started (and was prepared) after it, and may span other partitions.
fn same_transaction(cur: &TransactionMeta, expected: &TransactionMeta) -> bool {
    let sorted = |m: &TransactionMeta| {
        let mut p: Vec<(uuid::Uuid, i32)> = m.partitions.iter().map(|p| (p.topic_id, p.partition)).collect();
        p.sort_unstable();
        p
    };
    (cur.producer_id, cur.producer_epoch, cur.state, cur.start_ms, cur.updated_ms)
        == (expected.producer_id, expected.producer_epoch, expected.state, expected.start_ms, expected.updated_ms)
        && sorted(cur) == sorted(expected)
}

/// After every marker is written: the transaction completes, and a commit publishes its staged offsets.
pub fn complete(cur: Option<TransactionMeta>, expected: &TransactionMeta, now_ms: i64) -> Result<TxnWrite, TxnError> {
    let mut m = cur.ok_or(TxnError::InvalidProducerIdMapping)?;
    if !same_transaction(&m, expected) {
        // Someone else completed it meanwhile (and the producer may have prepared its next one).
        return Err(TxnError::ConcurrentTransactions);
    }
    let commit = match m.state {
        TxnState::PrepareCommit => true,
        TxnState::PrepareAbort => false,
        _ => return Err(TxnError::InvalidTxnState),
    };
    m.state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
    m.start_ms = -1;
    m.updated_ms = now_ms;
    m.partitions.clear();
    m.groups.clear();
    let staged = std::mem::take(&mut m.pending_offsets);
    Ok(TxnWrite { meta: m, publish_offsets: if commit { staged } else { Vec::new() } })
}

#[cfg(test)]
mod tests;
