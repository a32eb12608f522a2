//! Who is calling an HTTP route of the agent, and whether they may (`--admin-auth`): [`HttpAuth`] holds the
//! settings, [`authenticated`] puts a layer on a router that resolves every request's [`Principal`] (or
//! answers 401), and [`cluster_describe_required`] one that asks the ACL authorizer for DESCRIBE on the
//! cluster (403 when denied). The admin listener uses both; the schema registry can use the first and its
//! own authorization, reading the [`Principal`] extractor in its handlers.
//!
//! Failed authentications are answered as SASL ones are: after `--connection-failed-authentication-delay-ms`,
//! audited (`authentication` events, mechanism `HTTP-BASIC` or `HTTP-MTLS`, listener `admin`) and counted
//! (`weft_http_authentications_total`), never saying whether the user exists. A request without any
//! credentials is answered 401 at once (it is the challenge a client without preemptive credentials needs,
//! not a failed login). Successful checks are audited, but not the requests Basic's memory answers.

use super::basic::{self, BasicVerifier, Verified};
use crate::authorizer::AclAuthorizer;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use weft_acl::{AclOperation, CLUSTER_NAME, ResourceType};
use weft_audit::{AuditEvent, AuditLog, Outcome};
use weft_config::{AdminAuth, AgentConfig};
use weft_http::Connection;

/// The challenge of a 401 (RFC 7617), realm `weft`.
pub const CHALLENGE: &str = "Basic realm=\"weft\", charset=\"UTF-8\"";

/// The principal of a request that passed [`authenticated`]'s layer (`User:<name>`); as an extractor it
/// answers 401 on a route without that layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or(StatusCode::UNAUTHORIZED)
    }
}

/// The authentication and authorization settings of the agent's HTTP routes.
pub struct HttpAuth {
    mode: AdminAuth,
    basic: Option<BasicVerifier>,
    authorizer: Option<Arc<AclAuthorizer>>,
    audit: Arc<AuditLog>,
    failure_delay: Duration,
}

impl HttpAuth {
    /// The settings of `config`; with `basic`, the PLAIN users file (if any) is read now, so a bad file
    /// stops the start.
    pub fn new(
        config: &AgentConfig,
        credentials: Arc<dyn weft_meta::Credentials>,
        authorizer: Option<Arc<AclAuthorizer>>,
        audit: Arc<AuditLog>,
        ids: &dyn weft_clock::IdSource,
    ) -> Result<Self, crate::sasl::users_file::UsersFileError> {
        let basic = match config.admin_auth {
            AdminAuth::Basic => {
                let plain_users = match &config.sasl_plain_users_file {
                    Some(path) => crate::sasl::users_file::read(path)?,
                    None => Default::default(),
                };
                let secret = [ids.uuid(), ids.uuid()].iter().flat_map(|u| u.into_bytes()).collect();
                Some(BasicVerifier::new(credentials, plain_users, secret))
            }
            _ => None,
        };
        if config.admin_auth == AdminAuth::Basic && !config.admin_ssl {
            tracing::warn!("--admin-auth basic without --admin-ssl: passwords cross the network in clear text");
        }
        let failure_delay = config.connection_failed_authentication_delay;
        Ok(HttpAuth { mode: config.admin_auth, basic, authorizer, audit, failure_delay })
    }

    /// The principal of a request on `connection`, or the answer refusing it.
    async fn principal(&self, headers: &axum::http::HeaderMap, connection: &Connection) -> Result<String, Response> {
        match self.mode {
            AdminAuth::None => Ok(connection.principal.clone().unwrap_or_else(|| "User:ANONYMOUS".into())),
            AdminAuth::Mtls => match &connection.principal {
                Some(principal) => Ok(principal.clone()),
                None => {
                    let started = tokio::time::Instant::now();
                    Err(self.failed(connection, "HTTP-MTLS", "unknown", "no client certificate".into(), started).await)
                }
            },
            AdminAuth::Basic => self.basic(headers, connection).await,
        }
    }

    /// The ACL authorizer, when one is on.
    pub(crate) fn authorizer(&self) -> Option<&AclAuthorizer> {
        self.authorizer.as_deref()
    }

    pub(crate) fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    async fn basic(&self, headers: &axum::http::HeaderMap, connection: &Connection) -> Result<String, Response> {
        let started = tokio::time::Instant::now();
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            count("basic", "missing");
            return Err(unauthorized());
        };
        let credentials = match basic::parse(value.as_bytes()) {
            Ok(c) => c,
            Err(e) => return Err(self.failed(connection, "HTTP-BASIC", "unknown", e.to_string(), started).await),
        };
        let principal = format!("User:{}", credentials.user);
        let verifier = self.basic.as_ref().ok_or_else(unauthorized)?;
        match verifier.verify(&credentials).await {
            Ok(Verified::Remembered) => Ok(principal),
            Ok(Verified::Checked) => {
                count("basic", "success");
                self.audit(connection, "HTTP-BASIC", &principal, None);
                Ok(principal)
            }
            Err(reason) => Err(self.failed(connection, "HTTP-BASIC", &principal, reason, started).await),
        }
    }

    /// A failed authentication: counted, audited, logged, then answered 401 once the failure delay has passed
    /// since the request arrived, so that a password check (a stored SCRAM user's iterations, a decoy hash for
    /// an unknown user, a plain compare for a file user) does not tell by its time whether the user exists.
    async fn failed(
        &self,
        connection: &Connection,
        mechanism: &str,
        claimed: &str,
        reason: String,
        started: tokio::time::Instant,
    ) -> Response {
        count(if mechanism == "HTTP-MTLS" { "mtls" } else { "basic" }, "failure");
        tracing::info!(peer = %connection.peer, listener = connection.listener, mechanism, %reason, "http authentication failed");
        self.audit(connection, mechanism, claimed, Some(reason));
        tokio::time::sleep_until(started + self.failure_delay).await;
        unauthorized()
    }

    fn audit(&self, connection: &Connection, mechanism: &str, principal: &str, failure: Option<String>) {
        self.audit.record(AuditEvent::Authentication {
            principal: principal.to_string(),
            client: connection.peer.to_string(),
            listener: connection.listener.to_string(),
            mechanism: mechanism.to_string(),
            outcome: if failure.is_some() { Outcome::Failure } else { Outcome::Success },
            reason: failure,
        });
    }
}

/// Whether the ACL authorizer lets `principal` (connected as `connection`) do `operation` on the cluster;
/// a denial is audited. The peer listener asks for CLUSTER_ACTION, the admin listener for DESCRIBE.
pub(crate) fn cluster_allows(
    authorizer: &AclAuthorizer,
    audit: &AuditLog,
    principal: &str,
    connection: &Connection,
    operation: AclOperation,
) -> bool {
    if authorizer.policy().allows(principal, connection.peer.ip(), operation, ResourceType::Cluster, CLUSTER_NAME) {
        return true;
    }
    tracing::debug!(%principal, peer = %connection.peer, listener = connection.listener, %operation, "http request denied");
    audit.record(AuditEvent::Denied {
        principal: principal.to_string(),
        client: connection.peer.to_string(),
        client_id: String::new(),
        listener: connection.listener.to_string(),
        operation: operation.name().to_string(),
        resource_type: ResourceType::Cluster.name().to_string(),
        resource_name: CLUSTER_NAME.to_string(),
    });
    false
}

/// `router`'s routes answer only requests whose principal `auth` resolves (put in the request as
/// [`Principal`]); the others get 401 (with `WWW-Authenticate: Basic realm="weft"`).
pub fn authenticated<S: Clone + Send + Sync + 'static>(router: Router<S>, auth: Arc<HttpAuth>) -> Router<S> {
    router.route_layer(from_fn_with_state(auth, authenticate))
}

/// `router`'s routes (behind [`authenticated`]) need DESCRIBE on the cluster when an ACL authorizer is on
/// and the listener authenticates; else 403. Apply before [`authenticated`], which must run first.
pub fn cluster_describe_required<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    auth: Arc<HttpAuth>,
) -> Router<S> {
    router.route_layer(from_fn_with_state(auth, describe_cluster))
}

async fn authenticate(State(auth): State<Arc<HttpAuth>>, mut request: Request, next: Next) -> Response {
    let connection = connection(&request);
    match auth.principal(request.headers(), &connection).await {
        Ok(principal) => {
            request.extensions_mut().insert(Principal(principal));
            next.run(request).await
        }
        Err(refused) => refused,
    }
}

async fn describe_cluster(State(auth): State<Arc<HttpAuth>>, request: Request, next: Next) -> Response {
    let (Some(authorizer), false) = (&auth.authorizer, auth.mode == AdminAuth::None) else {
        return next.run(request).await;
    };
    let Some(Principal(principal)) = request.extensions().get::<Principal>().cloned() else {
        return unauthorized();
    };
    if cluster_allows(authorizer, &auth.audit, &principal, &connection(&request), AclOperation::Describe) {
        next.run(request).await
    } else {
        (StatusCode::FORBIDDEN, "not authorized: DESCRIBE on the cluster is required\n").into_response()
    }
}

/// The request's connection; one served without `weft_http::serve` counts as an unknown client.
pub(crate) fn connection(request: &Request) -> Connection {
    request.extensions().get::<Connection>().cloned().unwrap_or(Connection {
        peer: (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0).into(),
        listener: "http",
        tls: false,
        principal: None,
    })
}

/// 401 with the Basic challenge.
fn unauthorized() -> Response {
    let challenge = HeaderValue::from_static(CHALLENGE);
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], "authentication required\n").into_response()
}

fn count(method: &'static str, result: &'static str) {
    metrics::counter!("weft_http_authentications_total", "method" => method, "result" => result).increment(1);
}
