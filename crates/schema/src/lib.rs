//! PLACEHOLDER for the schema formats crate (parsing, canonical forms, compatibility, payload validation of
//! Avro, Protobuf and JSON Schema). It exists only so the registry builds and its tests run before the real
//! crate (built in parallel by another helper, with exactly this API) is merged; it is replaced whole then.
//!
//! What it does: Avro and JSON texts must be JSON (canonical = compact JSON); Protobuf text is taken as given
//! (trimmed). Compatibility knows one trivial Avro rule, enough for the registry's level logic tests: a reader
//! record cannot read a writer record that lacks one of the reader's fields that has no `default`.

use std::fmt;
use std::str::FromStr;

/// The three formats a registry stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    /// The name as the registry API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "AVRO" => Ok(SchemaType::Avro),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            "JSON" => Ok(SchemaType::Json),
            other => Err(format!("unknown schema type {other:?}")),
        }
    }
}

/// A referenced schema, resolved (flattened, transitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub schema_type: SchemaType,
    pub text: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid {kind} schema: {reason}")]
    Invalid { kind: SchemaType, reason: String },
}

/// A parsed schema.
#[derive(Debug, Clone)]
pub struct Schema {
    schema_type: SchemaType,
    canonical: String,
    json: Option<serde_json::Value>,
}

impl Schema {
    pub fn parse(schema_type: SchemaType, text: &str, _deps: &[Dependency]) -> Result<Schema, SchemaError> {
        let invalid = |reason: String| SchemaError::Invalid { kind: schema_type, reason };
        match schema_type {
            SchemaType::Protobuf => {
                if text.trim().is_empty() {
                    return Err(invalid("empty schema".into()));
                }
                Ok(Schema { schema_type, canonical: text.trim().to_string(), json: None })
            }
            SchemaType::Avro | SchemaType::Json => {
                let json: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
                if schema_type == SchemaType::Avro && !(json.is_object() || json.is_string() || json.is_array()) {
                    return Err(invalid("not an avro schema".into()));
                }
                Ok(Schema { schema_type, canonical: json.to_string(), json: Some(json) })
            }
        }
    }

    pub fn schema_type(&self) -> SchemaType {
        self.schema_type
    }

    pub fn canonical(&self, _normalize: bool) -> String {
        self.canonical.clone()
    }

    pub fn read_incompatibilities(&self, writer: &Schema) -> Vec<String> {
        let (Some(reader), Some(writer)) = (&self.json, &writer.json) else { return Vec::new() };
        if self.schema_type != SchemaType::Avro {
            return Vec::new();
        }
        let names = |v: &serde_json::Value| -> Vec<String> {
            v.get("fields")
                .and_then(|f| f.as_array())
                .map(|f| f.iter().filter_map(|x| x.get("name")?.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let written = names(writer);
        let fields = reader.get("fields").and_then(|f| f.as_array()).cloned().unwrap_or_default();
        fields
            .iter()
            .filter(|f| f.get("default").is_none())
            .filter_map(|f| f.get("name")?.as_str())
            .filter(|n| !written.iter().any(|w| w == n))
            .map(|n| format!("reader field {n:?} has no default and is missing from the writer"))
            .collect()
    }

    pub fn record_name(&self) -> Option<String> {
        let json = self.json.as_ref()?;
        let name = json.get("name")?.as_str()?;
        match json.get("namespace").and_then(|n| n.as_str()) {
            Some(ns) if !ns.is_empty() => Some(format!("{ns}.{name}")),
            _ => Some(name.to_string()),
        }
    }

    pub fn validate_payload(&self, _payload: &[u8]) -> Result<(), String> {
        Ok(())
    }
}
