//! [`AclFilter`], which bindings DescribeAcls lists and DeleteAcls removes: Kafka's `AclBindingFilter`, with
//! ANY for "whatever", and the MATCH pattern type for "every binding that would apply to this resource".

use crate::model::{AclBinding, AclOperation, PatternType, Permission, ResourceType, WILDCARD};

/// A filter over bindings; `None` names match any value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: Permission,
}

impl AclFilter {
    /// Matches every binding.
    pub fn any() -> Self {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: Permission::Any,
        }
    }

    /// Whether a part of the filter is a code Kafka does not define; Kafka refuses such a filter.
    pub fn is_unknown(&self) -> bool {
        self.resource_type == ResourceType::Unknown
            || self.pattern_type == PatternType::Unknown
            || self.operation == AclOperation::Unknown
            || self.permission == Permission::Unknown
    }

    pub fn matches(&self, b: &AclBinding) -> bool {
        self.matches_pattern(b) && self.matches_entry(b)
    }

    /// Kafka's `ResourcePatternFilter.matches`.
    fn matches_pattern(&self, b: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != b.resource_type {
            return false;
        }
        let wide = matches!(self.pattern_type, PatternType::Any | PatternType::Match);
        if !wide && self.pattern_type != b.pattern_type {
            return false;
        }
        let Some(name) = &self.resource_name else { return true };
        if self.pattern_type != PatternType::Match {
            return *name == b.resource_name;
        }
        match b.pattern_type {
            PatternType::Literal => *name == b.resource_name || b.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&b.resource_name),
            _ => false,
        }
    }

    /// Kafka's `AccessControlEntryFilter.matches`: principal and host compared as written.
    fn matches_entry(&self, b: &AclBinding) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == b.principal)
            && self.host.as_ref().is_none_or(|h| *h == b.host)
            && (self.operation == AclOperation::Any || self.operation == b.operation)
            && (self.permission == Permission::Any || self.permission == b.permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::binding;
    use AclOperation::*;
    use PatternType::*;
    use ResourceType::*;

    fn acls() -> Vec<AclBinding> {
        vec![
            binding(Topic, "orders", Literal, "User:alice", Read, Permission::Allow),
            binding(Topic, "*", Literal, "User:bob", Write, Permission::Allow),
            binding(Topic, "ord", Prefixed, "User:carol", Describe, Permission::Deny),
            binding(Topic, "payments", Prefixed, "User:alice", All, Permission::Allow),
            binding(Group, "orders", Literal, "User:alice", Read, Permission::Allow),
        ]
    }

    fn names(f: &AclFilter) -> Vec<String> {
        acls().iter().filter(|b| f.matches(b)).map(|b| format!("{}:{}", b.resource_name, b.principal)).collect()
    }

    #[test]
    fn any_matches_everything() {
        assert_eq!(names(&AclFilter::any()).len(), 5);
    }

    #[test]
    fn a_named_literal_filter_matches_that_binding_only() {
        let f = AclFilter {
            resource_type: Topic,
            resource_name: Some("orders".into()),
            pattern_type: Literal,
            ..AclFilter::any()
        };
        assert_eq!(names(&f), ["orders:User:alice"]);
    }

    #[test]
    fn any_pattern_matches_the_name_exactly_whatever_the_pattern_type() {
        let f = AclFilter { resource_name: Some("ord".into()), ..AclFilter::any() };
        assert_eq!(names(&f), ["ord:User:carol"]);
    }

    #[test]
    fn match_finds_every_binding_that_applies_to_the_resource() {
        let f = AclFilter {
            resource_type: Topic,
            resource_name: Some("orders".into()),
            pattern_type: Match,
            ..AclFilter::any()
        };
        assert_eq!(names(&f), ["orders:User:alice", "*:User:bob", "ord:User:carol"]);
        let f = AclFilter {
            resource_type: Topic,
            resource_name: Some("payments-eu".into()),
            pattern_type: Match,
            ..AclFilter::any()
        };
        assert_eq!(names(&f), ["*:User:bob", "payments:User:alice"]);
    }

    #[test]
    fn entry_parts_narrow_the_match() {
        let f = AclFilter { principal: Some("User:alice".into()), operation: Read, ..AclFilter::any() };
        assert_eq!(names(&f), ["orders:User:alice", "orders:User:alice"]);
        let f = AclFilter { permission: Permission::Deny, ..AclFilter::any() };
        assert_eq!(names(&f), ["ord:User:carol"]);
        let f = AclFilter { host: Some("10.0.0.1".into()), ..AclFilter::any() };
        assert!(names(&f).is_empty(), "hosts are compared as written");
    }

    #[test]
    fn unknown_parts_are_reported() {
        assert!(!AclFilter::any().is_unknown());
        assert!(AclFilter { operation: AclOperation::Unknown, ..AclFilter::any() }.is_unknown());
        assert!(AclFilter { pattern_type: PatternType::Unknown, ..AclFilter::any() }.is_unknown());
    }
}
