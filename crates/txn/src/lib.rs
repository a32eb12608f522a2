//! The transaction coordinator. Its state of record is in the metastore (so any agent can finish what
//! another started, and a restart loses nothing); this module sequences the steps: record a decision
//! (PrepareCommit/PrepareAbort), write a marker into every partition of the transaction through the
//! produce path, then complete it (publishing staged offsets on commit). A crash between steps leaves a
//! prepared transaction, which the periodic check completes; markers are idempotent in effect. The
//! metastore accepts a marker only while its transaction is prepared that way at the marker's epoch, so a
//! coordinator that lost the transaction (its markers answered `MarkerFenced`) gives up instead of completing.
//!
//! Steps for one transactional id are serialised by an in-process lock. With several agents, ownership of
//! a transactional id will come from a metastore lease; the lock is the seam for it.

mod error;
pub mod rules;

pub use error::TxnError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use weft_clock::Clock;
use weft_log::{Append, ProduceBuffer};
use weft_meta::{AppendOutcome, BatchKind, Refused, TransactionMeta, TxnState, TxnUpdate, TxnWrite};
use weft_meta::{Metastore, Producers, Transactions};
use weft_protocol::BatchHeader;
use weft_protocol::control::marker_batch;

/// Coordinator epoch written into markers (Weft has no coordinator failover epochs yet).
const COORDINATOR_EPOCH: i32 = 0;

/// Per-transactional-id locks.
#[derive(Default)]
struct TxnLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl TxnLocks {
    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 1024 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            match map.get(id).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(id.to_string(), Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

/// A failure of the metastore or the log during a step: logged here, answered as an unavailable coordinator.
fn unavailable(e: impl std::fmt::Display, what: &str, id: &str) -> TxnError {
    tracing::warn!(transactional_id = %id, error = %e, "{what} failed");
    TxnError::CoordinatorNotAvailable
}

/// The transaction coordinator of this agent: the metastore holds the state, the log takes the markers.
pub struct TxnCoordinator {
    /// Transaction state of record.
    meta: Arc<dyn Transactions>,
    /// Fresh producer ids for new transactional ids.
    producer_ids: Arc<dyn Producers>,
    log: ProduceBuffer,
    clock: Arc<dyn Clock>,
    /// Kafka's transaction.max.timeout.ms.
    max_timeout_ms: i32,
    locks: TxnLocks,
}

impl TxnCoordinator {
    pub fn new(meta: Arc<dyn Metastore>, log: ProduceBuffer, clock: Arc<dyn Clock>, max_timeout_ms: i32) -> Self {
        TxnCoordinator {
            meta: meta.clone(),
            producer_ids: meta,
            log,
            clock,
            max_timeout_ms,
            locks: TxnLocks::default(),
        }
    }

    /// Applies a rule to one transaction in the metastore.
    ///
    /// The metastore runs the rule inside its transaction and only needs to know that it refused
    /// ([`Refused`], whose number it hands back untouched). The typed refusal is kept aside here and
    /// returned instead, so no Kafka code is made on the way.
    async fn update<F>(&self, id: &str, rule: F) -> Result<TransactionMeta, TxnError>
    where
        F: FnOnce(Option<TransactionMeta>) -> Result<TxnWrite, TxnError> + Send,
    {
        let mut refusal = None;
        let update: TxnUpdate<'_> = Box::new(|cur| {
            rule(cur).map_err(|e| {
                refusal = Some(e);
                Refused(-1)
            })
        });
        let outcome = self.meta.update_transaction(id, update).await;
        match outcome {
            Ok(Ok(m)) => Ok(m),
            // The rule refused, so `refusal` is set; an absent one would be a metastore inventing refusals.
            Ok(Err(Refused(_))) => Err(refusal.unwrap_or(TxnError::CoordinatorNotAvailable)),
            Err(e) => Err(unavailable(e, "transaction update", id)),
        }
    }

    /// InitProducerId with a transactional id: aborts (fencing) an ongoing transaction, completes a prepared
    /// one, then bumps the epoch. Returns the producer id and epoch.
    pub async fn init(&self, id: &str, timeout_ms: i32, expected: Option<(i64, i16)>) -> Result<(i64, i16), TxnError> {
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout);
        }
        let _guard = self.locks.lock(id).await;
        let cur = self.meta.transaction(id).await.map_err(|e| unavailable(e, "transaction read", id))?;
        if let Some(cur) = &cur {
            if let Some((pid, epoch)) = expected
                && !(pid == cur.producer_id && (epoch == cur.producer_epoch || epoch == cur.last_producer_epoch))
            {
                return Err(TxnError::ProducerFenced);
            }
            if cur.state == TxnState::Ongoing {
                tracing::info!(transactional_id = %id, producer_id = cur.producer_id, epoch = cur.producer_epoch, "a new producer fences the ongoing transaction; aborting it");
                let now = self.clock.now_ms();
                let prepared = self.update(id, |c| rules::prepare_fence(c, false, now)).await?;
                self.finish(&prepared).await?;
            } else if cur.state.is_prepared() {
                self.finish(cur).await?;
            }
        }
        let needs_fresh = cur.as_ref().is_none_or(|c| c.producer_epoch >= i16::MAX - 1);
        let fresh_producer_id = if needs_fresh {
            self.producer_ids.allocate_producer_id().await.map_err(|e| unavailable(e, "producer id allocation", id))?
        } else {
            -1
        };
        let req = rules::InitRequest {
            transactional_id: id.to_string(),
            timeout_ms,
            expected,
            fresh_producer_id,
            now_ms: self.clock.now_ms(),
        };
        let m = self.update(id, |c| rules::init(c, req)).await?;
        tracing::debug!(transactional_id = %id, producer_id = m.producer_id, epoch = m.producer_epoch, "transactional producer initialised");
        Ok((m.producer_id, m.producer_epoch))
    }

    /// Runs one state change of an ongoing transaction under its lock (AddPartitions, AddOffsets, TxnOffsetCommit).
    pub async fn change<F>(&self, id: &str, rule: F) -> Result<TransactionMeta, TxnError>
    where
        F: FnOnce(Option<TransactionMeta>) -> Result<TxnWrite, TxnError> + Send,
    {
        let _guard = self.locks.lock(id).await;
        self.update(id, rule).await
    }

    /// EndTxn: records the decision, writes the markers and completes the transaction. Once the decision is
    /// recorded the answer is success even if markers could not be written yet (the periodic check finishes).
    pub async fn end(&self, id: &str, producer_id: i64, epoch: i16, commit: bool) -> Result<(), TxnError> {
        let _guard = self.locks.lock(id).await;
        let now = self.clock.now_ms();
        let mut prepared = false;
        let m = self
            .update(id, |c| {
                let (w, p) = rules::prepare_end(c, producer_id, epoch, commit, now)?;
                prepared = p;
                Ok(w)
            })
            .await?;
        if prepared && let Err(e) = self.finish(&m).await {
            tracing::warn!(transactional_id = %id, error = %e, "transaction decided but markers are not all written; will retry");
        }
        Ok(())
    }

    /// Writes the markers of a prepared transaction and completes it.
    async fn finish(&self, m: &TransactionMeta) -> Result<(), TxnError> {
        let commit = match m.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return Ok(()),
        };
        let now = self.clock.now_ms();
        let mut appends = Vec::with_capacity(m.partitions.len());
        for p in &m.partitions {
            let data = marker_batch(m.producer_id, m.producer_epoch, commit, COORDINATOR_EPOCH, now);
            let header =
                BatchHeader::parse(&data).map_err(|e| unavailable(e, "marker encoding", &m.transactional_id))?;
            appends.push(vec![Append {
                topic_id: p.topic_id,
                partition: p.partition,
                header,
                data,
                kind: BatchKind::Marker { commit },
            }]);
        }
        let outcomes = match self.log.submit(appends).await {
            Ok(rx) => rx.await.map_err(|_| TxnError::CoordinatorNotAvailable)?,
            Err(e) => Err(e),
        }
        .map_err(|e| unavailable(e.message, "marker write", &m.transactional_id))?;
        let mut fenced = false;
        for (p, o) in m.partitions.iter().zip(&outcomes) {
            match o {
                AppendOutcome::Appended { .. } | AppendOutcome::UnknownPartition => {}
                AppendOutcome::MarkerFenced => fenced = true,
                other => {
                    tracing::warn!(transactional_id = %m.transactional_id, topic = %p.topic, partition = p.partition, outcome = ?other, "marker refused")
                }
            }
        }
        if fenced {
            // The transaction was no longer being ended this way when a marker arrived: another coordinator
            // finished it (and the producer may have moved on). Completing it from here could complete a later
            // transaction whose markers this coordinator never wrote; the current owner finishes what is left.
            tracing::info!(transactional_id = %m.transactional_id, producer_id = m.producer_id, epoch = m.producer_epoch, "markers fenced: the transaction was ended elsewhere; giving up");
            return Err(TxnError::ConcurrentTransactions);
        }
        let expected = m.clone();
        let done = self.update(&m.transactional_id, |c| rules::complete(c, &expected, now)).await?;
        let result = if commit { "committed" } else { "aborted" };
        metrics::counter!("weft_transactions_total", "result" => result).increment(1);
        tracing::debug!(transactional_id = %m.transactional_id, state = done.state.as_str(), partitions = m.partitions.len(), "transaction completed");
        Ok(())
    }

    /// Aborts transactions past their timeout (fencing their producer, which may recover per KIP-588) and
    /// completes prepared ones left by a crash or a failed marker write.
    pub async fn check(&self) {
        self.check_where(|_| true).await
    }

    /// [`Self::check`] for the transactional ids `coordinated` accepts: with several agents, each checks only
    /// the ids it coordinates, so one transaction is never completed by two agents at once.
    pub async fn check_where(&self, coordinated: impl Fn(&str) -> bool) {
        let states = [TxnState::Ongoing, TxnState::PrepareCommit, TxnState::PrepareAbort];
        let txns = match self.meta.list_transactions(Some(&states)).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "transaction check failed");
                return;
            }
        };
        let now = self.clock.now_ms();
        for t in txns.into_iter().filter(|t| coordinated(&t.transactional_id)) {
            let id = t.transactional_id.clone();
            let expired = t.state == TxnState::Ongoing && t.start_ms + i64::from(t.timeout_ms) <= now;
            if !expired && !t.state.is_prepared() {
                continue;
            }
            let _guard = self.locks.lock(&id).await;
            let cur = match self.meta.transaction(&id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = %e, "transaction check failed");
                    continue;
                }
            };
            let result = if cur.state == TxnState::Ongoing && cur.start_ms == t.start_ms && expired {
                tracing::info!(transactional_id = %id, producer_id = cur.producer_id, timeout_ms = cur.timeout_ms, "transaction timed out; aborting");
                match self.update(&id, |c| rules::prepare_fence(c, true, now)).await {
                    Ok(m) => self.finish(&m).await,
                    Err(e) => Err(e),
                }
            } else if cur.state.is_prepared() {
                self.finish(&cur).await
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::warn!(transactional_id = %id, error = %e, "transaction check could not finish; will retry");
            }
        }
    }
}
