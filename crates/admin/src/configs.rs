//! Topic, broker and group configs over the wire: DescribeConfigs, and changes through IncrementalAlterConfigs or, on a
//! cluster that lacks it, AlterConfigs with the resource's current dynamic configs merged in (AlterConfigs
//! replaces the whole set, so sending only the changes would reset everything else).

use crate::common::table;
use crate::wire::{Wire, error_text, str_bytes};
use anyhow::{Result, bail};
use comfy_table::Table;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    AlterConfigsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest, alter_configs_request,
    incremental_alter_configs_request,
};
use serde::Serialize;
use std::collections::BTreeMap;

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_GROUP: i8 = 32;

const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_BROKER: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
pub const SOURCE_DEFAULT: i8 = 5;
const SOURCE_GROUP: i8 = 8;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// A topic, a group, a broker (by id), or the cluster-wide broker defaults (a broker with the empty name).
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub kind: i8,
    pub name: &'a str,
}

impl Resource<'_> {
    fn describe(&self) -> String {
        match (self.kind, self.name) {
            (RESOURCE_TOPIC, n) => format!("topic {n}"),
            (RESOURCE_GROUP, n) => format!("group {n}"),
            (_, "") => "the cluster-wide broker defaults".to_string(),
            (_, n) => format!("broker {n}"),
        }
    }

    /// The config source of values set dynamically on this resource.
    fn dynamic_source(&self) -> i8 {
        match (self.kind, self.name) {
            (RESOURCE_TOPIC, _) => SOURCE_DYNAMIC_TOPIC,
            (RESOURCE_GROUP, _) => SOURCE_GROUP,
            (_, "") => SOURCE_DYNAMIC_DEFAULT_BROKER,
            _ => SOURCE_DYNAMIC_BROKER,
        }
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct ConfigRow {
    pub name: String,
    pub value: Option<String>,
    pub source: &'static str,
    #[serde(skip)]
    pub source_id: i8,
    pub read_only: bool,
    pub sensitive: bool,
}

/// Kafka's names for config sources (DescribeConfigs v1+).
pub fn source_name(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

pub fn config_table(rows: &[ConfigRow]) -> Table {
    let value = |r: &ConfigRow| match (&r.value, r.sensitive) {
        (_, true) => "(sensitive)".to_string(),
        (Some(v), _) => v.clone(),
        (None, _) => "-".to_string(),
    };
    table(&["NAME", "VALUE", "SOURCE"], rows.iter().map(|r| vec![r.name.clone(), value(r), r.source.to_string()]))
}

/// Every config of `resource`, sorted by name.
pub async fn describe(w: &mut Wire, resource: Resource<'_>) -> Result<Vec<ConfigRow>> {
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(resource.kind)
            .with_resource_name(str_bytes(resource.name))
            .with_configuration_keys(None),
    ]);
    let (resp, _) = w.call(4, &req).await?;
    let Some(result) = resp.results.into_iter().next() else {
        bail!("the cluster described nothing for {}", resource.describe());
    };
    if result.error_code == 3 && resource.kind == RESOURCE_TOPIC {
        bail!("topic {} does not exist", resource.name);
    }
    if let Some(e) = error_text(result.error_code, result.error_message.as_ref()) {
        bail!("cannot describe the configs of {}: {e}", resource.describe());
    }
    let mut rows: Vec<ConfigRow> = result
        .configs
        .into_iter()
        .map(|c| ConfigRow {
            name: c.name.to_string(),
            value: c.value.map(|v| v.to_string()),
            source: source_name(c.config_source),
            source_id: c.config_source,
            read_only: c.read_only,
            sensitive: c.is_sensitive,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// Configs to set and to delete (return to their default).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Change {
    pub set: BTreeMap<String, String>,
    pub delete: Vec<String>,
}

impl Change {
    pub fn new(set: &[(String, String)], delete: &[String]) -> Result<Change> {
        if set.is_empty() && delete.is_empty() {
            bail!("nothing to change: give KEY=VALUE to set or --delete KEY");
        }
        let set: BTreeMap<String, String> = set.iter().cloned().collect();
        if let Some(k) = delete.iter().find(|k| set.contains_key(*k)) {
            bail!("{k} is both set and deleted");
        }
        Ok(Change { set, delete: delete.to_vec() })
    }

    /// What AlterConfigs must send: the current dynamic configs with this change applied.
    fn merged(&self, current: &[ConfigRow], dynamic_source: i8) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for c in current.iter().filter(|c| c.source_id == dynamic_source) {
            if self.set.contains_key(&c.name) || self.delete.contains(&c.name) {
                continue;
            }
            match &c.value {
                Some(v) if !c.sensitive => {
                    out.insert(c.name.clone(), v.clone());
                }
                _ => bail!(
                    "{} is set but its value is hidden, so AlterConfigs (the cluster has no \
                     IncrementalAlterConfigs) would lose it; set it again in the same command",
                    c.name
                ),
            }
        }
        out.extend(self.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(out)
    }
}

/// Applies `change` to `resource`; the broker's own message explains a refusal.
pub async fn alter(w: &mut Wire, resource: Resource<'_>, change: &Change) -> Result<()> {
    let (code, message) = if w.supports::<IncrementalAlterConfigsRequest>() {
        use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let op = |name: &str, op: i8, value: Option<&str>| {
            AlterableConfig::default()
                .with_name(str_bytes(name))
                .with_config_operation(op)
                .with_value(value.map(str_bytes))
        };
        let mut configs: Vec<AlterableConfig> = change.set.iter().map(|(k, v)| op(k, OP_SET, Some(v))).collect();
        configs.extend(change.delete.iter().map(|k| op(k, OP_DELETE, None)));
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource.kind)
                .with_resource_name(str_bytes(resource.name))
                .with_configs(configs),
        ]);
        let (resp, _) = w.call(1, &req).await?;
        let r = resp.responses.into_iter().next();
        r.map(|r| (r.error_code, r.error_message)).unwrap_or((0, None))
    } else if w.supports::<AlterConfigsRequest>() {
        use alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let current = describe(w, resource).await?;
        let merged = change.merged(&current, resource.dynamic_source())?;
        let configs = merged
            .iter()
            .map(|(k, v)| AlterableConfig::default().with_name(str_bytes(k)).with_value(Some(str_bytes(v))))
            .collect();
        let req = AlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource.kind)
                .with_resource_name(str_bytes(resource.name))
                .with_configs(configs),
        ]);
        let (resp, _) = w.call(2, &req).await?;
        let r = resp.responses.into_iter().next();
        r.map(|r| (r.error_code, r.error_message)).unwrap_or((0, None))
    } else {
        bail!("the cluster at {} supports neither IncrementalAlterConfigs nor AlterConfigs", w.bootstrap());
    };
    if code == 3 && resource.kind == RESOURCE_TOPIC {
        bail!("topic {} does not exist", resource.name);
    }
    if let Some(e) = error_text(code, message.as_ref()) {
        bail!("cannot change the configs of {}: {e}", resource.describe());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, value: Option<&str>, source: i8, sensitive: bool) -> ConfigRow {
        let value = value.map(str::to_string);
        ConfigRow {
            name: name.into(),
            value,
            source: source_name(source),
            source_id: source,
            read_only: false,
            sensitive,
        }
    }

    #[test]
    fn alter_configs_keeps_the_other_dynamic_configs() {
        let set = [("retention.ms".to_string(), "5".to_string())];
        let change = Change::new(&set, &["cleanup.policy".to_string()]).unwrap();
        let current = [
            row("retention.ms", Some("1"), SOURCE_DYNAMIC_TOPIC, false),
            row("cleanup.policy", Some("compact"), SOURCE_DYNAMIC_TOPIC, false),
            row("max.message.bytes", Some("2000"), SOURCE_DYNAMIC_TOPIC, false),
            row("segment.ms", Some("10"), SOURCE_DEFAULT, false),
        ];
        let merged = change.merged(&current, SOURCE_DYNAMIC_TOPIC).unwrap();
        let want = [("max.message.bytes", "2000"), ("retention.ms", "5")];
        assert_eq!(merged, want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let hidden = [row("password", None, SOURCE_DYNAMIC_TOPIC, true)];
        assert!(change.merged(&hidden, SOURCE_DYNAMIC_TOPIC).is_err());
    }

    #[test]
    fn a_change_must_change_something_once() {
        assert!(Change::new(&[], &[]).is_err());
        assert!(Change::new(&[("a".into(), "1".into())], &["a".into()]).is_err());
    }
}
