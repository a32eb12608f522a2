//! Custom properties that apache-avro's schema model drops, put back into its JSON form.
//!
//! apache-avro keeps the properties of records, enums, fixed types and fields, but a primitive type written
//! as an object (`{"type": "int", "connect.type": "int16"}`, `{"type": "string", "avro.java.string":
//! "String"}`, an unknown `logicalType`) comes back as its bare name. Avro's Java library, and so Confluent's
//! registry, keep such properties, and readers rely on them (Kafka Connect's `connect.type`). The model's
//! JSON stays the base, so a schema that lost nothing keeps exactly the text (and fingerprint) it had before.

use serde_json::{Map, Value};

/// `model` (apache-avro's JSON of the schema parsed from `written`) with every property of `written` that
/// the model lacks put back, walking both in step.
pub(crate) fn restore(written: &Value, model: Value) -> Value {
    match (written, model) {
        (Value::Object(w), Value::String(name)) => {
            let mut out = Map::from_iter([("type".to_string(), Value::String(name))]);
            let extras = missing(w, &out);
            if extras.is_empty() {
                return out.remove("type").unwrap_or_default();
            }
            out.extend(extras);
            Value::Object(out)
        }
        (Value::Object(w), Value::Object(mut m)) => {
            for (key, value) in m.iter_mut() {
                if let Some(written_value) = w.get(key.as_str()).filter(|_| nests_schemas(key)) {
                    *value = restore(written_value, value.take());
                }
            }
            let extras = missing(w, &m);
            m.extend(extras);
            Value::Object(m)
        }
        (Value::Array(w), Value::Array(m)) if w.len() == m.len() => {
            Value::Array(w.iter().zip(m).map(|(w, m)| restore(w, m)).collect())
        }
        (_, model) => model,
    }
}

/// Keys whose values hold schemas (or fields, which hold schemas).
fn nests_schemas(key: &str) -> bool {
    matches!(key, "type" | "fields" | "items" | "values")
}

/// The properties of `written` absent from `model`. `namespace` is not one: the model writes names its own
/// way (full names split, namespaces inherited), and adding the written one back would change nothing.
fn missing(written: &Map<String, Value>, model: &Map<String, Value>) -> Vec<(String, Value)> {
    written
        .iter()
        .filter(|(k, _)| k.as_str() != "namespace" && !model.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
