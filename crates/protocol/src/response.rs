//! Response encoding: size prefix, the response header at the version the API requires, then the body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::Encodable;

#[derive(Debug, thiserror::Error)]
#[error("cannot encode {api:?} v{version} response: {reason}")]
pub struct EncodeError {
    pub api: ApiKey,
    pub version: i16,
    pub reason: String,
}

/// Encodes a complete response frame (including its 4-byte size) for `api` at `version`.
///
/// The header version comes from the API's own rule (ApiVersions always uses header v0, whatever its version).
pub fn encode_response<R: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, EncodeError> {
    let err = |reason: String| EncodeError { api, version, reason };
    let header_version = api.response_header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_size = header.compute_size(header_version).map_err(|e| err(e.to_string()))?;
    let body_size = body.compute_size(version).map_err(|e| err(e.to_string()))?;
    let size = header_size + body_size;
    let size_i32 = i32::try_from(size).map_err(|_| err(format!("size {size} exceeds i32")))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size_i32);
    header.encode(&mut buf, header_version).map_err(|e| err(e.to_string()))?;
    body.encode(&mut buf, version).map_err(|e| err(e.to_string()))?;
    Ok(buf.freeze())
}
