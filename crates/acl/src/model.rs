//! Kafka's ACL vocabulary as it travels on the wire (one byte each) and as `kafka-acls.sh` names it, and
//! [`AclBinding`], one stored rule, with the checks Kafka makes before storing one.

use std::fmt;

/// The resource name of the cluster (the only valid name of a CLUSTER binding).
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A literal resource name that stands for every resource of its type.
pub const WILDCARD: &str = "*";

macro_rules! coded {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$variant),+];

            /// The value of a wire code; codes Kafka does not define are `Unknown`, as Kafka reads them.
            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => $name::$variant,)+
                    _ => $name::Unknown,
                }
            }

            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code),+
                }
            }

            /// Kafka's name (`TRANSACTIONAL_ID`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value named `s`, ignoring case, `-` for `_` (`transactional-id`), as kafka-acls.sh reads.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.replace('-', "_");
                Self::ALL_VALUES.iter().copied().find(|v| v.name().eq_ignore_ascii_case(&s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

coded!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Unknown = 0 "UNKNOWN",
        Any = 1 "ANY",
        Topic = 2 "TOPIC",
        Group = 3 "GROUP",
        Cluster = 4 "CLUSTER",
        TransactionalId = 5 "TRANSACTIONAL_ID",
        DelegationToken = 6 "DELEGATION_TOKEN",
        User = 7 "USER",
    }
);

coded!(
    /// Kafka's `PatternType`: how a binding's resource name matches (LITERAL, PREFIXED), or how a filter
    /// matches bindings (ANY, MATCH as well).
    PatternType {
        Unknown = 0 "UNKNOWN",
        Any = 1 "ANY",
        Match = 2 "MATCH",
        Literal = 3 "LITERAL",
        Prefixed = 4 "PREFIXED",
    }
);

coded!(
    /// Kafka's `AclOperation`.
    AclOperation {
        Unknown = 0 "UNKNOWN",
        Any = 1 "ANY",
        All = 2 "ALL",
        Read = 3 "READ",
        Write = 4 "WRITE",
        Create = 5 "CREATE",
        Delete = 6 "DELETE",
        Alter = 7 "ALTER",
        Describe = 8 "DESCRIBE",
        ClusterAction = 9 "CLUSTER_ACTION",
        DescribeConfigs = 10 "DESCRIBE_CONFIGS",
        AlterConfigs = 11 "ALTER_CONFIGS",
        IdempotentWrite = 12 "IDEMPOTENT_WRITE",
        CreateTokens = 13 "CREATE_TOKENS",
        DescribeTokens = 14 "DESCRIBE_TOKENS",
    }
);

coded!(
    /// Kafka's `AclPermissionType`.
    Permission {
        Unknown = 0 "UNKNOWN",
        Any = 1 "ANY",
        Deny = 2 "DENY",
        Allow = 3 "ALLOW",
    }
);

/// One ACL: `permission` `principal` from `host` to `operation` on resources of `resource_type` whose name
/// matches `resource_name` by `pattern_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: Permission,
}

impl AclBinding {
    /// Kafka's checks before a binding is stored (its controller's and `CreateAcls` handler's): a concrete
    /// resource type, pattern, operation and permission, a non-empty name (`kafka-cluster` for CLUSTER) and
    /// a principal of the form `Type:name`. The error is the message Kafka answers with INVALID_REQUEST.
    pub fn validate(&self) -> Result<(), String> {
        if matches!(self.resource_type, ResourceType::Unknown | ResourceType::Any) {
            return Err(format!("invalid resource type {}", self.resource_type));
        }
        if !matches!(self.pattern_type, PatternType::Literal | PatternType::Prefixed) {
            return Err(format!("invalid pattern type {}", self.pattern_type));
        }
        if matches!(self.operation, AclOperation::Unknown | AclOperation::Any) {
            return Err(format!("invalid operation {}", self.operation));
        }
        if !matches!(self.permission, Permission::Allow | Permission::Deny) {
            return Err(format!("invalid permission type {}", self.permission));
        }
        if self.resource_name.is_empty() {
            return Err("invalid empty resource name".into());
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return Err(format!("the only valid name for the CLUSTER resource is {CLUSTER_NAME}"));
        }
        if !self.principal.contains(':') {
            return Err(format!(
                "could not parse principal {:?} (no colon separates the principal type from its name)",
                self.principal
            ));
        }
        Ok(())
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} from {} {} on {} {} {}",
            self.permission,
            self.principal,
            self.host,
            self.operation,
            self.resource_type,
            self.pattern_type,
            self.resource_name
        )
    }
}

#[cfg(test)]
pub(crate) fn binding(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    principal: &str,
    operation: AclOperation,
    permission: Permission,
) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.into(),
        pattern_type,
        principal: principal.into(),
        host: WILDCARD.into(),
        operation,
        permission,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_kafkas() {
        assert_eq!(ResourceType::TransactionalId.code(), 5);
        assert_eq!(ResourceType::from_code(4), ResourceType::Cluster);
        assert_eq!(ResourceType::from_code(99), ResourceType::Unknown);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclOperation::from_code(-3), AclOperation::Unknown);
        assert_eq!(Permission::Allow.code(), 3);
        for op in AclOperation::ALL_VALUES {
            assert_eq!(AclOperation::from_code(op.code()), *op);
            assert_eq!(AclOperation::parse(op.name()), Some(*op));
        }
        assert_eq!(ResourceType::parse("transactional-id"), Some(ResourceType::TransactionalId));
        assert_eq!(AclOperation::parse("describeconfigs"), None);
        assert_eq!(AclOperation::parse("describe_configs"), Some(AclOperation::DescribeConfigs));
    }

    #[test]
    fn validation_refuses_what_kafka_refuses() {
        use AclOperation::*;
        use PatternType::*;
        use ResourceType::*;
        let ok = binding(Topic, "t", Literal, "User:alice", Read, Permission::Allow);
        assert_eq!(ok.validate(), Ok(()));
        let cases = [
            AclBinding { resource_type: ResourceType::Any, ..ok.clone() },
            AclBinding { resource_type: ResourceType::Unknown, ..ok.clone() },
            AclBinding { pattern_type: Match, ..ok.clone() },
            AclBinding { pattern_type: PatternType::Any, ..ok.clone() },
            AclBinding { operation: AclOperation::Any, ..ok.clone() },
            AclBinding { permission: Permission::Any, ..ok.clone() },
            AclBinding { resource_name: String::new(), ..ok.clone() },
            AclBinding { principal: "alice".into(), ..ok.clone() },
            AclBinding { resource_type: Cluster, resource_name: "other".into(), ..ok.clone() },
        ];
        for c in cases {
            assert!(c.validate().is_err(), "{c}");
        }
        let cluster = AclBinding { resource_type: Cluster, resource_name: CLUSTER_NAME.into(), ..ok };
        assert_eq!(cluster.validate(), Ok(()));
    }
}
