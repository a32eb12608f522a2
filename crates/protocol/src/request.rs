//! Request headers and bodies.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
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
    #[error("api key {api_key} version {version} is not served")]
    UnsupportedVersion { api_key: i16, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed { api: ApiKey, version: i16, reason: String },
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

/// Decodes a request body of type `R`. Trailing bytes are ignored, as the Java broker ignores them (some
/// clients send a few; librdkafka 2.16 does so for Metadata v13).
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
        tracing::trace!(?api, version, len = body.remaining(), "ignoring trailing request bytes");
    }
    Ok(req)
}

/// Decodes any request Weft serves (used by fuzzing and tools): header checks as in dispatch, then the body.
/// The versions in [`crate::versions::LEGACY_VERSIONS`] are below this codec's floor and come back as
/// malformed: the agent decodes those with the Kafka 3.9 codec (`crates/agent/src/legacy`).
pub fn decode_request(frame: Bytes) -> Result<(RequestHeaderInfo, RequestKind), RequestError> {
    let peek = peek_header(&frame)?;
    if !crate::versions::is_supported(peek.api_key, peek.api_version) {
        return Err(RequestError::UnsupportedVersion { api_key: peek.api_key, version: peek.api_version });
    }
    let (info, api, mut body) = decode_header(frame)?;
    let version = info.api_version;
    let kind = catch_decode(|| RequestKind::decode(api, &mut body, version))
        .map_err(|reason| RequestError::Malformed { api, version, reason })?;
    Ok((info, kind))
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
