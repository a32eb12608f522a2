//! The audit of access changes: CreateAcls and DeleteAcls (one line per binding created or deleted, or per
//! filter that deleted nothing), AlterUserScramCredentials (one line per credential set or deleted, never
//! the salt or salted password) and AlterClientQuotas (one line per entity).

use super::{Audited, Line, Planned, pair};
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::DeleteAclsMatchingAcl;
use kafka_protocol::messages::*;
use std::collections::HashMap;
use weft_acl::{AclOperation, PatternType, Permission, ResourceType};
use weft_audit::{Change, QuotaChange, QuotaEntity};
use weft_sasl::scram::ScramMechanism;

fn acl(pattern: i8, principal: &str, host: &str, operation: i8, permission: i8) -> Change {
    Change::Acl {
        pattern_type: PatternType::from_code(pattern).name().into(),
        principal: principal.into(),
        host: host.into(),
        operation: AclOperation::from_code(operation).name().into(),
        permission: Permission::from_code(permission).name().into(),
    }
}

impl Audited for CreateAclsRequest {
    type Response = CreateAclsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "CreateAcls";

    /// Keyed by position: results carry no names and answer the creations in order.
    fn plan(&self) -> Vec<Planned> {
        self.creations
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let change = acl(c.resource_pattern_type, &c.principal, &c.host, c.operation, c.permission_type);
                Planned::new(i.to_string(), ResourceType::from_code(c.resource_type).name(), &c.resource_name, change)
            })
            .collect()
    }

    fn lines(plan: Vec<Planned>, response: &CreateAclsResponse) -> Vec<Line> {
        pair(plan, response.results.iter().enumerate().map(|(i, r)| (i.to_string(), r.error_code)).collect())
    }
}

impl Audited for DeleteAclsRequest {
    type Response = DeleteAclsResponse;
    type Plan = Vec<DeleteAclsFilter>;
    const API: &'static str = "DeleteAcls";

    fn plan(&self) -> Vec<DeleteAclsFilter> {
        self.filters.clone()
    }

    fn lines(filters: Vec<DeleteAclsFilter>, response: &DeleteAclsResponse) -> Vec<Line> {
        let mut lines = Vec::new();
        for (i, filter) in filters.iter().enumerate() {
            let result = response.filter_results.get(i);
            let code = result.map_or(-1, |r| r.error_code);
            match result.map(|r| &r.matching_acls) {
                Some(deleted) if code == 0 && !deleted.is_empty() => lines.extend(deleted.iter().map(deleted_line)),
                _ => lines.push(filter_line(filter, code)),
            }
        }
        lines
    }
}

fn deleted_line(b: &DeleteAclsMatchingAcl) -> Line {
    Line {
        resource_type: ResourceType::from_code(b.resource_type).name().into(),
        resource_name: b.resource_name.to_string(),
        change: acl(b.pattern_type, &b.principal, &b.host, b.operation, b.permission_type),
        code: b.error_code,
    }
}

fn filter_line(f: &DeleteAclsFilter, code: i16) -> Line {
    let resource_type = ResourceType::from_code(f.resource_type_filter).name().to_string();
    let resource_name = f.resource_name_filter.as_ref().map(|s| s.to_string());
    Line {
        resource_type: resource_type.clone(),
        resource_name: resource_name.clone().unwrap_or_default(),
        change: Change::AclFilter {
            resource_type,
            resource_name,
            pattern_type: PatternType::from_code(f.pattern_type_filter).name().into(),
            principal: f.principal_filter.as_ref().map(|s| s.to_string()),
            host: f.host_filter.as_ref().map(|s| s.to_string()),
            operation: AclOperation::from_code(f.operation).name().into(),
            permission: Permission::from_code(f.permission_type).name().into(),
        },
        code,
    }
}

fn mechanism(kafka_type: i8) -> String {
    ScramMechanism::from_kafka_type(kafka_type).map_or_else(|| format!("UNKNOWN({kafka_type})"), |m| m.name().into())
}

impl Audited for AlterUserScramCredentialsRequest {
    type Response = AlterUserScramCredentialsResponse;
    type Plan = Vec<(String, Change)>;
    const API: &'static str = "AlterUserScramCredentials";

    fn plan(&self) -> Vec<(String, Change)> {
        let deletions = self.deletions.iter().map(|d| {
            let change = Change::ScramCredential {
                mechanism: mechanism(d.mechanism),
                operation: "delete".into(),
                iterations: None,
            };
            (d.name.to_string(), change)
        });
        let upsertions = self.upsertions.iter().map(|u| {
            let change = Change::ScramCredential {
                mechanism: mechanism(u.mechanism),
                operation: "upsert".into(),
                iterations: Some(u.iterations),
            };
            (u.name.to_string(), change)
        });
        deletions.chain(upsertions).collect()
    }

    /// The response has one result per user, which answers each of that user's credentials.
    fn lines(plan: Vec<(String, Change)>, response: &AlterUserScramCredentialsResponse) -> Vec<Line> {
        let mut by_user: HashMap<String, i16> = HashMap::new();
        for r in &response.results {
            by_user.entry(r.user.to_string()).or_insert(r.error_code);
        }
        plan.into_iter()
            .map(|(user, change)| Line {
                code: by_user.get(&user).copied().unwrap_or(-1),
                resource_type: "USER".into(),
                resource_name: user,
                change,
            })
            .collect()
    }
}

/// A quota entity as one name: `user=alice,client-id=<default>`.
fn entity_name(entity: &[QuotaEntity]) -> String {
    let part = |e: &QuotaEntity| format!("{}={}", e.entity_type, e.name.as_deref().unwrap_or("<default>"));
    entity.iter().map(part).collect::<Vec<_>>().join(",")
}

impl Audited for AlterClientQuotasRequest {
    type Response = AlterClientQuotasResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "AlterClientQuotas";

    fn plan(&self) -> Vec<Planned> {
        self.entries
            .iter()
            .map(|e| {
                let entity: Vec<QuotaEntity> = e
                    .entity
                    .iter()
                    .map(|c| QuotaEntity {
                        entity_type: c.entity_type.to_string(),
                        name: c.entity_name.as_ref().map(|n| n.to_string()),
                    })
                    .collect();
                let quotas = e
                    .ops
                    .iter()
                    .map(|o| QuotaChange {
                        key: o.key.to_string(),
                        value: (!o.remove).then_some(o.value),
                        remove: o.remove,
                    })
                    .collect();
                let name = entity_name(&entity);
                Planned::new(name.clone(), "CLIENT_QUOTA", &name, Change::ClientQuota { entity, quotas })
            })
            .collect()
    }

    fn validate_only(&self) -> bool {
        self.validate_only
    }

    fn lines(plan: Vec<Planned>, response: &AlterClientQuotasResponse) -> Vec<Line> {
        let answered = response
            .entries
            .iter()
            .map(|e| {
                let entity: Vec<QuotaEntity> = e
                    .entity
                    .iter()
                    .map(|c| QuotaEntity {
                        entity_type: c.entity_type.to_string(),
                        name: c.entity_name.as_ref().map(|n| n.to_string()),
                    })
                    .collect();
                (entity_name(&entity), e.error_code)
            })
            .collect();
        pair(plan, answered)
    }
}
