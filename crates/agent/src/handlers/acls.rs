//! CreateAcls, DescribeAcls and DeleteAcls, as Kafka's `AclApis` answers them: ALTER on the cluster to
//! change ACLs, DESCRIBE on the cluster to list them (CLUSTER_AUTHORIZATION_FAILED otherwise), SECURITY_DISABLED
//! without an authorizer, INVALID_REQUEST per creation or filter Kafka refuses. Listing and deleting act on
//! the ACLs in the metastore, not the agent's snapshot, so they see changes made a moment ago elsewhere; a
//! change is in force on this agent before the response goes out.

use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use crate::request::{Operation, RequestContext, Resource, check};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsMatchingAcl};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest,
    DescribeAclsResponse,
};
use std::collections::{BTreeMap, HashSet};
use weft_acl::{AclBinding, AclFilter, AclOperation, PatternType, Permission, ResourceType};

const NO_AUTHORIZER: &str = "no authorizer is configured (start the agent with --authorizer acl)";

fn binding(c: &AclCreation) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::from_code(c.resource_type),
        resource_name: c.resource_name.to_string(),
        pattern_type: PatternType::from_code(c.resource_pattern_type),
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: AclOperation::from_code(c.operation),
        permission: Permission::from_code(c.permission_type),
    }
}

fn creation_result(code: i16, message: Option<String>) -> AclCreationResult {
    AclCreationResult::default().with_error_code(code).with_error_message(message.map(str_bytes))
}

pub async fn create(agent: &Agent, ctx: &RequestContext, req: CreateAclsRequest, _v: i16) -> CreateAclsResponse {
    let all = |code: i16, message: Option<&str>| {
        let results = req.creations.iter().map(|_| creation_result(code, message.map(str::to_string))).collect();
        CreateAclsResponse::default().with_results(results)
    };
    if let Err(code) = check(ctx, Operation::Alter, Resource::Cluster) {
        return all(code, None);
    }
    let Some(authorizer) = &agent.authorizer else {
        return all(ResponseError::SecurityDisabled.code(), Some(NO_AUTHORIZER));
    };
    let bindings: Vec<AclBinding> = req.creations.iter().map(binding).collect();
    let valid: Vec<AclBinding> = bindings.iter().filter(|b| b.validate().is_ok()).cloned().collect();
    let stored = match valid.is_empty() {
        true => Ok(()),
        false => authorizer.create(&valid).await,
    };
    if let Err(e) = &stored {
        tracing::warn!(error = %e, "create acls: storing failed");
    }
    let results = bindings
        .iter()
        .map(|b| match (b.validate(), &stored) {
            (Err(why), _) => creation_result(ResponseError::InvalidRequest.code(), Some(why)),
            (Ok(()), Err(e)) => creation_result(e.code(), Some(e.to_string())),
            (Ok(()), Ok(())) => {
                tracing::info!(principal = %ctx.principal, acl = %b, "acl created");
                creation_result(0, None)
            }
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

fn describe_filter(r: &DescribeAclsRequest) -> AclFilter {
    AclFilter {
        resource_type: ResourceType::from_code(r.resource_type_filter),
        resource_name: r.resource_name_filter.as_ref().map(|s| s.to_string()),
        pattern_type: PatternType::from_code(r.pattern_type_filter),
        principal: r.principal_filter.as_ref().map(|s| s.to_string()),
        host: r.host_filter.as_ref().map(|s| s.to_string()),
        operation: AclOperation::from_code(r.operation),
        permission: Permission::from_code(r.permission_type),
    }
}

pub async fn describe(agent: &Agent, ctx: &RequestContext, req: DescribeAclsRequest, _v: i16) -> DescribeAclsResponse {
    let failed = |code: i16, message: Option<String>| {
        DescribeAclsResponse::default().with_error_code(code).with_error_message(message.map(str_bytes))
    };
    if let Err(code) = check(ctx, Operation::Describe, Resource::Cluster) {
        return failed(code, None);
    }
    let Some(authorizer) = &agent.authorizer else {
        return failed(ResponseError::SecurityDisabled.code(), Some(NO_AUTHORIZER.into()));
    };
    let filter = describe_filter(&req);
    if filter.is_unknown() {
        return failed(ResponseError::InvalidRequest.code(), Some("the filter has unknown elements".into()));
    }
    let stored = match authorizer.stored().await {
        Ok(s) => s,
        Err(e) => return failed(e.code(), Some(e.to_string())),
    };
    let mut resources: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for b in stored.iter().filter(|b| filter.matches(b)) {
        let key = (b.resource_type.code(), b.resource_name.clone(), b.pattern_type.code());
        resources.entry(key).or_default().push(
            AclDescription::default()
                .with_principal(str_bytes(b.principal.clone()))
                .with_host(str_bytes(b.host.clone()))
                .with_operation(b.operation.code())
                .with_permission_type(b.permission.code()),
        );
    }
    let resources = resources
        .into_iter()
        .map(|((rt, name, pt), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(rt)
                .with_resource_name(str_bytes(name))
                .with_pattern_type(pt)
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

fn delete_filter(f: &DeleteAclsFilter) -> AclFilter {
    AclFilter {
        resource_type: ResourceType::from_code(f.resource_type_filter),
        resource_name: f.resource_name_filter.as_ref().map(|s| s.to_string()),
        pattern_type: PatternType::from_code(f.pattern_type_filter),
        principal: f.principal_filter.as_ref().map(|s| s.to_string()),
        host: f.host_filter.as_ref().map(|s| s.to_string()),
        operation: AclOperation::from_code(f.operation),
        permission: Permission::from_code(f.permission_type),
    }
}

fn filter_result(code: i16, message: Option<String>) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult::default().with_error_code(code).with_error_message(message.map(str_bytes))
}

fn matching(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(str_bytes(b.resource_name.clone()))
        .with_pattern_type(b.pattern_type.code())
        .with_principal(str_bytes(b.principal.clone()))
        .with_host(str_bytes(b.host.clone()))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code())
}

pub async fn delete(agent: &Agent, ctx: &RequestContext, req: DeleteAclsRequest, _v: i16) -> DeleteAclsResponse {
    let all = |code: i16, message: Option<&str>| {
        let results = req.filters.iter().map(|_| filter_result(code, message.map(str::to_string))).collect();
        DeleteAclsResponse::default().with_filter_results(results)
    };
    if let Err(code) = check(ctx, Operation::Alter, Resource::Cluster) {
        return all(code, None);
    }
    let Some(authorizer) = &agent.authorizer else {
        return all(ResponseError::SecurityDisabled.code(), Some(NO_AUTHORIZER));
    };
    let filters: Vec<AclFilter> = req.filters.iter().map(delete_filter).collect();
    let stored = match authorizer.stored().await {
        Ok(s) => s,
        Err(e) => return all(e.code(), Some(&e.to_string())),
    };
    // Each filter's matches; an ACL matching several filters is deleted once and reported under each.
    let matches: Vec<Vec<&AclBinding>> = filters
        .iter()
        .map(|f| if f.is_unknown() { Vec::new() } else { stored.iter().filter(|b| f.matches(b)).collect() })
        .collect();
    let mut doomed: Vec<AclBinding> = matches.iter().flatten().map(|b| (*b).clone()).collect();
    doomed.sort();
    doomed.dedup();
    let removed: HashSet<AclBinding> = match doomed.is_empty() {
        true => HashSet::new(),
        false => match authorizer.delete(&doomed).await {
            Ok(r) => r.into_iter().collect(),
            Err(e) => return all(e.code(), Some(&e.to_string())),
        },
    };
    for b in &removed {
        tracing::info!(principal = %ctx.principal, acl = %b, "acl deleted");
    }
    let results = filters
        .iter()
        .zip(&matches)
        .map(|(f, found)| match f.is_unknown() {
            true => filter_result(ResponseError::InvalidRequest.code(), Some("the filter has unknown elements".into())),
            false => filter_result(0, None)
                .with_matching_acls(found.iter().filter(|b| removed.contains(**b)).map(|b| matching(b)).collect()),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
