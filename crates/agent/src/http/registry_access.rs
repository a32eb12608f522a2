//! Who may use the schema registry. With an ACL authorizer, reading (GET, HEAD) needs DESCRIBE on the
//! cluster and every change (registering, deleting, config and mode) needs ALTER on the cluster, whatever
//! `--admin-auth` says (without it the principal is the client certificate's, else `User:ANONYMOUS`), so
//! turning the authorizer on never leaves the registry writable by anyone. Refusals are audited and answered
//! with Confluent's error bodies (40101, 40301), which registry clients parse.

use super::auth::{HttpAuth, Principal, cluster_allows, connection};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use weft_acl::AclOperation;

/// `router`'s routes (behind [`super::auth::authenticated`]) answer only principals the authorizer allows.
pub fn registry_access_required<S: Clone + Send + Sync + 'static>(router: Router<S>, auth: Arc<HttpAuth>) -> Router<S> {
    router.route_layer(from_fn_with_state(auth, registry_access))
}

/// The operation on the cluster a registry request needs.
fn needed(method: &Method) -> AclOperation {
    if method == Method::GET || method == Method::HEAD { AclOperation::Describe } else { AclOperation::Alter }
}

async fn registry_access(State(auth): State<Arc<HttpAuth>>, request: Request, next: Next) -> Response {
    let Some(authorizer) = auth.authorizer() else {
        return next.run(request).await;
    };
    let Some(Principal(principal)) = request.extensions().get::<Principal>().cloned() else {
        return refusal(StatusCode::UNAUTHORIZED, 40101, "authentication required".into());
    };
    let operation = needed(request.method());
    if cluster_allows(authorizer, auth.audit_log(), &principal, &connection(&request), operation) {
        next.run(request).await
    } else {
        let message = format!("{principal} is not authorized: {} on the cluster is required", operation.name());
        refusal(StatusCode::FORBIDDEN, 40301, message)
    }
}

fn refusal(status: StatusCode, code: u32, message: String) -> Response {
    let body = serde_json::json!({ "error_code": code, "message": message });
    (status, [(axum::http::header::CONTENT_TYPE, weft_registry::CONTENT_TYPE)], body.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_describe_and_changes_need_alter() {
        assert_eq!(needed(&Method::GET), AclOperation::Describe);
        assert_eq!(needed(&Method::HEAD), AclOperation::Describe);
        for m in [Method::POST, Method::PUT, Method::DELETE] {
            assert_eq!(needed(&m), AclOperation::Alter);
        }
    }
}
