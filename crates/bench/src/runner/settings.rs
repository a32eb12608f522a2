//! The scenario as run, flattened into the report's `key = value` settings (`producers[0].rate = 5000`),
//! with the topics' names on the cluster and their configs as the cluster describes them.

use serde_json::Value;
use weft_report::RunSettings;

use crate::scenario::Scenario;

/// Flattens `scenario` (after overrides) into settings.
pub(crate) fn settings(scenario: &Scenario) -> RunSettings {
    let mut out = RunSettings::new();
    if let Ok(value) = serde_json::to_value(scenario) {
        flatten("", &value, &mut out);
    }
    out
}

/// Adds a topic's name on the cluster and the described values of the configs the scenario set.
pub(crate) fn add_topic(
    out: &mut RunSettings,
    index: usize,
    name: &str,
    described: &[(String, String)],
    set: &[String],
) {
    out.insert(format!("topics[{index}].created_as"), name.to_string());
    for (key, value) in described.iter().filter(|(k, _)| set.contains(k)) {
        out.insert(format!("topics[{index}].described.{key}"), value.clone());
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut RunSettings) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_flatten_to_dotted_keys() {
        let s = crate::scenario::load("compaction-churn").unwrap();
        let mut out = settings(&s);
        assert_eq!(out.get("name").map(String::as_str), Some("compaction-churn"));
        assert_eq!(out.get("producers[0].rate").map(String::as_str), Some("2000"));
        assert_eq!(out.get("producers[0].keys.distribution").map(String::as_str), Some("zipf"));
        assert_eq!(out.get("topics[0].configs.cleanup.policy").map(String::as_str), Some("compact"));
        assert!(!out.contains_key("objective"), "absent values are left out");
        let described =
            [("cleanup.policy".to_string(), "compact".to_string()), ("retention.ms".to_string(), "1".to_string())];
        add_topic(&mut out, 0, "weft-bench-x", &described, &["cleanup.policy".to_string()]);
        assert_eq!(out.get("topics[0].described.cleanup.policy").map(String::as_str), Some("compact"));
        assert!(!out.contains_key("topics[0].described.retention.ms"));
        assert_eq!(out.get("topics[0].created_as").map(String::as_str), Some("weft-bench-x"));
    }
}
