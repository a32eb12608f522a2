//! `RunningAgent::answer`: a frame answered in process as a plaintext client's would be.

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use weft_agent::AgentConfig;

#[tokio::test]
async fn a_frame_is_answered_in_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let header = RequestHeader::default()
        .with_request_api_key(18)
        .with_request_api_version(3)
        .with_correlation_id(41)
        .with_client_id(Some(StrBytes::from_static_str("in-process")));
    let mut frame = BytesMut::new();
    header.encode(&mut frame, ApiVersionsRequest::header_version(3)).expect("header");
    ApiVersionsRequest::default().encode(&mut frame, 3).expect("body");
    let answer = agent.answer(frame.freeze()).await.expect("answered").expect("a response");
    let mut body = answer.to_bytes();
    assert_eq!(body.get_u32() as usize, body.remaining(), "the length prefix covers the response");
    let h = ResponseHeader::decode(&mut body, ApiVersionsResponse::header_version(3)).expect("header");
    assert_eq!(h.correlation_id, 41);
    let resp = ApiVersionsResponse::decode(&mut body, 3).expect("body");
    assert_eq!(resp.error_code, 0);
    assert!(resp.api_keys.iter().any(|k| k.api_key == 0), "Produce is listed");
    let garbage = agent.answer(bytes::Bytes::from_static(&[0, 0])).await;
    assert!(garbage.is_err(), "a truncated header is refused, as it closes a connection");
    agent.shutdown();
    agent.wait().await;
}
