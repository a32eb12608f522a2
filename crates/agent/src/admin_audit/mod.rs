//! The audit of administrative changes: every request that changes what the cluster holds (topics,
//! configs, records, ACLs, SCRAM users, quotas, groups, committed offsets by OffsetDelete) is recorded as
//! one `admin` audit line per resource it asked to change, with the change and its result.
//!
//! Each such request type says what it asks ([`Audited::plan`], taken before its handler consumes it) and
//! how its response answers each resource ([`Audited::lines`]); [`run`] wraps the handler, so the handlers
//! themselves stay about Kafka's semantics and every path to them (current and legacy versions) is audited
//! the same way. Results are matched to resources by name, not position, because some responses list
//! refused resources after served ones.

mod access;
mod configs;
mod groups;
mod topics;

use crate::request::RequestContext;
use std::future::Future;
use weft_audit::{AuditEvent, Change, Outcome};

/// A request that changes cluster state, as the audit sees it.
pub trait Audited {
    type Response;
    /// What the request asks, kept until its response is known.
    type Plan;
    /// Kafka's name of the API.
    const API: &'static str;
    fn plan(&self) -> Self::Plan;
    fn validate_only(&self) -> bool {
        false
    }
    /// One line per resource the request asked to change, with its result from `response`.
    fn lines(plan: Self::Plan, response: &Self::Response) -> Vec<Line>;
}

/// One resource's change and its result (a Kafka error code, 0 for success).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub resource_type: String,
    pub resource_name: String,
    pub change: Change,
    pub code: i16,
}

/// A resource a request asks to change, before its result is known; `key` finds its result.
pub struct Planned {
    pub key: String,
    pub resource_type: String,
    pub resource_name: String,
    pub change: Change,
}

impl Planned {
    pub fn new(key: impl Into<String>, resource_type: &str, resource_name: &str, change: Change) -> Self {
        Planned {
            key: key.into(),
            resource_type: resource_type.to_string(),
            resource_name: resource_name.to_string(),
            change,
        }
    }
}

/// Runs `handler` on `req` and records the audit lines of its response.
pub async fn run<R, F>(ctx: &RequestContext, req: R, handler: impl FnOnce(R) -> F) -> R::Response
where
    R: Audited,
    F: Future<Output = R::Response>,
{
    let (plan, validate_only) = (req.plan(), req.validate_only());
    let response = handler(req).await;
    for line in R::lines(plan, &response) {
        record(ctx, R::API, validate_only, line);
    }
    response
}

fn record(ctx: &RequestContext, api: &str, validate_only: bool, line: Line) {
    let error = (line.code != 0).then(|| error_name(line.code));
    ctx.audit.record(AuditEvent::Admin {
        principal: ctx.principal.clone(),
        client: ctx.peer.to_string(),
        client_id: ctx.client_id.clone(),
        listener: ctx.listener.to_string(),
        api: api.to_string(),
        resource_type: line.resource_type,
        resource_name: line.resource_name,
        validate_only,
        change: line.change,
        outcome: if error.is_some() { Outcome::Failure } else { Outcome::Success },
        error,
    });
}

/// Pairs each planned change with the first unused result of the same key; a change the response does
/// not answer (which the handlers never do) is recorded as UNKNOWN_SERVER_ERROR rather than dropped.
pub fn pair(planned: Vec<Planned>, answered: Vec<(String, i16)>) -> Vec<Line> {
    let mut answered: Vec<Option<(String, i16)>> = answered.into_iter().map(Some).collect();
    planned
        .into_iter()
        .map(|p| {
            let found = answered.iter_mut().find(|a| a.as_ref().is_some_and(|(k, _)| *k == p.key));
            let code = found.and_then(Option::take).map_or(UNKNOWN_SERVER_ERROR, |(_, code)| code);
            Line { resource_type: p.resource_type, resource_name: p.resource_name, change: p.change, code }
        })
        .collect()
}

const UNKNOWN_SERVER_ERROR: i16 = -1;

/// Kafka's name of an error code (`TOPIC_AUTHORIZATION_FAILED`); an unknown code as `UNKNOWN_ERROR_<code>`.
pub fn error_name(code: i16) -> String {
    use kafka_protocol::ResponseError;
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_{c}"),
        Some(e) => screaming_snake(&e.to_string()),
    }
}

/// `TopicAuthorizationFailed` as `TOPIC_AUTHORIZATION_FAILED`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    let mut previous_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests;
