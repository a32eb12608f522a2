//! Protobuf schemas: compiling a `.proto` text with its imports (references, plus Google's well-known types) into
//! descriptors, the stored and normalized texts, the record name, and validation of Confluent's Protobuf payload
//! (message-index array, then the message, walked by `wire`). Compatibility lives in `compat`, the normalized
//! printer in `print`, Confluent's base64 descriptor form in `serialized`.

mod compat;
mod print;
mod serialized;
mod wire;

use std::collections::HashMap;

use prost_reflect::prost_types::FileDescriptorProto;
use prost_reflect::{DescriptorPool, FileDescriptor, MessageDescriptor};
use protox::Compiler;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::{Dependency, SchemaError, SchemaType};

/// The file name the schema being parsed gets among its imports; not a valid import path users would write.
const ROOT_FILE: &str = "<weft-schema>.proto";

/// A compiled Protobuf schema: its own file among the pool of its imports.
#[derive(Debug, Clone)]
pub(crate) struct ProtoSchema {
    text: String,
    file: FileDescriptor,
}

/// Serves the schema text and its references' texts by import path.
struct TextResolver {
    files: HashMap<String, String>,
}

impl FileResolver for TextResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.files.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// A compiler that finds `text` as [`ROOT_FILE`], the references by name and Google's well-known types.
fn compiler(text: &str, deps: &[Dependency]) -> Compiler {
    let mut files: HashMap<String, String> = deps.iter().map(|d| (d.name.clone(), d.text.clone())).collect();
    files.insert(ROOT_FILE.to_string(), text.to_string());
    let mut resolver = ChainFileResolver::new();
    resolver.add(TextResolver { files });
    resolver.add(GoogleFileResolver::new());
    Compiler::with_file_resolver(resolver)
}

fn invalid(reason: impl std::fmt::Display) -> SchemaError {
    SchemaError::invalid(SchemaType::Protobuf, reason)
}

impl ProtoSchema {
    /// Parses `.proto` text, or Confluent's serialized form (base64 of a `FileDescriptorProto`), which is
    /// printed to `.proto` text and parsed as such, so that what is stored is text.
    pub(crate) fn parse(text: &str, deps: &[Dependency]) -> Result<Self, SchemaError> {
        if let Some(d) = deps.iter().find(|d| d.schema_type != SchemaType::Protobuf) {
            return Err(invalid(format!("reference {} is a {} schema, not PROTOBUF", d.name, d.schema_type)));
        }
        match serialized::decode(text) {
            Some(descriptor) => Self::from_descriptor(descriptor, deps),
            None => Self::from_text(text, deps),
        }
    }

    fn from_text(text: &str, deps: &[Dependency]) -> Result<Self, SchemaError> {
        let mut compiler = compiler(text, deps);
        compiler.open_file(ROOT_FILE).map_err(|e| invalid(e.to_string().replace(ROOT_FILE, "schema")))?;
        let pool: DescriptorPool = compiler.descriptor_pool();
        let file = pool
            .get_file_by_name(ROOT_FILE)
            .ok_or_else(|| invalid("the compiled schema is missing from its descriptor pool"))?;
        Ok(ProtoSchema { text: text.to_string(), file })
    }

    fn from_descriptor(mut descriptor: FileDescriptorProto, deps: &[Dependency]) -> Result<Self, SchemaError> {
        let mut compiler = compiler("", deps);
        for import in &descriptor.dependency {
            compiler.open_file(import).map_err(|e| invalid(format!("import {import:?}: {e}")))?;
        }
        let mut pool = compiler.descriptor_pool();
        descriptor.name = Some(ROOT_FILE.to_string());
        pool.add_file_descriptor_proto(descriptor).map_err(|e| invalid(format!("serialized descriptor: {e}")))?;
        let file = pool
            .get_file_by_name(ROOT_FILE)
            .ok_or_else(|| invalid("the serialized schema is missing from its descriptor pool"))?;
        Self::from_text(&print::file(&file), deps)
    }

    /// Confluent's serialized form: base64 of this schema's `FileDescriptorProto`.
    pub(crate) fn serialized(&self) -> String {
        serialized::encode(&self.file)
    }

    /// Without normalize: the text as given, with line endings and trailing whitespace made uniform and the ends
    /// trimmed. With normalize: re-printed from the descriptors (see `print`).
    pub(crate) fn canonical(&self, normalize: bool) -> String {
        if normalize {
            return print::file(&self.file);
        }
        let lines: Vec<&str> = self.text.lines().map(str::trim_end).collect();
        lines.join("\n").trim().to_string()
    }

    pub(crate) fn read_incompatibilities(&self, writer: &ProtoSchema) -> Vec<String> {
        compat::read_incompatibilities(&self.file, &writer.file)
    }

    pub(crate) fn record_name(&self) -> Option<String> {
        self.file.messages().next().map(|m| m.full_name().to_string())
    }

    pub(crate) fn record_name_for(&self, payload: &[u8]) -> Option<String> {
        let (indexes, _) = message_indexes(payload).ok()?;
        self.indexed_message(&indexes).ok().map(|m| m.full_name().to_string())
    }

    pub(crate) fn validate_payload(&self, payload: &[u8]) -> Result<(), String> {
        let (indexes, body) = message_indexes(payload)?;
        let message = self.indexed_message(&indexes)?;
        wire::validate(&message, body).map_err(|e| format!("payload is not a valid {}: {e}", message.full_name()))
    }

    /// The message an index path selects: the first index among the file's top-level messages, each further one
    /// among the nested messages of the previous.
    fn indexed_message(&self, indexes: &[usize]) -> Result<MessageDescriptor, String> {
        let missing = || format!("message index {indexes:?} names no message of the schema");
        let (first, rest) = indexes.split_first().ok_or_else(missing)?;
        let mut message = self.file.messages().nth(*first).ok_or_else(missing)?;
        for i in rest {
            let child = message.child_messages().filter(|m| !m.is_map_entry()).nth(*i);
            message = child.ok_or_else(missing)?;
        }
        Ok(message)
    }
}

/// Splits Confluent's message-index array off a payload: a zig-zag varint count, then that many zig-zag indexes;
/// a count of 0 means the path [0]. The count is bounded by the bytes present (each index takes at least one).
fn message_indexes(payload: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    let mut rest = payload;
    let count = zigzag(&mut rest)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    let count = usize::try_from(count)
        .ok()
        .filter(|c| *c <= rest.len())
        .ok_or_else(|| format!("message index count {count} is invalid for {} bytes", rest.len()))?;
    let mut indexes = Vec::with_capacity(count);
    for _ in 0..count {
        let index = zigzag(&mut rest)?;
        indexes.push(usize::try_from(index).map_err(|_| format!("negative message index {index}"))?);
    }
    Ok((indexes, rest))
}

/// A zig-zag varint of at most 10 bytes.
fn zigzag(bytes: &mut &[u8]) -> Result<i64, String> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let (byte, rest) = bytes.split_first().ok_or("message index varint truncated")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    Err("message index varint longer than 10 bytes".to_string())
}

#[cfg(test)]
mod tests;
