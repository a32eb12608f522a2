//! The `--authorizer` choice: whether requests are checked against Kafka ACLs.

use crate::codec::Named;

/// Which authorizer decides requests (Kafka's `authorizer.class.name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Authorizer {
    /// Every request is allowed, as Kafka allows all without an authorizer.
    #[default]
    None,
    /// Kafka's ACLs, stored in the metastore (StandardAuthorizer's rules).
    Acl,
}

impl Named for Authorizer {
    const NAMES: &'static [(Self, &'static str)] = &[(Authorizer::None, "none"), (Authorizer::Acl, "acl")];
    const NAME_LIST: &'static [&'static str] = &["none", "acl"];
    const EXPECTED: &'static str = "none or acl";
}
