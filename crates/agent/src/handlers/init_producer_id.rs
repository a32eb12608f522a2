//! InitProducerId. Without a transactional id each call gets a fresh producer id from the metastore (as
//! Kafka does for idempotent producers), so ids are unique across restarts and agents; sequence numbers are
//! checked in the segment commit transaction (see `weft_meta`). With one, the transaction coordinator
//! bumps the id's epoch, fencing earlier producers and aborting their unfinished transaction (`weft_txn`).
//! As in Kafka, a transactional producer needs WRITE on its id; an idempotent one IDEMPOTENT_WRITE on the
//! cluster or WRITE on some topic.

use crate::Agent;
use crate::error::{KafkaCode, fenced_compat};
use crate::request::{Operation, RequestContext, Resource, authorize};
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

pub async fn handle(
    agent: &Agent,
    ctx: &RequestContext,
    req: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let fail = |code: i16| {
        InitProducerIdResponse::default().with_error_code(code).with_producer_id(ProducerId(-1)).with_producer_epoch(-1)
    };
    let ok = |id: i64, epoch: i16| {
        InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(epoch)
    };
    // KIP-360 (v3+): a producer may name the id and epoch it holds to have the epoch bumped.
    let expected = (version >= 3 && req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
    if let Some(txn_id) = req.transactional_id.as_ref().filter(|t| !t.is_empty()) {
        if let Err(denied) = authorize(ctx, Operation::Write, Resource::TransactionalId(txn_id)) {
            return fail(denied.code());
        }
        return match agent.txns.init(txn_id, req.transaction_timeout_ms, expected).await {
            Ok((id, epoch)) => ok(id, epoch),
            // Before v4 clients do not know PRODUCER_FENCED; Kafka sends INVALID_PRODUCER_EPOCH instead.
            Err(e) => fail(fenced_compat(e.code(), version, 4)),
        };
    }
    let idempotent = authorize(ctx, Operation::IdempotentWrite, Resource::Cluster)
        .or_else(|denied| authorize(ctx, Operation::Write, Resource::AnyTopic).map_err(|_| denied));
    if let Err(denied) = idempotent {
        return fail(denied.code());
    }
    // Like Kafka, an idempotent producer always gets a fresh id, even when it names the one it holds.
    match agent.meta.allocate_producer_id().await {
        Ok(id) => {
            tracing::debug!(producer_id = id, "allocated producer id");
            ok(id, 0)
        }
        Err(e) => {
            tracing::warn!(error = %e, "producer id allocation failed");
            // Producer ids are the transaction coordinator's to hand out, as in Kafka.
            fail(weft_txn::TxnError::CoordinatorNotAvailable.code())
        }
    }
}
