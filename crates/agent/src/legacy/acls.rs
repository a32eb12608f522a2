//! CreateAcls, DescribeAcls and DeleteAcls v0 (Kafka 3.9's floor): v1 without pattern types, which in v0 are
//! LITERAL throughout (the Kafka 3.9 codec leaves the field at LITERAL when it is absent, so v0 filters match
//! literal ACLs only and every ACL answered is literal).

use super::{to3, to18};
use crate::Agent;
use crate::handlers;
use crate::request::RequestContext;
use kafka_protocol::messages as m18;
use kafka_protocol_k3::messages as k3;

/// The 0.18 codec's oldest version of each ACL API.
const AS: i16 = 1;

pub async fn create(agent: &Agent, ctx: &RequestContext, req: k3::CreateAclsRequest) -> k3::CreateAclsResponse {
    let creations = req
        .creations
        .iter()
        .map(|c| {
            m18::create_acls_request::AclCreation::default()
                .with_resource_type(c.resource_type)
                .with_resource_name(to18(&c.resource_name))
                .with_resource_pattern_type(c.resource_pattern_type)
                .with_principal(to18(&c.principal))
                .with_host(to18(&c.host))
                .with_operation(c.operation)
                .with_permission_type(c.permission_type)
        })
        .collect();
    let req18 = m18::CreateAclsRequest::default().with_creations(creations);
    let resp = crate::admin_audit::run(ctx, req18, |r| handlers::acls::create(agent, ctx, r, AS)).await;
    let results = resp
        .results
        .iter()
        .map(|r| {
            k3::create_acls_response::AclCreationResult::default()
                .with_error_code(r.error_code)
                .with_error_message(r.error_message.as_ref().map(to3))
        })
        .collect();
    k3::CreateAclsResponse::default().with_throttle_time_ms(resp.throttle_time_ms).with_results(results)
}

pub async fn describe(agent: &Agent, ctx: &RequestContext, req: k3::DescribeAclsRequest) -> k3::DescribeAclsResponse {
    let req18 = m18::DescribeAclsRequest::default()
        .with_resource_type_filter(req.resource_type_filter)
        .with_resource_name_filter(req.resource_name_filter.as_ref().map(to18))
        .with_pattern_type_filter(req.pattern_type_filter)
        .with_principal_filter(req.principal_filter.as_ref().map(to18))
        .with_host_filter(req.host_filter.as_ref().map(to18))
        .with_operation(req.operation)
        .with_permission_type(req.permission_type);
    let resp = handlers::acls::describe(agent, ctx, req18, AS).await;
    let resources = resp
        .resources
        .iter()
        .map(|r| {
            let acls = r
                .acls
                .iter()
                .map(|a| {
                    k3::describe_acls_response::AclDescription::default()
                        .with_principal(to3(&a.principal))
                        .with_host(to3(&a.host))
                        .with_operation(a.operation)
                        .with_permission_type(a.permission_type)
                })
                .collect();
            k3::describe_acls_response::DescribeAclsResource::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(to3(&r.resource_name))
                .with_pattern_type(r.pattern_type)
                .with_acls(acls)
        })
        .collect();
    k3::DescribeAclsResponse::default()
        .with_throttle_time_ms(resp.throttle_time_ms)
        .with_error_code(resp.error_code)
        .with_error_message(resp.error_message.as_ref().map(to3))
        .with_resources(resources)
}

pub async fn delete(agent: &Agent, ctx: &RequestContext, req: k3::DeleteAclsRequest) -> k3::DeleteAclsResponse {
    let filters = req
        .filters
        .iter()
        .map(|f| {
            m18::delete_acls_request::DeleteAclsFilter::default()
                .with_resource_type_filter(f.resource_type_filter)
                .with_resource_name_filter(f.resource_name_filter.as_ref().map(to18))
                .with_pattern_type_filter(f.pattern_type_filter)
                .with_principal_filter(f.principal_filter.as_ref().map(to18))
                .with_host_filter(f.host_filter.as_ref().map(to18))
                .with_operation(f.operation)
                .with_permission_type(f.permission_type)
        })
        .collect();
    let resp = crate::admin_audit::run(ctx, m18::DeleteAclsRequest::default().with_filters(filters), |r| {
        handlers::acls::delete(agent, ctx, r, AS)
    })
    .await;
    let results = resp
        .filter_results
        .iter()
        .map(|r| {
            let matching = r
                .matching_acls
                .iter()
                .map(|a| {
                    k3::delete_acls_response::DeleteAclsMatchingAcl::default()
                        .with_error_code(a.error_code)
                        .with_error_message(a.error_message.as_ref().map(to3))
                        .with_resource_type(a.resource_type)
                        .with_resource_name(to3(&a.resource_name))
                        .with_pattern_type(a.pattern_type)
                        .with_principal(to3(&a.principal))
                        .with_host(to3(&a.host))
                        .with_operation(a.operation)
                        .with_permission_type(a.permission_type)
                })
                .collect();
            k3::delete_acls_response::DeleteAclsFilterResult::default()
                .with_error_code(r.error_code)
                .with_error_message(r.error_message.as_ref().map(to3))
                .with_matching_acls(matching)
        })
        .collect();
    k3::DeleteAclsResponse::default().with_throttle_time_ms(resp.throttle_time_ms).with_filter_results(results)
}
