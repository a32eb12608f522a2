//! Configs of the GROUP resource (type 32; KIP-848 and KIP-932) for DescribeConfigs, AlterConfigs and
//! IncrementalAlterConfigs, as Kafka 4.2 answers them: every group config with its effective value, the
//! source GROUP_CONFIG when the group sets it else DEFAULT_CONFIG, no broker synonyms; changes validated as a
//! whole set (INVALID_CONFIG naming the config) and stored by compare-and-set, so concurrent changes through
//! several agents never overwrite each other. A group need not exist to be configured, as in Kafka.

use super::alter_configs::{Op, Refusal, edit};
use super::str_bytes;
use crate::Agent;
use crate::error::KafkaCode;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsSynonym};
use std::collections::BTreeMap;
use weft_groups::config::{self as group_config, ConfigKind, GroupConfigError};
use weft_topics::config::ConfigType;

/// Kafka's config sources of group configs.
const SOURCE_GROUP_CONFIG: i8 = 8;
const SOURCE_DEFAULT: i8 = 5;
/// Attempts of a read-validate-write that lost its compare-and-set to a concurrent change.
const ATTEMPTS: usize = 8;

fn empty_name() -> Refusal {
    (ResponseError::InvalidRequest.code(), "group name must not be empty".into())
}

fn refused(e: GroupConfigError) -> Refusal {
    (e.code(), e.to_string())
}

fn storage(e: weft_meta::MetaError) -> Refusal {
    (e.code(), e.to_string())
}

/// Every group config of group `name` with its effective value; with synonyms, the one Kafka lists (the
/// config itself, with its source).
pub(super) async fn describe(
    agent: &Agent,
    name: &str,
    include_synonyms: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, Refusal> {
    if name.is_empty() {
        return Err(empty_name());
    }
    let stored = agent.group_configs.fresh(name).await.map_err(storage)?;
    let entries = group_config::describe(agent.group_configs.broker(), &stored.configs);
    Ok(entries
        .into_iter()
        .map(|d| {
            let source = if d.explicit { SOURCE_GROUP_CONFIG } else { SOURCE_DEFAULT };
            let synonyms = match include_synonyms {
                true => vec![
                    DescribeConfigsSynonym::default()
                        .with_name(str_bytes(d.def.name))
                        .with_value(Some(str_bytes(d.value.clone())))
                        .with_source(source),
                ],
                false => Vec::new(),
            };
            DescribeConfigsResourceResult::default()
                .with_name(str_bytes(d.def.name))
                .with_value(Some(str_bytes(d.value)))
                .with_read_only(false)
                .with_config_source(source)
                .with_is_sensitive(false)
                .with_synonyms(synonyms)
                .with_config_type(d.def.kind as i8)
                .with_documentation(Some(str_bytes(d.def.doc)))
        })
        .collect())
}

/// Applies `changes` to group `name`'s configs (`replace`: the legacy AlterConfigs, whose set replaces the
/// group's whole set), validating the result; stores it unless `validate_only`.
pub(super) async fn apply(
    agent: &Agent,
    name: &str,
    changes: Vec<(String, Op)>,
    replace: bool,
    validate_only: bool,
) -> Result<(), Refusal> {
    if name.is_empty() {
        return Err(empty_name());
    }
    for _ in 0..ATTEMPTS {
        let stored = agent.group_configs.fresh(name).await.map_err(storage)?;
        let wanted = edited(&stored.configs, &changes, replace)?;
        let validated = group_config::validate(agent.group_configs.broker(), &wanted).map_err(refused)?;
        if validate_only || validated == stored.configs {
            return Ok(());
        }
        match agent.meta.replace_group_configs(name, stored.version, &validated).await.map_err(storage)? {
            Some(version) => {
                tracing::info!(group = name, configs = ?validated, "group configs changed");
                agent.group_configs.insert(name, weft_meta::StoredGroupConfigs { configs: validated, version });
                return Ok(());
            }
            None => tracing::debug!(group = name, "group configs changed concurrently; reading them again"),
        }
    }
    Err((
        ResponseError::RequestTimedOut.code(),
        format!("configs of group {name:?} kept changing concurrently; try again"),
    ))
}

/// The group's configs after `changes`. Every name must be a group config (a deletion too); APPEND and
/// SUBTRACT are refused, as no group config is a list.
fn edited(
    current: &BTreeMap<String, String>,
    changes: &[(String, Op)],
    replace: bool,
) -> Result<BTreeMap<String, String>, Refusal> {
    let mut configs = if replace { BTreeMap::new() } else { current.clone() };
    for (key, op) in changes {
        let def = group_config::lookup(key).ok_or_else(|| refused(GroupConfigError::Unknown(key.clone())))?;
        let kind = match def.kind {
            ConfigKind::Int => ConfigType::Int,
            ConfigKind::String => ConfigType::String,
        };
        edit(&mut configs, key, kind, None, op.clone())?;
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_refuse_unknown_names_and_list_operations() {
        let current = BTreeMap::from([("consumer.session.timeout.ms".to_string(), "50000".to_string())]);
        let set = |k: &str, v: &str| (k.to_string(), Op::Set(v.into()));
        let after = edited(&current, &[set("share.isolation.level", "read_committed")], false).unwrap();
        assert_eq!(after.len(), 2);
        let replaced = edited(&current, &[set("share.isolation.level", "read_committed")], true).unwrap();
        assert_eq!(replaced.keys().collect::<Vec<_>>(), ["share.isolation.level"]);
        let deleted = edited(&current, &[("consumer.session.timeout.ms".into(), Op::Delete)], false).unwrap();
        assert!(deleted.is_empty());
        let (code, message) = edited(&current, &[set("session.timeout.ms", "1")], false).unwrap_err();
        assert_eq!((code, message.as_str()), (40, "unknown group config name: session.timeout.ms"));
        let append = [("share.isolation.level".to_string(), Op::Append("x".into()))];
        assert_eq!(edited(&current, &append, false).unwrap_err().0, ResponseError::InvalidConfig.code());
    }
}
