//! `/compatibility/...`: would a schema pass the subject's level against one version, or against the versions
//! the level names.

use super::{Params, SchemaBody, Shared, flag};
use crate::body::{JsonBody, ok};
use crate::error::ApiError;
use crate::registry::VersionRef;
use axum::extract::Path;
use axum::response::Response;
use serde_json::{Value, json};
use weft_meta::SubjectVersion;

type Result<T> = std::result::Result<T, ApiError>;

fn verdict(messages: Vec<String>, verbose: bool) -> Response {
    let mut out = json!({"is_compatible": messages.is_empty()});
    if verbose && let Value::Object(map) = &mut out {
        map.insert("messages".into(), json!(messages));
    }
    ok(out)
}

async fn check(
    registry: &Shared,
    subject: &str,
    body: &SchemaBody,
    against: &[SubjectVersion],
    transitive_ok: bool,
    verbose: bool,
) -> Result<Response> {
    let submitted = body.submitted()?;
    let (level, normalize) = registry.effective_config(Some(subject)).await?;
    let prepared = registry.prepare(&submitted, normalize).await?;
    // Against one named version the level's direction applies to that version alone.
    let level_targets: Vec<SubjectVersion> =
        if transitive_ok { against.to_vec() } else { level.targets(against).to_vec() };
    let mut previous = Vec::new();
    for v in &level_targets {
        let stored = registry.schema(v.schema_id).await?;
        previous.push(registry.parse_stored(&stored).await?);
    }
    Ok(verdict(registry.check(level, &prepared.parsed, previous).await?, verbose))
}

pub async fn against_version(
    registry: Shared,
    Path((subject, v)): Path<(String, String)>,
    params: Params,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Result<Response> {
    let version = VersionRef::parse(&v)?;
    let verbose = flag(&params, "verbose");
    let live = registry.live_versions(&subject).await?;
    if live.is_empty() && version == VersionRef::Latest {
        // Nothing to be incompatible with, as Confluent answers for a new subject.
        body.submitted()?;
        return Ok(verdict(Vec::new(), verbose));
    }
    let found = registry.find_version(&subject, version, false).await?;
    let level = registry.effective_config(Some(&subject)).await?.0;
    let against = if level == crate::level::Compatibility::None { Vec::new() } else { vec![found] };
    check(&registry, &subject, &body, &against, true, verbose).await
}

pub async fn against_all(
    registry: Shared,
    Path(subject): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Result<Response> {
    let live = registry.live_versions(&subject).await?;
    check(&registry, &subject, &body, &live, false, flag(&params, "verbose")).await
}
