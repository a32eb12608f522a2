//! [`Policy`]: the bindings of one moment, indexed for decisions, with the super users and the rule for
//! resources without ACLs. Decisions follow Kafka's `StandardAuthorizer`:
//!
//! 1. a super user may do everything;
//! 2. the bindings that apply are those of the resource's type whose pattern covers its name (LITERAL with the
//!    name or `*`, PREFIXED with a prefix of it), for the principal or `User:*`, from the client's address
//!    or `*`;
//! 3. a DENY for the operation (or ALL) wins; else an ALLOW for it (or ALL, or one that implies it: READ,
//!    WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows;
//! 4. with no binding at all on the resource (whoever it names), `allow.everyone.if.no.acl.found` decides;
//!    else the request is denied.
//!
//! A decision is a few hash lookups (the literal name, `*`, and each prefix length that bindings use), with no
//! lock and no allocation, so it costs nothing measurable next to a produce request.

use crate::model::{AclBinding, AclOperation, PatternType, Permission, ResourceType, WILDCARD};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The principal that stands for every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// One binding's entry, as a decision reads it.
#[derive(Debug)]
struct Entry {
    principal: Box<str>,
    /// `None` for `*`; a host that is not an address matches no client (Kafka compares addresses).
    host: Option<Option<IpAddr>>,
    operation: AclOperation,
    permission: Permission,
}

impl Entry {
    fn of(b: &AclBinding) -> Self {
        let host =
            if b.host == WILDCARD { None } else { Some(b.host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())) };
        Entry { principal: b.principal.as_str().into(), host, operation: b.operation, permission: b.permission }
    }

    fn applies_to(&self, principal: &str, host: IpAddr) -> bool {
        (*self.principal == *principal || &*self.principal == WILDCARD_PRINCIPAL)
            && self.host.is_none_or(|h| h == Some(host))
    }

    /// Kafka's operation rule: ALL covers everything; an ALLOW also covers what it implies; a DENY only
    /// its own operation.
    fn covers(&self, operation: AclOperation) -> bool {
        if self.operation == AclOperation::All || self.operation == operation {
            return true;
        }
        self.permission == Permission::Allow
            && match operation {
                AclOperation::Describe => matches!(
                    self.operation,
                    AclOperation::Read | AclOperation::Write | AclOperation::Delete | AclOperation::Alter
                ),
                AclOperation::DescribeConfigs => self.operation == AclOperation::AlterConfigs,
                _ => false,
            }
    }
}

/// The bindings of one resource type.
#[derive(Debug, Default)]
struct TypeIndex {
    literal: HashMap<String, Vec<Entry>>,
    prefixed: HashMap<String, Vec<Entry>>,
    /// The distinct lengths (bytes) of prefixed names, ascending: only these prefixes are looked up.
    prefix_lengths: Vec<usize>,
}

/// What the bindings that apply to a request say.
#[derive(Default)]
struct Verdict {
    any_acl: bool,
    allow: bool,
    deny: bool,
}

impl Verdict {
    fn add(&mut self, entries: Option<&Vec<Entry>>, principal: &str, host: IpAddr, operation: AclOperation) {
        let Some(entries) = entries else { return };
        self.any_acl |= !entries.is_empty();
        for e in entries.iter().filter(|e| e.applies_to(principal, host) && e.covers(operation)) {
            match e.permission {
                Permission::Deny => self.deny = true,
                Permission::Allow => self.allow = true,
                _ => {}
            }
        }
    }
}

/// The authorizer's state at one moment: immutable, shared by every request until the next is built.
#[derive(Debug, Default)]
pub struct Policy {
    types: HashMap<ResourceType, TypeIndex>,
    super_users: HashSet<String>,
    allow_if_no_acl: bool,
    count: usize,
}

impl Policy {
    /// A policy over `bindings` (invalid ones, which are never stored, are skipped). `super_users` are
    /// principals as Kafka's `super.users` lists them.
    pub fn new<'a>(
        bindings: impl IntoIterator<Item = &'a AclBinding>,
        super_users: impl IntoIterator<Item = String>,
        allow_if_no_acl: bool,
    ) -> Self {
        let mut types: HashMap<ResourceType, TypeIndex> = HashMap::new();
        let mut count = 0;
        for b in bindings.into_iter().filter(|b| b.validate().is_ok()) {
            let index = types.entry(b.resource_type).or_default();
            let map = match b.pattern_type {
                PatternType::Prefixed => &mut index.prefixed,
                _ => &mut index.literal,
            };
            map.entry(b.resource_name.clone()).or_default().push(Entry::of(b));
            count += 1;
        }
        for index in types.values_mut() {
            index.prefix_lengths = index.prefixed.keys().map(String::len).collect();
            index.prefix_lengths.sort_unstable();
            index.prefix_lengths.dedup();
        }
        Policy { types, super_users: super_users.into_iter().collect(), allow_if_no_acl, count }
    }

    /// Principals from Kafka's `super.users` syntax: `User:admin;User:ops` (spaces around each trimmed).
    pub fn parse_super_users(list: &str) -> Vec<String> {
        list.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    /// How many bindings the policy holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn is_super_user(&self, principal: &str) -> bool {
        self.super_users.contains(principal)
    }

    /// Whether `principal` connected from `host` may do `operation` on the resource `resource_type` /
    /// `name` (Kafka's `authorize` for one action).
    pub fn allows(
        &self,
        principal: &str,
        host: IpAddr,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if self.is_super_user(principal) {
            return true;
        }
        let host = host.to_canonical();
        let mut verdict = Verdict::default();
        if let Some(index) = self.types.get(&resource_type) {
            verdict.add(index.literal.get(name), principal, host, operation);
            if name != WILDCARD {
                verdict.add(index.literal.get(WILDCARD), principal, host, operation);
            }
            for &len in index.prefix_lengths.iter().take_while(|&&len| len <= name.len()) {
                if let Some(prefix) = name.get(..len) {
                    verdict.add(index.prefixed.get(prefix), principal, host, operation);
                }
            }
        }
        if verdict.deny {
            return false;
        }
        verdict.allow || (!verdict.any_acl && self.allow_if_no_acl)
    }

    /// Whether `principal` may do `operation` on at least one resource of `resource_type` (Kafka's
    /// `authorizeByResourceType`): true if allowed on a resource without bindings (super users,
    /// `allow.everyone.if.no.acl.found`), else if some ALLOW (literal or prefixed) is not overruled by a
    /// DENY on `*`, on the same literal name, or on a prefix of the allowed name.
    pub fn allows_any(
        &self,
        principal: &str,
        host: IpAddr,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        // Kafka asks about a made-up name first, so super users and the no-ACL rule apply.
        if self.allows(principal, host, operation, resource_type, "hardcode") {
            return true;
        }
        let Some(index) = self.types.get(&resource_type) else { return false };
        let host = host.to_canonical();
        let applies =
            |e: &Entry| e.applies_to(principal, host) && (e.operation == operation || e.operation == AclOperation::All);
        let with = |map: &HashMap<String, Vec<Entry>>, permission: Permission| -> Vec<String> {
            map.iter()
                .filter(|(_, es)| es.iter().any(|e| e.permission == permission && applies(e)))
                .map(|(name, _)| name.clone())
                .collect()
        };
        let denied_literal: HashSet<String> = with(&index.literal, Permission::Deny).into_iter().collect();
        if denied_literal.contains(WILDCARD) {
            return false;
        }
        let denied_prefixes = with(&index.prefixed, Permission::Deny);
        let allowed_literal = with(&index.literal, Permission::Allow);
        if allowed_literal.iter().any(|n| n == WILDCARD) {
            return true;
        }
        let dominated = |name: &str| denied_prefixes.iter().any(|p| name.starts_with(p.as_str()));
        allowed_literal.iter().any(|n| !denied_literal.contains(n) && !dominated(n))
            || with(&index.prefixed, Permission::Allow).iter().any(|n| !dominated(n))
    }
}

#[cfg(test)]
mod tests;
