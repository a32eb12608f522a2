//! Request dispatch: decode the header, check the API and version against the supported table, decode the
//! body and route it to its handler with the request's [`RequestContext`] (who sent it). Handlers authorize
//! each resource they touch through [`crate::request::authorize`].

use crate::Agent;
use crate::admin_audit;
use crate::handlers;
use crate::request::{CloseReason, Completion, RequestContext, ready, respond};
use crate::routing;
use crate::throttle::{Usage, stamp, throttle_of};
use bytes::Bytes;
use futures::FutureExt;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::*;
use std::sync::Arc;
use weft_listener::{Handler, Session};
use weft_protocol::request::{RequestError, decode_header};
use weft_protocol::{decode_body, peek_header, versions};

/// The principal of an unauthenticated client, as Kafka names it.
const ANONYMOUS: &str = "User:ANONYMOUS";

/// The agent as the listener's request handler.
pub struct KafkaApi(pub Arc<Agent>);

impl Handler for KafkaApi {
    type Close = CloseReason;

    async fn handle(&self, session: &Session, frame: Bytes) -> Result<Completion, CloseReason> {
        dispatch(&self.0, session, frame).await
    }
}

/// Handles one request frame. What must happen in arrival order (validation, buffering a produce) is done
/// before this returns; the returned completion may then run concurrently with later requests.
pub async fn dispatch(agent: &Arc<Agent>, session: &Session, frame: Bytes) -> Result<Completion, CloseReason> {
    let peek = peek_header(&frame)?;
    if peek.api_key == ApiKey::ApiVersions as i16 && !versions::is_supported(peek.api_key, peek.api_version) {
        // Kafka answers an unsupported ApiVersions version with v0 and UNSUPPORTED_VERSION, so that the
        // client can retry with a version from the list.
        let body = handlers::api_versions::response(ResponseError::UnsupportedVersion.code());
        return Ok(ready(respond(ApiKey::ApiVersions, 0, peek.correlation_id, &body)));
    }
    if !versions::is_supported(peek.api_key, peek.api_version) {
        if ApiKey::try_from(peek.api_key).is_err() {
            return Err(RequestError::UnknownApiKey { api_key: peek.api_key }.into());
        }
        return Err(CloseReason::UnsupportedVersion { api_key: peek.api_key, version: peek.api_version });
    }
    let frame_len = frame.len();
    let (header, api, body) = decode_header(frame)?;
    let v = header.api_version;
    let api_name = api_label(api);
    metrics::counter!("weft_requests_total", "api" => api_name, "version" => version_label(v)).increment(1);
    let started = std::time::Instant::now();
    let cid = header.correlation_id;
    let ctx = RequestContext {
        client_id: header.client_id.clone().unwrap_or_default(),
        peer: session.peer,
        listener: session.listener.clone(),
        principal: session.principal.clone().unwrap_or_else(|| ANONYMOUS.to_string()),
        acl: agent.authorizer.as_ref().map(|a| a.policy()),
        audit: agent.audit.clone(),
    };
    // Quotas: nothing is measured unless one is configured.
    let mut usage = Usage::start(agent, &ctx, api);
    macro_rules! simple {
        ($req:ty, $handler:path) => {{
            let req: $req = decode_body(api, v, body)?;
            let resp = stamp($handler(agent, &ctx, req, v).await, throttle_of(&usage));
            ready(respond(api, v, cid, &resp))
        }};
    }
    // An admin change: its handler wrapped by the audit of its resources.
    macro_rules! audited {
        ($req:ty, $handler:path) => {{
            let req: $req = decode_body(api, v, body)?;
            let resp = admin_audit::run(&ctx, req, |req| $handler(agent, &ctx, req, v)).await;
            ready(respond(api, v, cid, &stamp(resp, throttle_of(&usage))))
        }};
    }
    // A group or transaction request for a key another agent coordinates is refused before its handler.
    macro_rules! routed {
        ($req:ty, $route:path, $handler:path) => {{
            let req: $req = decode_body(api, v, body)?;
            let resp = match $route(agent, &ctx, &req) {
                Some(refused) => refused,
                None => $handler(agent, &ctx, req, v).await,
            };
            ready(respond(api, v, cid, &stamp(resp, throttle_of(&usage))))
        }};
    }
    // An admin change for a key another agent coordinates: refused before its handler, audited either way.
    macro_rules! audited_routed {
        ($req:ty, $route:path, $handler:path) => {{
            let req: $req = decode_body(api, v, body)?;
            let resp = admin_audit::run(&ctx, req, |req| async {
                match $route(agent, &ctx, &req) {
                    Some(refused) => refused,
                    None => $handler(agent, &ctx, req, v).await,
                }
            })
            .await;
            ready(respond(api, v, cid, &stamp(resp, throttle_of(&usage))))
        }};
    }
    let completion = match api {
        // Versions Kafka 4 removed (KIP-896) go through the Kafka 3.9 codec, then the same handlers.
        _ if versions::is_legacy(api as i16, v) => ready(crate::legacy::handle(agent, &ctx, api, v, cid, body).await),
        ApiKey::ApiVersions => {
            let _req: ApiVersionsRequest = decode_body(api, v, body)?;
            ready(respond(api, v, cid, &handlers::api_versions::response(0)))
        }
        ApiKey::Produce => {
            let req: ProduceRequest = decode_body(api, v, body)?;
            if let Some(u) = usage.as_mut() {
                u.record(agent, weft_quota::QuotaKind::Produce, frame_len as f64);
            }
            handlers::produce::handle(agent.clone(), &ctx, req, v, cid, throttle_of(&usage)).await
        }
        ApiKey::Fetch => {
            let req: FetchRequest = decode_body(api, v, body)?;
            let agent = agent.clone();
            // A fetch's quotas are applied once its bytes are known, in its completion.
            let (usage, mute) = (usage.take(), session.mute.clone());
            async move {
                let resp = handlers::fetch::handle(&agent, &ctx, req, v).await;
                let resp = match usage {
                    Some(u) => crate::throttle::fetch(u, &agent, &mute, v, resp).await,
                    None => resp,
                };
                weft_protocol::encode_fetch_response(v, cid, &resp)
                    .map(Some)
                    .map_err(|e| CloseReason::Encode(e.to_string()))
            }
            .boxed()
        }
        ApiKey::Metadata => simple!(MetadataRequest, handlers::metadata::handle),
        ApiKey::FindCoordinator => simple!(FindCoordinatorRequest, handlers::groups::find_coordinator),
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode_body(api, v, body)?;
            if let Some(refused) = routing::join_group(agent, &ctx, &req, v) {
                return Ok(ready(respond(api, v, cid, &stamp(refused, throttle_of(&usage)))));
            }
            let (agent, ms) = (agent.clone(), throttle_of(&usage));
            async move { respond(api, v, cid, &stamp(handlers::groups::join(&agent, &ctx, req, v).await, ms)) }.boxed()
        }
        ApiKey::ConsumerGroupHeartbeat => routed!(
            ConsumerGroupHeartbeatRequest,
            routing::consumer_group_heartbeat,
            handlers::consumer_group::heartbeat
        ),
        ApiKey::ShareGroupHeartbeat => {
            routed!(ShareGroupHeartbeatRequest, routing::share_group_heartbeat, handlers::share_group::heartbeat)
        }
        ApiKey::ShareGroupDescribe => simple!(ShareGroupDescribeRequest, handlers::share_group::describe),
        ApiKey::ShareFetch => {
            let req: ShareFetchRequest = decode_body(api, v, body)?;
            let (agent, ms) = (agent.clone(), throttle_of(&usage));
            async move { respond(api, v, cid, &stamp(handlers::share_fetch::handle(&agent, &ctx, req, v).await, ms)) }
                .boxed()
        }
        ApiKey::ShareAcknowledge => simple!(ShareAcknowledgeRequest, handlers::share_acknowledge::handle),
        ApiKey::DescribeShareGroupOffsets => {
            simple!(DescribeShareGroupOffsetsRequest, handlers::share_offsets::describe)
        }
        ApiKey::AlterShareGroupOffsets => audited_routed!(
            AlterShareGroupOffsetsRequest,
            routing::alter_share_group_offsets,
            handlers::share_offsets::alter
        ),
        ApiKey::DeleteShareGroupOffsets => audited_routed!(
            DeleteShareGroupOffsetsRequest,
            routing::delete_share_group_offsets,
            handlers::share_offsets::delete
        ),
        ApiKey::ConsumerGroupDescribe => simple!(ConsumerGroupDescribeRequest, routing::consumer_group_describe),
        ApiKey::SyncGroup => {
            let req: SyncGroupRequest = decode_body(api, v, body)?;
            if let Some(refused) = routing::sync_group(agent, &ctx, &req) {
                return Ok(ready(respond(api, v, cid, &stamp(refused, throttle_of(&usage)))));
            }
            let (agent, ms) = (agent.clone(), throttle_of(&usage));
            async move { respond(api, v, cid, &stamp(handlers::groups::sync(&agent, &ctx, req, v).await, ms)) }.boxed()
        }
        ApiKey::InitProducerId => {
            routed!(InitProducerIdRequest, routing::init_producer_id, handlers::init_producer_id::handle)
        }
        ApiKey::AddPartitionsToTxn => simple!(AddPartitionsToTxnRequest, routing::add_partitions_to_txn),
        ApiKey::AddOffsetsToTxn => {
            routed!(AddOffsetsToTxnRequest, routing::add_offsets_to_txn, handlers::txn::add_offsets)
        }
        ApiKey::TxnOffsetCommit => {
            routed!(TxnOffsetCommitRequest, routing::txn_offset_commit, handlers::txn::offset_commit)
        }
        ApiKey::EndTxn => routed!(EndTxnRequest, routing::end_txn, handlers::txn::end),
        ApiKey::DescribeTransactions => simple!(DescribeTransactionsRequest, routing::describe_transactions),
        ApiKey::ListTransactions => simple!(ListTransactionsRequest, routing::list_transactions),
        ApiKey::DescribeProducers => simple!(DescribeProducersRequest, handlers::txn_admin::describe_producers),
        ApiKey::Heartbeat => routed!(HeartbeatRequest, routing::heartbeat, handlers::groups::heartbeat),
        ApiKey::LeaveGroup => routed!(LeaveGroupRequest, routing::leave_group, handlers::groups::leave),
        ApiKey::ListGroups => simple!(ListGroupsRequest, routing::list_groups),
        ApiKey::DescribeGroups => simple!(DescribeGroupsRequest, routing::describe_groups),
        ApiKey::DeleteGroups => audited!(DeleteGroupsRequest, routing::delete_groups),
        ApiKey::OffsetCommit => routed!(OffsetCommitRequest, routing::offset_commit, handlers::offsets::commit),
        ApiKey::OffsetDelete => {
            let req: OffsetDeleteRequest = decode_body(api, v, body)?;
            let resp = admin_audit::run(&ctx, req, |req| async {
                match routing::offset_delete(agent, &ctx, &req) {
                    Some(refused) => refused,
                    None => handlers::offsets::delete(agent, &ctx, req, v).await,
                }
            })
            .await;
            ready(respond(api, v, cid, &stamp(resp, throttle_of(&usage))))
        }
        ApiKey::OffsetFetch => simple!(OffsetFetchRequest, routing::offset_fetch),
        ApiKey::ListOffsets => simple!(ListOffsetsRequest, handlers::list_offsets::handle),
        ApiKey::CreateTopics => audited!(CreateTopicsRequest, handlers::topics::create),
        ApiKey::DeleteTopics => audited!(DeleteTopicsRequest, handlers::topics::delete),
        ApiKey::CreatePartitions => audited!(CreatePartitionsRequest, handlers::topics::create_partitions),
        ApiKey::DescribeConfigs => simple!(DescribeConfigsRequest, handlers::configs::describe),
        ApiKey::AlterConfigs => audited!(AlterConfigsRequest, handlers::alter_configs::alter),
        ApiKey::IncrementalAlterConfigs => {
            audited!(IncrementalAlterConfigsRequest, handlers::alter_configs::incremental)
        }
        ApiKey::DeleteRecords => audited!(DeleteRecordsRequest, handlers::delete_records::handle),
        ApiKey::DescribeLogDirs => simple!(DescribeLogDirsRequest, handlers::log_dirs::handle),
        ApiKey::DescribeCluster => simple!(DescribeClusterRequest, handlers::cluster::describe),
        ApiKey::DescribeUserScramCredentials => {
            simple!(DescribeUserScramCredentialsRequest, handlers::scram_credentials::describe)
        }
        ApiKey::AlterUserScramCredentials => {
            audited!(AlterUserScramCredentialsRequest, handlers::scram_credentials::alter)
        }
        // A listener without SASL, or a connection already authenticated outside a re-authentication.
        ApiKey::SaslHandshake => {
            let _req: SaslHandshakeRequest = decode_body(api, v, body)?;
            let resp = SaslHandshakeResponse::default().with_error_code(ResponseError::IllegalSaslState.code());
            ready(respond(api, v, cid, &resp))
        }
        ApiKey::SaslAuthenticate => {
            let _req: SaslAuthenticateRequest = decode_body(api, v, body)?;
            let resp = SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code())
                .with_error_message(Some(handlers::str_bytes(
                    "SaslAuthenticate is not expected on this connection now",
                )));
            ready(respond(api, v, cid, &resp))
        }
        ApiKey::DescribeClientQuotas => simple!(DescribeClientQuotasRequest, handlers::quotas::describe),
        ApiKey::AlterClientQuotas => audited!(AlterClientQuotasRequest, handlers::quotas::alter),
        ApiKey::CreateAcls => audited!(CreateAclsRequest, handlers::acls::create),
        ApiKey::DescribeAcls => simple!(DescribeAclsRequest, handlers::acls::describe),
        ApiKey::DeleteAcls => audited!(DeleteAclsRequest, handlers::acls::delete),
        other => {
            // The supported table and this match must agree; a mismatch is a bug, reported not panicked.
            tracing::error!(api = ?other, "api is advertised but has no handler");
            return Err(CloseReason::UnsupportedVersion { api_key: other as i16, version: v });
        }
    };
    let completion = match usage {
        Some(u) => u.finish(agent, &session.mute, api, v, completion),
        None => completion,
    };
    Ok(completion
        .map(move |r| {
            metrics::histogram!("weft_request_duration_seconds", "api" => api_name)
                .record(started.elapsed().as_secs_f64());
            r
        })
        .boxed())
}

/// A request version as a static label (versions are checked against the supported table before this).
fn version_label(v: i16) -> &'static str {
    const LABELS: [&str; 20] =
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19"];
    usize::try_from(v).ok().and_then(|i| LABELS.get(i)).copied().unwrap_or("other")
}

/// The API's name as Kafka spells it (a static label, no allocation per request).
fn api_label(api: ApiKey) -> &'static str {
    versions::SUPPORTED_APIS.iter().find(|a| a.key == api).map(|a| a.name).unwrap_or("Unknown")
}
