//! InitProducerId for idempotent producers. Each call gets a fresh producer id from the metastore (as Kafka
//! does for producers without a transactional id), so ids are unique across restarts and agents. Sequence
//! numbers are checked in the segment commit transaction (see `weft_meta`).

use crate::Agent;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

pub async fn init_producer_id(agent: &Agent, req: InitProducerIdRequest, _version: i16) -> InitProducerIdResponse {
    let fail = |e: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(e.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if req.transactional_id.as_ref().is_some_and(|t| !t.is_empty()) {
        tracing::warn!(transactional_id = %req.transactional_id.as_deref().map(|t| t.as_str()).unwrap_or_default(), "transactions are not supported yet");
        return fail(ResponseError::CoordinatorNotAvailable);
    }
    match agent.meta.allocate_producer_id().await {
        Ok(id) => {
            tracing::debug!(producer_id = id, "allocated producer id");
            InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(0)
        }
        Err(e) => {
            tracing::warn!(error = %e, "producer id allocation failed");
            fail(ResponseError::CoordinatorNotAvailable)
        }
    }
}
