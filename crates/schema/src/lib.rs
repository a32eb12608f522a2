//! Schema formats of the schema registry: Avro, Protobuf and JSON Schema.
//!
//! This crate owns everything the registry and broker-side validation need to know about a schema's *content*:
//! parsing (with references already resolved by the registry), the canonical text used for identity, Confluent's
//! compatibility rules (why a reader cannot read a writer's data), the record name used by the subject name
//! strategies, and deep validation of one record payload. It knows nothing about subjects, ids or storage.

mod avro;
mod json;
mod protobuf;

use std::fmt;
use std::str::FromStr;

/// The schema formats the registry serves, named as Confluent's `schemaType` field names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    /// The name Confluent uses in `schemaType` and `/schemas/types`.
    pub fn as_str(&self) -> &'static str {
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

/// The error of parsing an unknown schema type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown schema type {0:?}")]
pub struct UnknownSchemaType(pub String);

impl FromStr for SchemaType {
    type Err = UnknownSchemaType;

    /// Case-sensitive, as Confluent's registry.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "AVRO" => Ok(SchemaType::Avro),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            "JSON" => Ok(SchemaType::Json),
            other => Err(UnknownSchemaType(other.to_string())),
        }
    }
}

/// A schema this one references, already resolved by the registry; `name` is the reference name used inside the
/// schema (Avro: the full type name; Protobuf: the import path; JSON: the $ref URL). Transitive references are
/// flattened into the same slice by the registry.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub name: String,
    pub schema_type: SchemaType,
    pub text: String,
}

/// Why a schema text is not a valid schema of its type.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid {kind} schema: {reason}")]
    Invalid { kind: SchemaType, reason: String },
}

impl SchemaError {
    fn invalid(kind: SchemaType, reason: impl fmt::Display) -> Self {
        SchemaError::Invalid { kind, reason: reason.to_string() }
    }
}

/// A parsed schema with its references resolved.
#[derive(Debug, Clone)]
pub struct Schema {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Avro(Box<avro::AvroSchema>),
    Protobuf(protobuf::ProtoSchema),
    Json(json::JsonSchema),
}

impl Schema {
    /// Parses `text` as a schema of `schema_type`; `deps` are the schemas it references.
    pub fn parse(schema_type: SchemaType, text: &str, deps: &[Dependency]) -> Result<Schema, SchemaError> {
        let inner = match schema_type {
            SchemaType::Avro => Inner::Avro(Box::new(avro::AvroSchema::parse(text, deps)?)),
            SchemaType::Protobuf => Inner::Protobuf(protobuf::ProtoSchema::parse(text, deps)?),
            SchemaType::Json => Inner::Json(json::JsonSchema::parse(text, deps)?),
        };
        Ok(Schema { inner })
    }

    pub fn schema_type(&self) -> SchemaType {
        match &self.inner {
            Inner::Avro(_) => SchemaType::Avro,
            Inner::Protobuf(_) => SchemaType::Protobuf,
            Inner::Json(_) => SchemaType::Json,
        }
    }

    /// The text the registry stores, returns and compares for identity (two registrations with equal canonical
    /// text and equal references get the same id). With `normalize` (Confluent's normalize=true), a normalized form
    /// that makes semantically equal schemas equal (e.g. Avro: the parsed schema's compact JSON without whitespace
    /// differences and with full names; Protobuf: fields in number order, default options dropped; JSON: keys sorted).
    /// Without it, what Confluent does without normalize (Avro: the parsed schema re-serialized compactly; Protobuf:
    /// the schema as given, trimmed/re-printed consistently; JSON: the JSON re-serialized compactly).
    pub fn canonical(&self, normalize: bool) -> String {
        match &self.inner {
            Inner::Avro(s) => s.canonical(normalize),
            Inner::Protobuf(s) => s.canonical(normalize),
            Inner::Json(s) => s.canonical(normalize),
        }
    }

    /// Confluent's serialized form (`?format=serialized`): for Protobuf, base64 of the schema's
    /// `FileDescriptorProto`, as confluent-kafka's Protobuf deserializer reads it; other formats have none.
    pub fn serialized(&self) -> Option<String> {
        match &self.inner {
            Inner::Protobuf(s) => Some(s.serialized()),
            Inner::Avro(_) | Inner::Json(_) => None,
        }
    }

    /// Why a reader using `self` cannot read data written with `writer`; empty when it can. Messages are short,
    /// lowercase, name the field/type path, like Confluent's verbose compatibility messages.
    pub fn read_incompatibilities(&self, writer: &Schema) -> Vec<String> {
        match (&self.inner, &writer.inner) {
            (Inner::Avro(r), Inner::Avro(w)) => r.read_incompatibilities(w),
            (Inner::Protobuf(r), Inner::Protobuf(w)) => r.read_incompatibilities(w),
            (Inner::Json(r), Inner::Json(w)) => r.read_incompatibilities(w),
            _ => vec![format!("schema type changed from {} to {}", writer.schema_type(), self.schema_type())],
        }
    }

    /// The record name used by RecordNameStrategy / TopicRecordNameStrategy: Avro the top-level named type's full
    /// name, Protobuf the full name of the first message, JSON the `title` (None when the schema has none).
    pub fn record_name(&self) -> Option<String> {
        match &self.inner {
            Inner::Avro(s) => s.record_name(),
            Inner::Protobuf(s) => s.record_name(),
            Inner::Json(s) => s.record_name(),
        }
    }

    /// The record name of one record payload (after Confluent's 5-byte header), for the record name strategies:
    /// for Protobuf the full name of the message its message indexes select (as Confluent's serializers name the
    /// subject after the message they write), else [`Schema::record_name`]. None when it names nothing.
    pub fn record_name_for(&self, payload: &[u8]) -> Option<String> {
        match &self.inner {
            Inner::Protobuf(s) => s.record_name_for(payload),
            _ => self.record_name(),
        }
    }

    /// Deep validation of one record payload that follows Confluent's 5-byte header (magic 0 + schema id): Avro
    /// binary decodes completely with this schema (no trailing bytes); Protobuf: the message-index varint array
    /// (zig-zag, `0` alone meaning [0]) then a message that decodes as the indexed message type; JSON: the bytes are
    /// JSON and validate against the schema. Err with a short reason. Bounded work: no allocation beyond the payload
    /// size times a small factor; counts decoded from bytes are bounded by the bytes present.
    pub fn validate_payload(&self, payload: &[u8]) -> Result<(), String> {
        match &self.inner {
            Inner::Avro(s) => s.validate_payload(payload),
            Inner::Protobuf(s) => s.validate_payload(payload),
            Inner::Json(s) => s.validate_payload(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_type_names_round_trip_case_sensitively() {
        for t in [SchemaType::Avro, SchemaType::Protobuf, SchemaType::Json] {
            assert_eq!(t.as_str().parse::<SchemaType>().unwrap(), t);
            assert_eq!(t.to_string(), t.as_str());
        }
        assert!("avro".parse::<SchemaType>().is_err());
    }

    #[test]
    fn different_types_are_incompatible() {
        let a = Schema::parse(SchemaType::Avro, r#""string""#, &[]).unwrap();
        let j = Schema::parse(SchemaType::Json, r#"{"type":"string"}"#, &[]).unwrap();
        assert_eq!(a.read_incompatibilities(&j), vec!["schema type changed from JSON to AVRO"]);
    }
}
