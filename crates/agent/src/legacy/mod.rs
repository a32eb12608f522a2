//! The request versions Kafka 3.9 served and Kafka 4 removed (KIP-896), for the clients that still pin them
//! (Sarama with `Version = V2_1_0_0`, old admin tools). `kafka-protocol` 0.18 starts at Kafka 4's floors, so
//! these versions are decoded and encoded with `kafka-protocol` 0.15.1, generated from Kafka 3.9's message
//! specs (`kafka_protocol_k3`). Each request is converted into its 0.18 type at the oldest version 0.18
//! knows, the existing handler runs unchanged (with the request's context, so it authorizes as for any version), and its response is converted back and encoded at the
//! requested version. Conversions are explicit per API and set only the fields the old version carries.
//!
//! Which versions come through here is `weft_protocol::versions::LEGACY_VERSIONS`.

mod acls;
mod admin;
mod groups;
mod list_offsets;

use crate::Agent;
use crate::request::{CloseReason, RequestContext};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::{Encodable as _, StrBytes};
use kafka_protocol_k3::protocol::{Decodable as K3Decodable, Encodable as K3Encodable, StrBytes as K3StrBytes};
use std::sync::Arc;
use weft_protocol::request::RequestError;

/// Decodes a legacy request, runs its handler and encodes the response frame at `version`.
pub(crate) async fn handle(
    agent: &Arc<Agent>,
    ctx: &RequestContext,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: Bytes,
) -> Result<Option<Bytes>, CloseReason> {
    let frame = match api {
        ApiKey::OffsetCommit => encode(
            api,
            version,
            correlation_id,
            &groups::commit(agent, ctx, decode(api, version, body)?, version).await,
        ),
        ApiKey::OffsetFetch => {
            encode(api, version, correlation_id, &groups::fetch(agent, ctx, decode(api, version, body)?, version).await)
        }
        ApiKey::ListOffsets => {
            encode(api, version, correlation_id, &list_offsets::handle(agent, ctx, decode(api, version, body)?).await)
        }
        ApiKey::CreateTopics => encode(
            api,
            version,
            correlation_id,
            &admin::create_topics(agent, ctx, decode(api, version, body)?, version).await,
        ),
        ApiKey::DeleteTopics => {
            encode(api, version, correlation_id, &admin::delete_topics(agent, ctx, decode(api, version, body)?).await)
        }
        ApiKey::DescribeConfigs => encode(
            api,
            version,
            correlation_id,
            &admin::describe_configs(agent, ctx, decode(api, version, body)?).await,
        ),
        ApiKey::DescribeLogDirs => encode(
            api,
            version,
            correlation_id,
            &admin::describe_log_dirs(agent, ctx, decode(api, version, body)?).await,
        ),
        ApiKey::CreateAcls => {
            encode(api, version, correlation_id, &acls::create(agent, ctx, decode(api, version, body)?).await)
        }
        ApiKey::DescribeAcls => {
            encode(api, version, correlation_id, &acls::describe(agent, ctx, decode(api, version, body)?).await)
        }
        ApiKey::DeleteAcls => {
            encode(api, version, correlation_id, &acls::delete(agent, ctx, decode(api, version, body)?).await)
        }
        other => {
            // LEGACY_VERSIONS and this match must agree; a mismatch is a bug, reported not panicked.
            tracing::error!(api = ?other, version, "legacy version is advertised but has no conversion");
            return Err(CloseReason::UnsupportedVersion { api_key: other as i16, version });
        }
    };
    frame.map(Some)
}

/// Decodes a request body with the Kafka 3.9 codec. Malformed input (and any panic inside the codec) is an
/// error that closes the connection, as for every other request; trailing bytes are ignored, as Kafka does.
fn decode<R: K3Decodable>(api: ApiKey, version: i16, mut body: Bytes) -> Result<R, RequestError> {
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| R::decode(&mut body, version)));
    let reason = match decoded {
        Ok(Ok(req)) => return Ok(req),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "decoder panicked".to_string(),
    };
    Err(RequestError::Malformed { api, version, reason: format!("{reason} (kafka 3.9 codec)") })
}

/// Encodes a response frame: size, the response header at the version the API requires (v0 for every legacy
/// version: none of them is flexible), then the body with the Kafka 3.9 codec.
fn encode<R: K3Encodable>(api: ApiKey, version: i16, correlation_id: i32, body: &R) -> Result<Bytes, CloseReason> {
    let err = |e: anyhow::Error| CloseReason::Encode(format!("{api:?} v{version} (kafka 3.9 codec): {e}"));
    let header_version = api.response_header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let size = header.compute_size(header_version).map_err(err)? + body.compute_size(version).map_err(err)?;
    let size = i32::try_from(size).map_err(|_| CloseReason::Encode(format!("{api:?} response of {size} bytes")))?;
    let mut buf = BytesMut::with_capacity(4 + size as usize);
    buf.put_i32(size);
    header.encode(&mut buf, header_version).map_err(err)?;
    body.encode(&mut buf, version).map_err(err)?;
    Ok(buf.freeze())
}

/// A Kafka 3.9 codec string as a 0.18 one.
fn to18(s: &K3StrBytes) -> StrBytes {
    StrBytes::from_string(s.as_str().to_owned())
}

/// A 0.18 codec string as a Kafka 3.9 codec one.
fn to3(s: &StrBytes) -> K3StrBytes {
    K3StrBytes::from_string(s.as_str().to_owned())
}
