//! Request headers and bodies.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, HeaderVersion};

/// The fixed start of every request header, readable even when the API key or version is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeaderInfo {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request of {len} bytes is too short for a header")]
    Truncated { len: usize },
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed { api: ApiKey, version: i16, reason: String },
    #[error("{len} trailing bytes after {api:?} v{version} request")]
    Trailing { api: ApiKey, version: i16, len: usize },
}

/// Reads api key, version and correlation id without decoding anything else.
pub fn peek_header(frame: &[u8]) -> Result<RequestHeaderInfo, RequestError> {
    if frame.len() < 8 {
        return Err(RequestError::Truncated { len: frame.len() });
    }
    Ok(RequestHeaderInfo {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        api_version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
        client_id: None,
    })
}

/// Decodes the full request header for a known API and version, returning it with the remaining body.
pub fn decode_header(frame: Bytes) -> Result<(RequestHeaderInfo, ApiKey, Bytes), RequestError> {
    let peek = peek_header(&frame)?;
    let api = ApiKey::try_from(peek.api_key).map_err(|_| RequestError::UnknownApiKey { api_key: peek.api_key })?;
    let header_version = api.request_header_version(peek.api_version);
    let mut body = frame;
    let header = RequestHeader::decode(&mut body, header_version).map_err(|e| RequestError::Malformed {
        api,
        version: peek.api_version,
        reason: format!("header: {e}"),
    })?;
    let info = RequestHeaderInfo { client_id: header.client_id.as_ref().map(|s| s.to_string()), ..peek };
    Ok((info, api, body))
}

/// Decodes a request body of type `R`, refusing trailing bytes (a sign of a version mismatch).
pub fn decode_body<R: Decodable + HeaderVersion>(
    api: ApiKey,
    version: i16,
    mut body: Bytes,
) -> Result<R, RequestError> {
    let req = catch_decode(|| R::decode(&mut body, version)).map_err(|reason| RequestError::Malformed {
        api,
        version,
        reason,
    })?;
    if body.has_remaining() {
        return Err(RequestError::Trailing { api, version, len: body.remaining() });
    }
    Ok(req)
}

/// The codec reports malformed input as errors; this also turns any panic inside it into an error so that a
/// hostile frame can never take a connection task down.
fn catch_decode<T>(f: impl FnOnce() -> anyhow::Result<T>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("decoder panicked".to_string()),
    }
}
