//! What every request carries through the agent: who sent it ([`RequestContext`]), the one authorization
//! check ([`authorize`]), and how its response is produced ([`Completion`], [`respond`], [`CloseReason`]).
//! Handlers and dispatch both depend on this module; handlers never depend on dispatch.

use futures::FutureExt;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;
use weft_protocol::request::RequestError;
use weft_protocol::{Chunks, encode_response};

/// Why a connection must be closed (Kafka closes it for these too).
#[derive(Debug, thiserror::Error)]
pub enum CloseReason {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("unsupported version {version} of api key {api_key}")]
    UnsupportedVersion { api_key: i16, version: i16 },
    #[error("response could not be encoded: {0}")]
    Encode(String),
    /// SASL authentication failed or was not attempted; `last_words` is answered before closing.
    #[error("{reason}")]
    Authentication { reason: String, last_words: Option<Chunks> },
}

/// The response of one request, in the making. `None` means no response is sent (acks=0 produce).
pub type Completion = weft_listener::Completion<CloseReason>;

pub fn respond<R: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Option<Chunks>, CloseReason> {
    encode_response(api, version, correlation_id, body)
        .map(|frame| Some(Chunks::from(frame)))
        .map_err(|e| CloseReason::Encode(e.to_string()))
}

/// A response already made: one frame (as one buffer or as chunks), or none.
pub fn ready<F: Into<Chunks>>(r: Result<Option<F>, CloseReason>) -> Completion {
    futures::future::ready(r.map(|frame| frame.map(Into::into))).boxed()
}

/// Who sent a request: the connection's identity plus the client id of the request header. Built once per
/// request by dispatch and handed to every handler.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client_id: String,
    pub peer: std::net::SocketAddr,
    /// The listener the request arrived on.
    pub listener: std::sync::Arc<str>,
    /// The authenticated principal, as Kafka names it (`User:ANONYMOUS` on a plaintext listener).
    pub principal: String,
    /// The ACL policy in force when the request arrived (one snapshot for the whole request); `None` without
    /// an authorizer, when everything is allowed.
    pub acl: Option<std::sync::Arc<weft_acl::Policy>>,
    /// Where a denial or an admin change is recorded.
    pub audit: std::sync::Arc<weft_audit::AuditLog>,
}

/// Kafka's ACL operations that Weft's APIs check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Operation::Read => "READ",
            Operation::Write => "WRITE",
            Operation::Create => "CREATE",
            Operation::Delete => "DELETE",
            Operation::Alter => "ALTER",
            Operation::Describe => "DESCRIBE",
            Operation::DescribeConfigs => "DESCRIBE_CONFIGS",
            Operation::AlterConfigs => "ALTER_CONFIGS",
            Operation::ClusterAction => "CLUSTER_ACTION",
            Operation::IdempotentWrite => "IDEMPOTENT_WRITE",
        };
        f.write_str(name)
    }
}

/// Kafka's ACL resources, named as a request names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Cluster,
    Topic(&'a str),
    Group(&'a str),
    TransactionalId(&'a str),
    /// Some topic, whichever: Kafka's `authorizeByResourceType` (may the principal do the operation on at
    /// least one topic?), which InitProducerId asks of idempotent producers.
    AnyTopic,
}

impl Operation {
    /// The operation as an ACL names it.
    pub fn acl(self) -> weft_acl::AclOperation {
        use weft_acl::AclOperation as A;
        match self {
            Operation::Read => A::Read,
            Operation::Write => A::Write,
            Operation::Create => A::Create,
            Operation::Delete => A::Delete,
            Operation::Alter => A::Alter,
            Operation::Describe => A::Describe,
            Operation::DescribeConfigs => A::DescribeConfigs,
            Operation::AlterConfigs => A::AlterConfigs,
            Operation::ClusterAction => A::ClusterAction,
            Operation::IdempotentWrite => A::IdempotentWrite,
        }
    }
}

/// The kind of a [`Resource`], without its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Cluster,
    Topic,
    Group,
    TransactionalId,
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            ResourceKind::Cluster => "cluster",
            ResourceKind::Topic => "topic",
            ResourceKind::Group => "group",
            ResourceKind::TransactionalId => "transactional id",
        };
        f.write_str(name)
    }
}

impl ResourceKind {
    /// The resource type as Kafka's ACLs name it (`TOPIC`, `TRANSACTIONAL_ID`).
    pub fn acl_name(self) -> &'static str {
        match self {
            ResourceKind::Cluster => "CLUSTER",
            ResourceKind::Topic => "TOPIC",
            ResourceKind::Group => "GROUP",
            ResourceKind::TransactionalId => "TRANSACTIONAL_ID",
        }
    }

    /// The resource type as an ACL names it.
    pub fn acl(self) -> weft_acl::ResourceType {
        match self {
            ResourceKind::Cluster => weft_acl::ResourceType::Cluster,
            ResourceKind::Topic => weft_acl::ResourceType::Topic,
            ResourceKind::Group => weft_acl::ResourceType::Group,
            ResourceKind::TransactionalId => weft_acl::ResourceType::TransactionalId,
        }
    }
}

impl Resource<'_> {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Resource::Cluster => ResourceKind::Cluster,
            Resource::Topic(_) | Resource::AnyTopic => ResourceKind::Topic,
            Resource::Group(_) => ResourceKind::Group,
            Resource::TransactionalId(_) => ResourceKind::TransactionalId,
        }
    }

    /// The resource's name as Kafka's ACLs name it (`kafka-cluster` for the cluster, `*` for any topic).
    pub fn name(&self) -> &str {
        match self {
            Resource::Cluster => "kafka-cluster",
            Resource::AnyTopic => "*",
            Resource::Topic(n) | Resource::Group(n) | Resource::TransactionalId(n) => n,
        }
    }
}

/// A refused authorization; [`Denied::code`] is the Kafka error for the resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{principal} may not {operation} {kind} {name:?}")]
pub struct Denied {
    pub principal: String,
    pub operation: Operation,
    pub kind: ResourceKind,
    pub name: String,
}

impl Denied {
    /// TOPIC_/GROUP_/TRANSACTIONAL_ID_/CLUSTER_AUTHORIZATION_FAILED, as Kafka answers for the resource.
    pub fn error(&self) -> kafka_protocol::ResponseError {
        use kafka_protocol::ResponseError as E;
        match self.kind {
            ResourceKind::Topic => E::TopicAuthorizationFailed,
            ResourceKind::Group => E::GroupAuthorizationFailed,
            ResourceKind::TransactionalId => E::TransactionalIdAuthorizationFailed,
            ResourceKind::Cluster => E::ClusterAuthorizationFailed,
        }
    }

    pub fn code(&self) -> i16 {
        self.error().code()
    }
}

/// The one authorization decision of the agent: every check of every handler comes here. A denial is
/// logged here, once per check (handlers check once per resource, not per partition).
pub fn authorize(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> Result<(), Denied> {
    if allows(ctx, operation, resource) {
        tracing::trace!(principal = %ctx.principal, %operation, ?resource, "authorized");
        return Ok(());
    }
    let d = Denied {
        principal: ctx.principal.clone(),
        operation,
        kind: resource.kind(),
        name: resource.name().to_string(),
    };
    tracing::debug!(principal = %ctx.principal, client_id = %ctx.client_id, peer = %ctx.peer, listener = %ctx.listener, %operation, resource = %d.kind, name = %d.name, "request denied");
    ctx.audit.record(weft_audit::AuditEvent::Denied {
        principal: d.principal.clone(),
        client: ctx.peer.to_string(),
        client_id: ctx.client_id.clone(),
        listener: ctx.listener.to_string(),
        operation: operation.to_string(),
        resource_type: d.kind.acl_name().to_string(),
        resource_name: d.name.clone(),
    });
    Err(d)
}

/// [`authorize`] for filtering what a response shows (topics in Metadata, groups in ListGroups): a resource
/// left out is not a denial to audit, as Kafka's authorizer does not log these (`logIfDenied = false`).
pub fn visible(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> bool {
    allows(ctx, operation, resource)
}

/// The policy: without an authorizer everything is allowed (as Kafka without `authorizer.class.name`);
/// with one, the request's ACL snapshot decides (super users, ACLs, `allow.everyone.if.no.acl.found`).
fn allows(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> bool {
    #[cfg(test)]
    if checks::note(ctx, operation, resource) {
        return false;
    }
    decide(ctx, operation, resource)
}

/// Whether [`authorize`] would allow this, asked without logging or recording a check: for routing, which
/// decides where a request is answered before its handler makes the checks that count.
pub fn permits(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> bool {
    #[cfg(test)]
    if checks::denies(ctx, operation, resource) {
        return false;
    }
    decide(ctx, operation, resource)
}

fn decide(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> bool {
    let Some(policy) = &ctx.acl else { return true };
    let host = ctx.peer.ip();
    match resource {
        Resource::AnyTopic => policy.allows_any(&ctx.principal, host, operation.acl(), weft_acl::ResourceType::Topic),
        r => policy.allows(&ctx.principal, host, operation.acl(), r.kind().acl(), r.name()),
    }
}

/// [`authorize`] as the error code a response carries: the form most handlers need.
pub fn check(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> Result<(), i16> {
    authorize(ctx, operation, resource).map_err(|d| d.code())
}

/// Kafka's rule for creating a topic (CreateTopics, auto-creation): CREATE on the cluster, or else on the
/// topic. A denial names the topic (TOPIC_AUTHORIZATION_FAILED).
pub fn may_create_topic(ctx: &RequestContext, topic: &str) -> Result<(), Denied> {
    // The cluster-wide check is a probe (Kafka does not log its denial); the topic's is the one that counts.
    if visible(ctx, Operation::Create, Resource::Cluster) {
        return Ok(());
    }
    authorize(ctx, Operation::Create, Resource::Topic(topic))
}

/// Test-only record of the checks [`authorize`] was asked to make, and rules that make it deny, both per
/// client id (tests run concurrently in one process; each uses its own client id).
#[cfg(test)]
pub mod checks {
    use super::{Operation, RequestContext, Resource, ResourceKind};
    use std::sync::Mutex;

    /// One check: operation, resource kind, resource name.
    pub type Check = (Operation, ResourceKind, String);

    static SEEN: Mutex<Vec<(String, Check)>> = Mutex::new(Vec::new());
    static DENY: Mutex<Vec<(String, Check)>> = Mutex::new(Vec::new());

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a check; true when a rule denies it.
    pub(super) fn note(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> bool {
        let check = (operation, resource.kind(), resource.name().to_string());
        let deny = lock(&DENY).iter().any(|(c, d)| *c == ctx.client_id && *d == check);
        lock(&SEEN).push((ctx.client_id.clone(), check));
        deny
    }

    /// Whether a rule denies the check (nothing recorded).
    pub(super) fn denies(ctx: &RequestContext, operation: Operation, resource: Resource<'_>) -> bool {
        let check = (operation, resource.kind(), resource.name().to_string());
        lock(&DENY).iter().any(|(c, d)| *c == ctx.client_id && *d == check)
    }

    /// Takes the checks recorded for `client_id`, in order.
    pub fn take(client_id: &str) -> Vec<Check> {
        let mut seen = lock(&SEEN);
        let (mine, rest): (Vec<_>, Vec<_>) = seen.drain(..).partition(|(c, _)| c == client_id);
        *seen = rest;
        mine.into_iter().map(|(_, check)| check).collect()
    }

    /// Makes [`super::authorize`] deny `operation` on `resource` to `client_id`.
    pub fn deny(client_id: &str, operation: Operation, resource: Resource<'_>) {
        lock(&DENY).push((client_id.to_string(), (operation, resource.kind(), resource.name().to_string())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::ResponseError as E;

    fn ctx(client_id: &str) -> RequestContext {
        RequestContext {
            client_id: client_id.into(),
            peer: "127.0.0.1:9".parse().unwrap(),
            listener: "PLAINTEXT".into(),
            principal: "User:ANONYMOUS".into(),
            acl: None,
            audit: Default::default(),
        }
    }

    #[test]
    fn each_resource_kind_has_its_kafka_error() {
        let cases = [
            (Resource::Cluster, E::ClusterAuthorizationFailed),
            (Resource::Topic("orders"), E::TopicAuthorizationFailed),
            (Resource::AnyTopic, E::TopicAuthorizationFailed),
            (Resource::Group("g"), E::GroupAuthorizationFailed),
            (Resource::TransactionalId("t"), E::TransactionalIdAuthorizationFailed),
        ];
        for (resource, error) in cases {
            let c = ctx("denied-code-test");
            checks::deny("denied-code-test", Operation::Read, resource);
            let d = authorize(&c, Operation::Read, resource).unwrap_err();
            assert_eq!(d.error(), error, "{resource:?}");
            assert_eq!(d.code(), error.code(), "{resource:?}");
            assert_eq!(check(&c, Operation::Read, resource), Err(error.code()));
        }
        assert_eq!(E::ClusterAuthorizationFailed.code(), 31);
        assert_eq!(E::TopicAuthorizationFailed.code(), 29);
        assert_eq!(E::GroupAuthorizationFailed.code(), 30);
        assert_eq!(E::TransactionalIdAuthorizationFailed.code(), 53);
    }

    #[test]
    fn everything_is_allowed_without_acls() {
        let c = ctx("allow-all-test");
        for op in [Operation::Read, Operation::Write, Operation::Create, Operation::Delete, Operation::Alter] {
            for r in [Resource::Cluster, Resource::Topic("t"), Resource::Group("g"), Resource::TransactionalId("x")] {
                assert_eq!(authorize(&c, op, r), Ok(()));
            }
        }
        assert_eq!(checks::take("allow-all-test").len(), 20);
    }

    #[test]
    fn with_an_acl_policy_the_snapshot_decides() {
        use weft_acl::{AclBinding, AclOperation as A, PatternType, Permission, Policy, ResourceType as T};
        let allow = |rt: T, name: &str, op: A| AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: PatternType::Literal,
            principal: "User:ANONYMOUS".into(),
            host: "127.0.0.1".into(),
            operation: op,
            permission: Permission::Allow,
        };
        let acls = [allow(T::Topic, "orders", A::Write), allow(T::Group, "g", A::Read)];
        let mut c = ctx("acl-policy-test");
        c.acl = Some(std::sync::Arc::new(Policy::new(&acls, Vec::new(), false)));
        assert_eq!(authorize(&c, Operation::Write, Resource::Topic("orders")), Ok(()));
        assert_eq!(authorize(&c, Operation::Describe, Resource::Topic("orders")), Ok(()), "implied by WRITE");
        assert_eq!(check(&c, Operation::Read, Resource::Topic("orders")), Err(E::TopicAuthorizationFailed.code()));
        assert_eq!(check(&c, Operation::Read, Resource::Group("h")), Err(E::GroupAuthorizationFailed.code()));
        assert!(permits(&c, Operation::Read, Resource::Group("g")));
        assert!(permits(&c, Operation::Write, Resource::AnyTopic), "WRITE on some topic");
        assert!(!permits(&c, Operation::IdempotentWrite, Resource::Cluster));
        c.peer = "10.0.0.1:9".parse().unwrap();
        assert!(!permits(&c, Operation::Write, Resource::Topic("orders")), "the ACLs name another host");
        checks::take("acl-policy-test");
    }

    #[test]
    fn denial_names_principal_operation_and_resource() {
        let c = ctx("denied-message-test");
        checks::deny("denied-message-test", Operation::Write, Resource::Topic("orders"));
        let d = authorize(&c, Operation::Write, Resource::Topic("orders")).unwrap_err();
        assert_eq!(d.to_string(), "User:ANONYMOUS may not WRITE topic \"orders\"");
    }

    #[test]
    fn topic_creation_needs_create_on_the_cluster_or_the_topic() {
        let c = ctx("create-rule-test");
        assert!(may_create_topic(&c, "t").is_ok());
        assert_eq!(
            checks::take("create-rule-test"),
            vec![(Operation::Create, ResourceKind::Cluster, "kafka-cluster".into())]
        );
        checks::deny("create-rule-test", Operation::Create, Resource::Cluster);
        assert!(may_create_topic(&c, "t").is_ok());
        checks::deny("create-rule-test", Operation::Create, Resource::Topic("t"));
        assert_eq!(may_create_topic(&c, "t").unwrap_err().code(), E::TopicAuthorizationFailed.code());
    }
}
