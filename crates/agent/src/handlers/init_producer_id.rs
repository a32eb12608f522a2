//! InitProducerId. Without a transactional id each call gets a fresh producer id from the metastore (as
//! Kafka does for idempotent producers), so ids are unique across restarts and agents; sequence numbers are
//! checked in the segment commit transaction (see `weft_meta`). With one, the transaction coordinator
//! bumps the id's epoch, fencing earlier producers and aborting their unfinished transaction (`weft_txn`).
//! As in Kafka, a transactional producer needs WRITE on its id (an empty id is then INVALID_REQUEST, as
//! Kafka's transaction coordinator answers); an idempotent one (null id) IDEMPOTENT_WRITE on the cluster or
//! WRITE on some topic, else CLUSTER_AUTHORIZATION_FAILED. A producer id without its epoch, or the reverse, is
//! INVALID_REQUEST.

use crate::Agent;
use crate::error::{KafkaCode, fenced_compat};
use crate::request::{Operation, RequestContext, Resource, authorize, visible};
use kafka_protocol::ResponseError;
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
    if let Err(code) = may_init(ctx, req.transactional_id.as_ref().map(|t| t.as_str())) {
        return fail(code);
    }
    // KIP-360 (v3+): a producer may name the id and epoch it holds to have the epoch bumped; naming only one
    // of the two is INVALID_REQUEST, as in Kafka.
    if (req.producer_id.0 == -1) != (req.producer_epoch == -1) {
        return fail(ResponseError::InvalidRequest.code());
    }
    let expected = (version >= 3 && req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
    if let Some(txn_id) = req.transactional_id.as_ref() {
        if txn_id.is_empty() {
            return fail(ResponseError::InvalidRequest.code());
        }
        return match agent.txns.init(txn_id, req.transaction_timeout_ms, expected).await {
            Ok((id, epoch)) => ok(id, epoch),
            // Before v4 clients do not know PRODUCER_FENCED; Kafka sends INVALID_PRODUCER_EPOCH instead.
            Err(e) => fail(fenced_compat(e.code(), version, 4)),
        };
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

/// Kafka's check: WRITE on a named transactional id (the empty one included); without one, IDEMPOTENT_WRITE
/// on the cluster or else WRITE on some topic (`authorizeByResourceType`), refused as
/// CLUSTER_AUTHORIZATION_FAILED. The probes are not audited; the refusal is, once.
fn may_init(ctx: &RequestContext, transactional_id: Option<&str>) -> Result<(), i16> {
    match transactional_id {
        Some(id) => authorize(ctx, Operation::Write, Resource::TransactionalId(id)).map_err(|d| d.code()),
        None if visible(ctx, Operation::IdempotentWrite, Resource::Cluster)
            || visible(ctx, Operation::Write, Resource::AnyTopic) =>
        {
            Ok(())
        }
        None => authorize(ctx, Operation::IdempotentWrite, Resource::Cluster).map_err(|d| d.code()),
    }
}
