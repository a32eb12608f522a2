//! `weft acl add | list | remove`: Kafka ACLs through CreateAcls, DescribeAcls and DeleteAcls, with the flags of
//! `kafka-acls.sh` (`--allow-principal`, `--deny-principal`, `--allow-host`, `--deny-host`, `--operation`,
//! `--topic`, `--group`, `--cluster`, `--transactional-id`, `--resource-pattern-type`), against Weft or Kafka.

use crate::common::{ConnArgs, emit, print_line, table};
use crate::wire::{Wire, error_text, str_bytes};
use anyhow::{Result, bail};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use serde::Serialize;
use weft_acl::{AclBinding, AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType, WILDCARD};

#[derive(clap::Args, Debug, Clone)]
pub struct AclArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: AclCommand,
}

/// The resources a command is about (any number of each).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Resources {
    /// A topic (repeatable); `*` for every topic
    #[arg(long, value_name = "NAME")]
    pub topic: Vec<String>,
    /// A consumer group (repeatable); `*` for every group
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,
    /// A transactional id (repeatable); `*` for every one
    #[arg(long, value_name = "ID")]
    pub transactional_id: Vec<String>,
    /// The cluster
    #[arg(long)]
    pub cluster: bool,
    /// How names match: literal or prefixed (add); any, match, literal or prefixed (list, remove)
    #[arg(long, value_name = "TYPE", value_parser = parse_pattern)]
    pub resource_pattern_type: Option<PatternType>,
}

/// Who, from where, may or may not do what.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Entries {
    /// A principal allowed (repeatable), e.g. User:alice or User:*
    #[arg(long, value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// A principal denied (repeatable)
    #[arg(long, value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// An address the allowed principals may connect from (repeatable; default any: *)
    #[arg(long, value_name = "ADDRESS")]
    pub allow_host: Vec<String>,
    /// An address the denied principals are denied from (repeatable; default any: *)
    #[arg(long, value_name = "ADDRESS")]
    pub deny_host: Vec<String>,
    /// An operation (repeatable): all, read, write, create, delete, alter, describe, cluster_action,
    /// describe_configs, alter_configs, idempotent_write (add: default all; remove: default any)
    #[arg(long, value_name = "OPERATION", value_parser = parse_operation)]
    pub operation: Vec<AclOperation>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum AclCommand {
    /// Create ACLs: each principal, host and operation given, on each resource given
    Add {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
    /// List ACLs (all, or those of the resources given; --resource-pattern-type match shows every ACL that
    /// applies to them)
    List {
        #[command(flatten)]
        resources: Resources,
        /// Only ACLs of this principal
        #[arg(long, value_name = "PRINCIPAL")]
        principal: Option<String>,
    },
    /// Delete the ACLs of the resources given (only those of the principals, hosts and operations given, if any)
    Remove {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
}

fn parse_pattern(s: &str) -> Result<PatternType> {
    match PatternType::parse(s) {
        Some(p) if p != PatternType::Unknown => Ok(p),
        _ => bail!("expected any, match, literal or prefixed, got {s:?}"),
    }
}

fn parse_operation(s: &str) -> Result<AclOperation> {
    match AclOperation::parse(s) {
        Some(op) if !matches!(op, AclOperation::Unknown | AclOperation::Any) => Ok(op),
        _ => bail!("unknown operation {s:?}"),
    }
}

pub async fn run_acl(args: AclArgs) -> Result<()> {
    let conn = &args.conn;
    match &args.command {
        AclCommand::Add { resources, entries } => add(conn, resources, entries).await,
        AclCommand::List { resources, principal } => list(conn, resources, principal.as_deref()).await,
        AclCommand::Remove { resources, entries } => remove(conn, resources, entries).await,
    }
}

impl Resources {
    /// The (type, name) pairs named.
    fn named(&self) -> Vec<(ResourceType, String)> {
        let mut out: Vec<(ResourceType, String)> = Vec::new();
        out.extend(self.topic.iter().map(|n| (ResourceType::Topic, n.clone())));
        out.extend(self.group.iter().map(|n| (ResourceType::Group, n.clone())));
        out.extend(self.transactional_id.iter().map(|n| (ResourceType::TransactionalId, n.clone())));
        if self.cluster {
            out.push((ResourceType::Cluster, CLUSTER_NAME.to_string()));
        }
        out
    }
}

impl Entries {
    /// (permission, principal, host) triples: each principal with each host of its kind (`*` if none).
    fn who(&self) -> Vec<(Permission, String, String)> {
        let mut out = Vec::new();
        for (permission, principals, hosts) in [
            (Permission::Allow, &self.allow_principal, &self.allow_host),
            (Permission::Deny, &self.deny_principal, &self.deny_host),
        ] {
            let hosts: Vec<String> = if hosts.is_empty() { vec![WILDCARD.into()] } else { hosts.clone() };
            for p in principals {
                out.extend(hosts.iter().map(|h| (permission, p.clone(), h.clone())));
            }
        }
        out
    }
}

async fn add(conn: &ConnArgs, resources: &Resources, entries: &Entries) -> Result<()> {
    let named = resources.named();
    if named.is_empty() {
        bail!("name a resource: --topic, --group, --transactional-id or --cluster");
    }
    let who = entries.who();
    if who.is_empty() {
        bail!("name a principal: --allow-principal or --deny-principal");
    }
    let pattern_type = resources.resource_pattern_type.unwrap_or(PatternType::Literal);
    if !matches!(pattern_type, PatternType::Literal | PatternType::Prefixed) {
        bail!("ACLs are added with a literal or prefixed --resource-pattern-type, not {pattern_type}");
    }
    let operations = if entries.operation.is_empty() { vec![AclOperation::All] } else { entries.operation.clone() };
    let mut bindings = Vec::new();
    for (resource_type, resource_name) in &named {
        for (permission, principal, host) in &who {
            for operation in &operations {
                bindings.push(AclBinding {
                    resource_type: *resource_type,
                    resource_name: resource_name.clone(),
                    pattern_type,
                    principal: principal.clone(),
                    host: host.clone(),
                    operation: *operation,
                    permission: *permission,
                });
            }
        }
    }
    let creations = bindings.iter().map(creation).collect();
    let mut w = Wire::connect(conn).await?;
    let (resp, _) = w.call(3, &CreateAclsRequest::default().with_creations(creations)).await?;
    let mut failed = Vec::new();
    for (b, r) in bindings.iter().zip(&resp.results) {
        if let Some(e) = error_text(r.error_code, r.error_message.as_ref()) {
            failed.push(format!("{b}: {e}"));
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} ACLs not created:\n{}", failed.len(), bindings.len(), failed.join("\n"));
    }
    let rows: Vec<AclRow> = bindings.iter().map(AclRow::of).collect();
    if conn.json {
        return emit(true, &rows, || table(&[], Vec::<Vec<String>>::new()));
    }
    print_line(&format!("created {} ACLs", bindings.len()))?;
    print_line(&acl_table(&rows).to_string())
}

fn creation(b: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(str_bytes(&b.resource_name))
        .with_resource_pattern_type(b.pattern_type.code())
        .with_principal(str_bytes(&b.principal))
        .with_host(str_bytes(&b.host))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code())
}

/// One ACL as printed.
#[derive(Serialize)]
struct AclRow {
    resource_type: String,
    pattern_type: String,
    resource_name: String,
    principal: String,
    host: String,
    operation: String,
    permission: String,
}

impl AclRow {
    fn of(b: &AclBinding) -> Self {
        AclRow {
            resource_type: b.resource_type.to_string(),
            pattern_type: b.pattern_type.to_string(),
            resource_name: b.resource_name.clone(),
            principal: b.principal.clone(),
            host: b.host.clone(),
            operation: b.operation.to_string(),
            permission: b.permission.to_string(),
        }
    }
}

fn acl_table(rows: &[AclRow]) -> comfy_table::Table {
    let header = ["RESOURCE TYPE", "PATTERN", "NAME", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"];
    table(
        &header,
        rows.iter().map(|r| {
            vec![
                r.resource_type.clone(),
                r.pattern_type.clone(),
                r.resource_name.clone(),
                r.principal.clone(),
                r.host.clone(),
                r.operation.clone(),
                r.permission.clone(),
            ]
        }),
    )
}

/// (type, name, pattern type) filters for the resources named; one filter for everything if none is.
fn resource_filters(resources: &Resources) -> Vec<(ResourceType, Option<String>, PatternType)> {
    let named = resources.named();
    if named.is_empty() {
        return vec![(ResourceType::Any, None, resources.resource_pattern_type.unwrap_or(PatternType::Any))];
    }
    let pattern = resources.resource_pattern_type.unwrap_or(PatternType::Literal);
    named.into_iter().map(|(t, n)| (t, Some(n), pattern)).collect()
}

async fn list(conn: &ConnArgs, resources: &Resources, principal: Option<&str>) -> Result<()> {
    let mut w = Wire::connect(conn).await?;
    let mut rows = Vec::new();
    for (resource_type, name, pattern_type) in resource_filters(resources) {
        let req = DescribeAclsRequest::default()
            .with_resource_type_filter(resource_type.code())
            .with_resource_name_filter(name.as_deref().map(str_bytes))
            .with_pattern_type_filter(pattern_type.code())
            .with_principal_filter(principal.map(str_bytes))
            .with_host_filter(None)
            .with_operation(AclOperation::Any.code())
            .with_permission_type(Permission::Any.code());
        let (resp, _) = w.call(3, &req).await?;
        if let Some(e) = error_text(resp.error_code, resp.error_message.as_ref()) {
            bail!("listing ACLs failed: {e}");
        }
        for r in &resp.resources {
            for a in &r.acls {
                rows.push(AclRow::of(&AclBinding {
                    resource_type: ResourceType::from_code(r.resource_type),
                    resource_name: r.resource_name.to_string(),
                    pattern_type: PatternType::from_code(r.pattern_type),
                    principal: a.principal.to_string(),
                    host: a.host.to_string(),
                    operation: AclOperation::from_code(a.operation),
                    permission: Permission::from_code(a.permission_type),
                }));
            }
        }
    }
    emit(conn.json, &rows, || acl_table(&rows))
}

async fn remove(conn: &ConnArgs, resources: &Resources, entries: &Entries) -> Result<()> {
    if resources.named().is_empty() {
        bail!("name the resources whose ACLs to remove: --topic, --group, --transactional-id or --cluster");
    }
    // None: any principal, host or operation.
    let who: Vec<(Permission, Option<String>, Option<String>)> = match entries.who() {
        w if w.is_empty() => vec![(Permission::Any, None, None)],
        w => w.into_iter().map(|(p, principal, host)| (p, Some(principal), Some(host))).collect(),
    };
    let operations = if entries.operation.is_empty() { vec![AclOperation::Any] } else { entries.operation.clone() };
    let mut filters = Vec::new();
    for (resource_type, name, pattern_type) in resource_filters(resources) {
        for (permission, principal, host) in &who {
            for op in &operations {
                filters.push(
                    DeleteAclsFilter::default()
                        .with_resource_type_filter(resource_type.code())
                        .with_resource_name_filter(name.as_deref().map(str_bytes))
                        .with_pattern_type_filter(pattern_type.code())
                        .with_principal_filter(principal.as_deref().map(str_bytes))
                        .with_host_filter(host.as_deref().map(str_bytes))
                        .with_operation(op.code())
                        .with_permission_type(permission.code()),
                );
            }
        }
    }
    let mut w = Wire::connect(conn).await?;
    let (resp, _) = w.call(3, &DeleteAclsRequest::default().with_filters(filters)).await?;
    let mut rows = Vec::new();
    for r in &resp.filter_results {
        if let Some(e) = error_text(r.error_code, r.error_message.as_ref()) {
            bail!("removing ACLs failed: {e}");
        }
        for m in &r.matching_acls {
            rows.push(AclRow::of(&AclBinding {
                resource_type: ResourceType::from_code(m.resource_type),
                resource_name: m.resource_name.to_string(),
                pattern_type: PatternType::from_code(m.pattern_type),
                principal: m.principal.to_string(),
                host: m.host.to_string(),
                operation: AclOperation::from_code(m.operation),
                permission: Permission::from_code(m.permission_type),
            }));
        }
    }
    if conn.json {
        return emit(true, &rows, || table(&[], Vec::<Vec<String>>::new()));
    }
    print_line(&format!("removed {} ACLs", rows.len()))?;
    if !rows.is_empty() {
        print_line(&acl_table(&rows).to_string())?;
    }
    Ok(())
}
