//! The quota entity, as Kafka names it: a user, a client id, or both, each either a name or the default
//! (`<default>` in `kafka-configs.sh`). Shared by the store, the agent's quota manager and the admin APIs.

/// One component of a quota entity: a name or the default for every name without its own quota.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaName {
    Named(String),
    Default,
}

impl QuotaName {
    /// The name, or `None` for the default (Kafka's entity data `name = null`).
    pub fn name(&self) -> Option<&str> {
        match self {
            QuotaName::Named(n) => Some(n),
            QuotaName::Default => None,
        }
    }
}

/// A quota entity: `/config/users/<user>/clients/<client-id>` and its shorter forms. At least one part is set
/// in a stored entity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct QuotaEntity {
    pub user: Option<QuotaName>,
    pub client_id: Option<QuotaName>,
}

impl QuotaEntity {
    /// The entity of a named user.
    pub fn user(name: &str) -> Self {
        QuotaEntity { user: Some(QuotaName::Named(name.to_string())), client_id: None }
    }

    /// The entity of a named client id.
    pub fn client(id: &str) -> Self {
        QuotaEntity { user: None, client_id: Some(QuotaName::Named(id.to_string())) }
    }
}

/// One stored quota: the value of one key for one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaRecord {
    pub entity: QuotaEntity,
    pub key: String,
    pub value: f64,
}

/// How one entity part is kept in a column: `""` absent, `"*"` the default, `"="` followed by the name. A
/// name may be anything (even empty), so the prefix keeps the three apart.
pub(crate) fn encode_part(part: &Option<QuotaName>) -> String {
    match part {
        None => String::new(),
        Some(QuotaName::Default) => "*".to_string(),
        Some(QuotaName::Named(n)) => format!("={n}"),
    }
}

/// The inverse of [`encode_part`]; `None` for a column no build wrote.
pub(crate) fn decode_part(column: &str) -> Option<Option<QuotaName>> {
    match column {
        "" => Some(None),
        "*" => Some(Some(QuotaName::Default)),
        _ => column.strip_prefix('=').map(|n| Some(QuotaName::Named(n.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_through_their_column() {
        for part in
            [None, Some(QuotaName::Default), Some(QuotaName::Named(String::new())), Some(QuotaName::Named("*".into()))]
        {
            assert_eq!(decode_part(&encode_part(&part)), Some(part.clone()), "{part:?}");
        }
        assert_eq!(decode_part("junk"), None);
    }
}
