//! JSON Schemas: compiling with the jsonschema crate (references served from the registry's resolved
//! dependencies only, never fetched), the stored and normalized texts, the record name (`title`) and payload
//! validation. Compatibility lives in `compat`.

mod compat;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;

use crate::{Dependency, SchemaError, SchemaType};

/// How many validation errors a payload rejection names at most.
const MAX_REPORTED_ERRORS: usize = 3;

/// How many characters of one validation error are reported (errors quote the offending value).
const MAX_ERROR_CHARS: usize = 200;

#[derive(Clone)]
pub(crate) struct JsonSchema {
    value: Value,
    validator: Arc<Validator>,
    /// Dependencies by reference name, for `$ref`s during compatibility checks.
    deps: Arc<HashMap<String, Value>>,
}

impl fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonSchema").field("value", &self.value).finish_non_exhaustive()
    }
}

/// Serves `$ref` targets from the dependencies: by exact reference name, or by a resolved URI ending in it.
struct DependencyRetriever {
    deps: Arc<HashMap<String, Value>>,
}

impl Retrieve for DependencyRetriever {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str();
        let found = lookup(&self.deps, wanted);
        found.cloned().ok_or_else(|| format!("reference {wanted} is not among the schema's references").into())
    }
}

/// A dependency by reference name: exact, or the URI's path ending in `/name`.
fn lookup<'a>(deps: &'a HashMap<String, Value>, uri: &str) -> Option<&'a Value> {
    let uri = uri.split('#').next().unwrap_or(uri);
    deps.get(uri).or_else(|| {
        deps.iter()
            .find(|(name, _)| uri.strip_suffix(name.as_str()).is_some_and(|head| head.ends_with('/')))
            .map(|(_, v)| v)
    })
}

fn invalid(reason: impl fmt::Display) -> SchemaError {
    SchemaError::invalid(SchemaType::Json, reason)
}

impl JsonSchema {
    pub(crate) fn parse(text: &str, deps: &[Dependency]) -> Result<Self, SchemaError> {
        let value: Value = serde_json::from_str(text).map_err(|e| invalid(format!("not json: {e}")))?;
        if !value.is_object() && !value.is_boolean() {
            return Err(invalid("a schema is a json object or boolean"));
        }
        let mut parsed = HashMap::new();
        for d in deps {
            if d.schema_type != SchemaType::Json {
                return Err(invalid(format!("reference {} is a {} schema, not JSON", d.name, d.schema_type)));
            }
            let dep: Value =
                serde_json::from_str(&d.text).map_err(|e| invalid(format!("reference {} is not json: {e}", d.name)))?;
            parsed.insert(d.name.clone(), dep);
        }
        let deps = Arc::new(parsed);
        let retriever = DependencyRetriever { deps: Arc::clone(&deps) };
        let mut options = jsonschema::options().with_retriever(retriever);
        // Confluent reads a schema without `$schema` as draft-07 (jsonschema would take 2020-12).
        if value.get("$schema").is_none() {
            options = options.with_draft(Draft::Draft7);
        }
        let validator = options.build(&value).map_err(invalid)?;
        Ok(JsonSchema { value, validator: Arc::new(validator), deps })
    }

    /// Without normalize: the JSON re-serialized compactly. With normalize: object keys sorted and the
    /// order-insensitive arrays (`required`, `type`) sorted and deduplicated as well.
    pub(crate) fn canonical(&self, normalize: bool) -> String {
        if normalize { normalized(&self.value).to_string() } else { self.value.to_string() }
    }

    pub(crate) fn read_incompatibilities(&self, writer: &JsonSchema) -> Vec<String> {
        compat::read_incompatibilities(&self.value, &self.deps, &writer.value, &writer.deps)
    }

    pub(crate) fn record_name(&self) -> Option<String> {
        self.value.get("title").and_then(Value::as_str).map(str::to_string)
    }

    pub(crate) fn validate_payload(&self, payload: &[u8]) -> Result<(), String> {
        let instance: Value = serde_json::from_slice(payload).map_err(|e| format!("payload is not json: {e}"))?;
        let errors: Vec<String> = self
            .validator
            .iter_errors(&instance)
            .take(MAX_REPORTED_ERRORS)
            .map(|e| format!("{} at '{}'", shortened(&e.to_string()), e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("payload does not match the schema: {}", errors.join("; ")))
        }
    }
}

/// At most `MAX_ERROR_CHARS` characters of a message, marked when cut.
fn shortened(message: &str) -> String {
    match message.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message.to_string(),
    }
}

fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for key in keys {
                let v = &map[key];
                let sorted = match (key.as_str(), v) {
                    ("required" | "type", Value::Array(items)) => {
                        let mut items = items.clone();
                        items.sort_by_key(Value::to_string);
                        items.dedup();
                        Value::Array(items)
                    }
                    _ => normalized(v),
                };
                out.insert(key.clone(), sorted);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
