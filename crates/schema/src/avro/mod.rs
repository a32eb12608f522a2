//! Avro schemas: parsing with named types from references, Confluent's canonical and normalized texts, the
//! reader/writer compatibility check (apache-avro's checker, its messages made short, its partial matches located
//! by `partial`, its work bounded by `budget`) and the record name.
//! Payload validation lives in `datum`, a bounded walker of Avro's binary encoding.

mod budget;
mod datum;
mod partial;
mod props;

use std::collections::HashMap;

use apache_avro::Schema as Avro;
use apache_avro::error::CompatibilityError;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use serde_json::Value;

use crate::{Dependency, SchemaError, SchemaType};

/// A parsed Avro schema: as written (for its texts) and with references inlined (for checks and decoding).
#[derive(Debug, Clone)]
pub(crate) struct AvroSchema {
    /// The schema as written, for the properties the model drops (see `props`).
    written: Value,
    parsed: Avro,
    resolved: Avro,
    /// Every named type reachable from `resolved`, by full name, for `Ref`s of recursive types.
    names: HashMap<String, Avro>,
}

fn invalid(reason: impl std::fmt::Display) -> SchemaError {
    SchemaError::invalid(SchemaType::Avro, reason)
}

impl AvroSchema {
    pub(crate) fn parse(text: &str, deps: &[Dependency]) -> Result<Self, SchemaError> {
        if let Some(d) = deps.iter().find(|d| d.schema_type != SchemaType::Avro) {
            return Err(invalid(format!("reference {} is a {} schema, not AVRO", d.name, d.schema_type)));
        }
        let (parsed, schemata) = if deps.is_empty() {
            (Avro::parse_str(text).map_err(invalid)?, Vec::new())
        } else {
            Avro::parse_str_with_list(text, deps.iter().map(|d| d.text.as_str())).map_err(invalid)?
        };
        let mut resolved = parsed.clone();
        resolved.denormalize(&schemata).map_err(invalid)?;
        let mut names = HashMap::new();
        collect_names(&resolved, &mut names);
        let written = serde_json::from_str(text).map_err(invalid)?;
        Ok(AvroSchema { written, parsed, resolved, names })
    }

    pub(crate) fn canonical(&self, normalize: bool) -> String {
        let json = match serde_json::to_value(&self.parsed) {
            Ok(json) => props::restore(&self.written, json),
            // apache-avro serializes every schema it parsed; fall back to its canonical form regardless.
            Err(_) => return self.parsed.canonical_form(),
        };
        if normalize { full_names(json, None).to_string() } else { json.to_string() }
    }

    pub(crate) fn read_incompatibilities(&self, writer: &AvroSchema) -> Vec<String> {
        if !budget::within(&writer.resolved, &self.resolved, budget::MAX_WORK) {
            let max = budget::MAX_WORK;
            return vec![format!("root: too complex to check (more than {max} units of comparison work)")];
        }
        match SchemaCompatibility::can_read(&writer.resolved, &self.resolved) {
            Ok(Compatibility::Full) => Vec::new(),
            Ok(Compatibility::Partial) => {
                let names = partial::Names { writer: &writer.names, reader: &self.names };
                let mut reasons = partial::explain(&names, &writer.resolved, &self.resolved, "root");
                if reasons.is_empty() {
                    reasons.push("the reader lacks union branches or enum symbols that the writer has".to_string());
                }
                reasons
            }
            Err(e) => vec![describe(&e)],
        }
    }

    pub(crate) fn record_name(&self) -> Option<String> {
        self.parsed.name().map(|n| n.fullname(None))
    }

    pub(crate) fn validate_payload(&self, payload: &[u8]) -> Result<(), String> {
        datum::validate(&self.resolved, &self.names, payload)
    }
}

/// Records every named type under `schema` by full name.
fn collect_names(schema: &Avro, names: &mut HashMap<String, Avro>) {
    if let Some(name) = schema.name() {
        if names.contains_key(&name.fullname(None)) {
            return;
        }
        names.insert(name.fullname(None), schema.clone());
    }
    match schema {
        Avro::Record(r) => r.fields.iter().for_each(|f| collect_names(&f.schema, names)),
        Avro::Array(a) => collect_names(&a.items, names),
        Avro::Map(m) => collect_names(&m.types, names),
        Avro::Union(u) => u.variants().iter().for_each(|v| collect_names(v, names)),
        _ => {}
    }
}

/// Rewrites named types so that `name` is the full name and `namespace` is gone (Confluent's normalized form).
fn full_names(json: Value, enclosing: Option<&str>) -> Value {
    match json {
        Value::Object(mut map) => {
            let named = matches!(map.get("type").and_then(Value::as_str), Some("record" | "enum" | "fixed" | "error"));
            let mut namespace = enclosing.map(str::to_string);
            if named && let Some(Value::String(name)) = map.get("name").cloned() {
                let full = if name.contains('.') {
                    name
                } else {
                    match map.get("namespace").and_then(Value::as_str).map(str::to_string).or(namespace.clone()) {
                        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
                        _ => name,
                    }
                };
                namespace = full.rsplit_once('.').map(|(ns, _)| ns.to_string());
                map.remove("namespace");
                map.insert("name".to_string(), Value::String(full));
            }
            let ns = namespace.as_deref();
            Value::Object(map.into_iter().map(|(k, v)| (k, full_names(v, ns))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| full_names(v, enclosing)).collect()),
        other => other,
    }
}

/// A short lowercase message for one apache-avro compatibility error, naming the field path.
fn describe(e: &CompatibilityError) -> String {
    match e {
        CompatibilityError::FieldTypeMismatch(field, inner) => format!("field '{field}': {}", describe(inner)),
        CompatibilityError::MissingDefaultValue(field) => {
            format!("reader field '{field}' is missing in the writer and has no default value")
        }
        CompatibilityError::WrongType { writer_schema_type, reader_schema_type } => format!(
            "type mismatch: the writer has {}, the reader {}",
            kind_name(writer_schema_type),
            kind_name(reader_schema_type)
        ),
        CompatibilityError::NameMismatch { writer_name, reader_name } => {
            format!("name mismatch: the writer has {writer_name}, the reader {reader_name}")
        }
        CompatibilityError::MissingSymbols => "the reader's enum has none of the writer's symbols".to_string(),
        CompatibilityError::MissingUnionElements => "the reader's union lacks branches of the writer's".to_string(),
        CompatibilityError::SchemaMismatchAllUnionElements => {
            "no union branch of the reader matches the writer's type".to_string()
        }
        CompatibilityError::FixedMismatch => "fixed size differs between writer and reader".to_string(),
        other => other.to_string().replace("Incompatible schemata! ", "").to_lowercase(),
    }
}

/// apache-avro names kinds by their Debug text (`Record(RecordSchema { .. })`); keep the kind only.
fn kind_name(debug: &str) -> String {
    debug.split(['(', ' ', '{']).next().unwrap_or(debug).to_lowercase()
}

#[cfg(test)]
mod tests;
