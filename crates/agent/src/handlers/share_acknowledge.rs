//! ShareAcknowledge v1 (KIP-932): acknowledgements without a fetch, under the share session's epoch rules
//! (epoch 0 is refused: acknowledgements need a session; -1 applies them, then closes the session and
//! releases every record the member still holds on its partitions). Every acknowledged partition is
//! answered with its outcome.

use super::share_partitions::{self as sp, Resolver, Tp, WireAck};
use super::str_bytes;
use crate::Agent;
use crate::request::RequestContext;
use crate::share::sessions::Partitions;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::{BrokerId, ShareAcknowledgeRequest, ShareAcknowledgeResponse};
use std::collections::BTreeMap;
use weft_log::LEADER_EPOCH;

fn top(code: i16, message: String) -> ShareAcknowledgeResponse {
    ShareAcknowledgeResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
}

pub async fn handle(
    agent: &std::sync::Arc<Agent>,
    ctx: &RequestContext,
    mut req: ShareAcknowledgeRequest,
    _v: i16,
) -> ShareAcknowledgeResponse {
    let admitted = sp::admit(agent, ctx, req.group_id.as_deref().map(|g| &**g), req.member_id.as_deref()).await;
    let (group, member, settings) = match admitted {
        Ok(admitted) => admitted,
        Err((code, message)) => return top(code, message),
    };
    let mut acks: BTreeMap<Tp, Vec<WireAck>> = BTreeMap::new();
    for t in std::mem::take(&mut req.topics) {
        for p in t.partitions {
            acks.entry((t.topic_id, p.partition_index)).or_default().extend(
                p.acknowledgement_batches.into_iter().map(|b| (b.first_offset, b.last_offset, b.acknowledge_types)),
            );
        }
    }
    let key = (group.clone(), member.clone());
    // The partitions of a session closed by this request (epoch -1): released once its acknowledgements are in.
    let mut closing = None;
    match req.share_session_epoch {
        0 => {
            return top(
                ResponseError::InvalidShareSessionEpoch.code(),
                "acknowledgements need a share session: epoch 0 is not allowed".into(),
            );
        }
        -1 => match agent.share.sessions.close(&key) {
            Ok(parts) => closing = Some(parts),
            Err(e) => return top(e.code(), e.to_string()),
        },
        epoch => {
            let none = Partitions::new();
            if let Err(e) = agent.share.sessions.advance(&key, epoch, &none, &none, agent.clock.now_ms()) {
                return top(e.code(), e.to_string());
            }
        }
    }
    let mut resolver = Resolver::new(agent, ctx);
    let acked = sp::acknowledge(agent, &mut resolver, &group, &member, &settings, &acks).await;
    if let Some(parts) = closing {
        crate::share::release(agent, &group, &member, &parts).await;
    }
    let mut topics: BTreeMap<uuid::Uuid, Vec<PartitionData>> = BTreeMap::new();
    for (tp, ((code, message), refused)) in &acked {
        let leader = refused.map_or(-1, |r| r.leader);
        let epoch = if leader >= 0 { LEADER_EPOCH } else { -1 };
        crate::metrics::error("ShareAcknowledge", *code);
        topics.entry(tp.0).or_default().push(
            PartitionData::default()
                .with_partition_index(tp.1)
                .with_error_code(*code)
                .with_error_message(message.clone().map(str_bytes))
                .with_current_leader(LeaderIdAndEpoch::default().with_leader_id(leader).with_leader_epoch(epoch)),
        );
    }
    let endpoints = sp::leaders(resolver.brokers(), acked.values().filter_map(|(_, r)| *r))
        .into_iter()
        .map(|m| {
            NodeEndpoint::default()
                .with_node_id(BrokerId(m.node_id))
                .with_host(str_bytes(m.host.clone()))
                .with_port(m.port)
        })
        .collect();
    ShareAcknowledgeResponse::default()
        .with_responses(
            topics
                .into_iter()
                .map(|(id, ps)| ShareAcknowledgeTopicResponse::default().with_topic_id(id).with_partitions(ps))
                .collect(),
        )
        .with_node_endpoints(endpoints)
}
