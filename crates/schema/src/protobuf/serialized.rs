//! Confluent's serialized form of a Protobuf schema: a base64-encoded `FileDescriptorProto`. confluent-kafka's
//! ProtobufSerializer registers and looks schemas up in this form, and its deserializer asks for it
//! (`?format=serialized`). The registry stores the `.proto` text printed from the descriptor (as Confluent stores
//! text), so both forms of one schema are one schema.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost_reflect::FileDescriptor;
use prost_reflect::prost::Message;
use prost_reflect::prost_types::FileDescriptorProto;

/// The descriptor `text` encodes, when it is base64 of a `FileDescriptorProto`; `None` for anything else (a
/// `.proto` text always has characters outside base64's alphabet: spaces, quotes, `;` or braces).
pub(super) fn decode(text: &str) -> Option<FileDescriptorProto> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return None;
    }
    let bytes = STANDARD.decode(text).ok()?;
    FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// `file` as base64 of its `FileDescriptorProto`.
pub(super) fn encode(file: &FileDescriptor) -> String {
    STANDARD.encode(file.file_descriptor_proto().encode_to_vec())
}
