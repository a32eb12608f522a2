//! DescribeClientQuotas and AlterClientQuotas (KIP-546): the client quotas in the metastore, read and changed
//! as Kafka's controller does. Both need the cluster: DESCRIBE_CONFIGS to read, ALTER_CONFIGS to change
//! (CLUSTER_AUTHORIZATION_FAILED otherwise). Entities are made of `user` and `client-id` parts; `ip` entities
//! (connection-rate quotas) are refused with INVALID_REQUEST, as are unknown entity types and keys.

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, authorize};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData as AlterEntity, EntryData as AlterEntry};
use kafka_protocol::messages::alter_client_quotas_response::{EntityData as AlteredEntity, EntryData as AlteredEntry};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
};
use std::collections::BTreeMap;
use weft_meta::{QuotaEntity, QuotaName};

const USER: &str = "user";
const CLIENT_ID: &str = "client-id";
const IP: &str = "ip";

/// A refused request or entry: INVALID_REQUEST with a message, as Kafka answers.
type Invalid = String;

/// The part `(type, name)` of an entity into `entity`; a repeated or unknown type is refused.
fn add_part(entity: &mut QuotaEntity, entity_type: &str, name: Option<QuotaName>) -> Result<(), Invalid> {
    let slot = match entity_type {
        USER => &mut entity.user,
        CLIENT_ID => &mut entity.client_id,
        IP => return Err("ip quotas (connection_creation_rate) are not supported by weft".into()),
        other => return Err(format!("unhandled client quota entity type: {other}")),
    };
    if slot.is_some() {
        return Err(format!("duplicate quota entity type: {entity_type}"));
    }
    *slot = name;
    Ok(())
}

fn quota_name(name: Option<&str>) -> Option<QuotaName> {
    Some(name.map_or(QuotaName::Default, |n| QuotaName::Named(n.to_string())))
}

fn entity_of(parts: &[AlterEntity]) -> Result<QuotaEntity, Invalid> {
    let mut entity = QuotaEntity::default();
    for p in parts {
        add_part(&mut entity, p.entity_type.as_str(), quota_name(p.entity_name.as_deref()))?;
    }
    if entity.user.is_none() && entity.client_id.is_none() {
        return Err("invalid empty client quota entity".into());
    }
    Ok(entity)
}

/// The changes of one entry, checked: known keys, valid values, each key once.
fn changes_of(entry: &AlterEntry) -> Result<Vec<(String, Option<f64>)>, Invalid> {
    let mut seen = BTreeMap::new();
    for op in &entry.ops {
        let key = op.key.as_str();
        weft_quota::check_key(key).map_err(|e| e.0)?;
        if !op.remove {
            weft_quota::check_value(key, op.value).map_err(|e| e.0)?;
        }
        if seen.insert(key.to_string(), (!op.remove).then_some(op.value)).is_some() {
            return Err(format!("duplicate quota key: {key}"));
        }
    }
    Ok(seen.into_iter().collect())
}

pub async fn alter(
    agent: &Agent,
    ctx: &RequestContext,
    req: AlterClientQuotasRequest,
    _version: i16,
) -> AlterClientQuotasResponse {
    let denied = authorize(ctx, Operation::AlterConfigs, Resource::Cluster).err().map(|d| d.code());
    let mut entries = Vec::with_capacity(req.entries.len());
    let mut changed = false;
    for entry in &req.entries {
        let outcome = match denied {
            Some(code) => Err((code, None)),
            None => alter_entry(agent, entry, req.validate_only).await,
        };
        changed |= outcome.is_ok() && !req.validate_only;
        let echo = entry.entity.iter().map(|e| {
            AlteredEntity::default().with_entity_type(e.entity_type.clone()).with_entity_name(e.entity_name.clone())
        });
        let (code, message) = outcome.err().unwrap_or((0, None));
        entries.push(
            AlteredEntry::default()
                .with_error_code(code)
                .with_error_message(message.map(str_bytes))
                .with_entity(echo.collect()),
        );
    }
    if changed {
        // This agent applies the change at once; the others within their refresh interval.
        if let Err(e) = agent.quotas.refresh(&*agent.meta).await {
            tracing::warn!(error = %e, "quotas changed but could not be read back; the next refresh will");
        }
    }
    AlterClientQuotasResponse::default().with_entries(entries)
}

async fn alter_entry(agent: &Agent, entry: &AlterEntry, validate_only: bool) -> Result<(), (i16, Option<String>)> {
    let invalid = |m: Invalid| (ResponseError::InvalidRequest.code(), Some(m));
    let entity = entity_of(&entry.entity).map_err(invalid)?;
    let changes = changes_of(entry).map_err(invalid)?;
    if validate_only || changes.is_empty() {
        return Ok(());
    }
    agent.meta.alter_client_quotas(&entity, &changes).await.map_err(|e| (e.code(), Some(e.to_string())))
}

/// One component filter of DescribeClientQuotas.
#[derive(Debug)]
enum Filter {
    Exact(String),
    Default,
    Any,
}

fn filters(components: &[ComponentData]) -> Result<Vec<(String, Filter)>, Invalid> {
    let mut out: Vec<(String, Filter)> = Vec::with_capacity(components.len());
    for c in components {
        let t = c.entity_type.as_str();
        if ![USER, CLIENT_ID, IP].contains(&t) {
            return Err(format!("unhandled client quota entity type: {t}"));
        }
        if out.iter().any(|(seen, _)| seen == t) {
            return Err(format!("duplicate {t} filter component entity type"));
        }
        let f = match (c.match_type, c._match.as_deref()) {
            (0, Some(name)) => Filter::Exact(name.to_string()),
            (0, None) => return Err(format!("{t} filter component: an exact match needs a name")),
            (1, _) => Filter::Default,
            (2, _) => Filter::Any,
            (other, _) => return Err(format!("unknown match type {other}")),
        };
        out.push((t.to_string(), f));
    }
    let has = |t: &str| out.iter().any(|(s, _)| s == t);
    if has(IP) && (has(USER) || has(CLIENT_ID)) {
        return Err("ip filter components cannot be combined with user or client-id components".into());
    }
    Ok(out)
}

fn part<'e>(entity: &'e QuotaEntity, t: &str) -> &'e Option<QuotaName> {
    if t == USER { &entity.user } else { &entity.client_id }
}

fn matches(entity: &QuotaEntity, filters: &[(String, Filter)], strict: bool) -> bool {
    let each = filters.iter().all(|(t, f)| {
        if t == IP {
            return false;
        }
        match (f, part(entity, t)) {
            (Filter::Exact(n), Some(QuotaName::Named(m))) => n == m,
            (Filter::Default, Some(QuotaName::Default)) => true,
            (Filter::Any, Some(_)) => true,
            _ => false,
        }
    });
    let parts = usize::from(entity.user.is_some()) + usize::from(entity.client_id.is_some());
    each && (!strict || parts == filters.len())
}

fn described(entity: &QuotaEntity) -> Vec<EntityData> {
    let mut out = Vec::new();
    for (t, p) in [(USER, &entity.user), (CLIENT_ID, &entity.client_id)] {
        if let Some(p) = p {
            out.push(EntityData::default().with_entity_type(str_bytes(t)).with_entity_name(p.name().map(str_bytes)));
        }
    }
    out
}

pub async fn describe(
    agent: &Agent,
    ctx: &RequestContext,
    req: DescribeClientQuotasRequest,
    _version: i16,
) -> DescribeClientQuotasResponse {
    let refuse = |code: i16, message: String| {
        DescribeClientQuotasResponse::default().with_error_code(code).with_error_message(Some(str_bytes(message)))
    };
    if let Err(d) = authorize(ctx, Operation::DescribeConfigs, Resource::Cluster) {
        return refuse(d.code(), "cluster authorization failed".into());
    }
    let filters = match filters(&req.components) {
        Ok(f) => f,
        Err(m) => return refuse(ResponseError::InvalidRequest.code(), m),
    };
    let records = match agent.meta.client_quotas().await {
        Ok(r) => r,
        Err(e) => return refuse(e.code(), e.to_string()),
    };
    let mut by_entity: BTreeMap<QuotaEntity, Vec<ValueData>> = BTreeMap::new();
    for r in records.into_iter().filter(|r| matches(&r.entity, &filters, req.strict)) {
        by_entity
            .entry(r.entity)
            .or_default()
            .push(ValueData::default().with_key(str_bytes(r.key)).with_value(r.value));
    }
    let entries = by_entity
        .into_iter()
        .map(|(entity, values)| EntryData::default().with_entity(described(&entity)).with_values(values))
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(t: &str, match_type: i8, name: Option<&str>) -> ComponentData {
        ComponentData::default()
            .with_entity_type(str_bytes(t))
            .with_match_type(match_type)
            .with_match(name.map(str_bytes))
    }

    #[test]
    fn filters_match_as_kafka_describes() {
        let alice_app = QuotaEntity { client_id: Some(QuotaName::Named("app".into())), ..QuotaEntity::user("alice") };
        let alice = QuotaEntity::user("alice");
        let default_user = QuotaEntity { user: Some(QuotaName::Default), client_id: None };
        let f = filters(&[comp(USER, 0, Some("alice"))]).unwrap();
        assert!(matches(&alice, &f, false) && matches(&alice_app, &f, false));
        assert!(matches(&alice, &f, true) && !matches(&alice_app, &f, true), "strict: no other parts");
        let f = filters(&[comp(USER, 1, None)]).unwrap();
        assert!(matches(&default_user, &f, true) && !matches(&alice, &f, false));
        let f = filters(&[comp(USER, 2, None)]).unwrap();
        assert!(matches(&default_user, &f, false) && matches(&alice_app, &f, false));
        let f = filters(&[]).unwrap();
        assert!(matches(&alice, &f, false) && !matches(&alice, &f, true), "no filter: all, unless strict");
    }

    #[test]
    fn bad_filters_and_entities_are_invalid_requests() {
        assert!(filters(&[comp("topic", 2, None)]).is_err());
        assert!(filters(&[comp(USER, 2, None), comp(USER, 1, None)]).is_err());
        assert!(filters(&[comp(USER, 0, None)]).is_err());
        assert!(filters(&[comp(IP, 2, None), comp(USER, 2, None)]).is_err());
        let part = |t: &str, n: Option<&str>| {
            AlterEntity::default().with_entity_type(str_bytes(t)).with_entity_name(n.map(str_bytes))
        };
        assert!(entity_of(&[]).is_err());
        assert!(entity_of(&[part(IP, Some("1.2.3.4"))]).is_err());
        assert!(entity_of(&[part(USER, None), part(USER, Some("a"))]).is_err());
        assert_eq!(entity_of(&[part(CLIENT_ID, None)]).unwrap().client_id, Some(QuotaName::Default));
    }
}
