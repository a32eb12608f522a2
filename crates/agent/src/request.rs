//! What every request carries through the agent: who sent it ([`RequestContext`]), the one authorization
//! check ([`authorize`]), and how its response is produced ([`Completion`], [`respond`], [`CloseReason`]).
//! Handlers and dispatch both depend on this module; handlers never depend on dispatch.

use bytes::Bytes;
use futures::FutureExt;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;
use weft_protocol::encode_response;
use weft_protocol::request::RequestError;

/// Why a connection must be closed (Kafka closes it for these too).
#[derive(Debug, thiserror::Error)]
pub enum CloseReason {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("unsupported version {version} of api key {api_key}")]
    UnsupportedVersion { api_key: i16, version: i16 },
    #[error("response could not be encoded: {0}")]
    Encode(String),
}

/// The response of one request, in the making. `None` means no response is sent (acks=0 produce).
pub type Completion = weft_listener::Completion<CloseReason>;

pub fn respond<R: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Option<Bytes>, CloseReason> {
    encode_response(api, version, correlation_id, body).map(Some).map_err(|e| CloseReason::Encode(e.to_string()))
}

pub fn ready(r: Result<Option<Bytes>, CloseReason>) -> Completion {
    futures::future::ready(r).boxed()
}

/// Who sent a request: the connection's identity plus the client id of the request header. Built once per
/// request by dispatch and handed to every handler.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client_id: String,
    pub peer: std::net::SocketAddr,
    /// The listener the request arrived on.
    pub listener: &'static str,
    /// The authenticated principal, as Kafka names it (`User:ANONYMOUS` on a plaintext listener).
    pub principal: String,
}

/// Kafka's ACL operations that Weft's APIs check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    DescribeConfigs,
    AlterConfigs,
    ClusterAction,
    IdempotentWrite,
}

/// Kafka's ACL resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Cluster,
    Topic(&'a str),
    Group(&'a str),
    TransactionalId(&'a str),
}

/// A refused authorization; [`Denied::code`] is the Kafka error for the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{principal_kind} may not {operation:?} {resource_kind}")]
pub struct Denied {
    pub operation: Operation,
    pub resource_kind: &'static str,
    pub principal_kind: &'static str,
}

impl Denied {
    /// TOPIC_/GROUP_/TRANSACTIONAL_ID_/CLUSTER_AUTHORIZATION_FAILED, as Kafka answers.
    pub fn code(&self) -> i16 {
        use kafka_protocol::ResponseError as E;
        match self.resource_kind {
            "topic" => E::TopicAuthorizationFailed.code(),
            "group" => E::GroupAuthorizationFailed.code(),
            "transactional_id" => E::TransactionalIdAuthorizationFailed.code(),
            _ => E::ClusterAuthorizationFailed.code(),
        }
    }
}

/// The one authorization decision of the agent. Every listener is unauthenticated today and every request is
/// allowed, as Kafka allows all without an authorizer; ACLs will change this function only.
pub fn authorize(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> Result<(), Denied> {
    tracing::trace!(principal = %ctx.principal, ?operation, ?resource, "authorized");
    Ok(())
}
