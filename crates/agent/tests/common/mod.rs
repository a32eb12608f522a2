//! Shared by the agent's integration tests: a raw Kafka connection that sends one request at a time with
//! kafka-protocol's codecs and checks the response header, a bounded poll, and a SCRAM user put in the
//! metastore. Each test binary uses a part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_meta::{Credentials, ScramCredential};
use weft_sasl::scram::ScramMechanism;

/// One client connection to a Kafka listener (plain TCP by default, any stream with [`Conn::over`]).
pub struct Conn<S = TcpStream> {
    stream: S,
    client_id: String,
    correlation: i32,
}

impl Conn<TcpStream> {
    pub async fn open(addr: SocketAddr, client_id: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Conn::over(stream, client_id)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn over(stream: S, client_id: &str) -> Conn<S> {
        Conn { stream, client_id: client_id.to_string(), correlation: 0 }
    }

    /// The correlation id of the last request sent.
    pub fn correlation(&self) -> i32 {
        self.correlation
    }

    /// Takes the next correlation id, for a request encoded by the caller.
    pub fn next_correlation(&mut self) -> i32 {
        self.correlation += 1;
        self.correlation
    }

    pub async fn send_frame(&mut self, frame: &[u8]) {
        self.stream.write_u32(frame.len() as u32).await.expect("write");
        self.stream.write_all(frame).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// The next frame; `None` when the agent closed the connection instead.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let len = self.stream.read_u32().await.ok()?;
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).await.ok()?;
        Some(Bytes::from(body))
    }

    /// Sends one request with the next correlation id, without waiting for its response.
    pub async fn send<R: Request>(&mut self, version: i16, req: &R) {
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.next_correlation())
            .with_client_id(Some(s(&self.client_id)));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, R::header_version(version)).expect("header");
        req.encode(&mut buf, version).expect("body");
        self.send_frame(&buf).await;
    }

    /// A request and its response; `None` when the agent closed the connection instead.
    pub async fn try_call<R: Request>(&mut self, version: i16, req: &R) -> Option<R::Response> {
        self.send(version, req).await;
        let mut body = self.read_frame().await?;
        let h = ResponseHeader::decode(&mut body, R::Response::header_version(version)).expect("response header");
        assert_eq!(h.correlation_id, self.correlation);
        let resp = R::Response::decode(&mut body, version).expect("response body");
        assert!(!body.has_remaining(), "trailing bytes in response");
        Some(resp)
    }

    pub async fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        self.try_call(version, req).await.expect("a response, not a closed connection")
    }

    /// Whether the agent closed the connection (reads end without a frame) within 5 s.
    pub async fn closed(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(5), self.read_frame()).await.expect("closed in time").is_none()
    }
}

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Polls `probe` every 50 ms until it yields a value, for at most 20 s.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut probe: impl FnMut() -> F) -> T {
    for _ in 0..400 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Stores a SCRAM credential for `user` with `password` (4096 iterations, a salt named after the user).
pub async fn put_user(meta: &dyn Credentials, m: ScramMechanism, user: &str, password: &str) {
    let keys = m.keys_from_password(password, format!("salt-of-{user}").as_bytes(), 4096);
    let c = ScramCredential {
        user: user.into(),
        mechanism: m.name().into(),
        salt: keys.salt,
        stored_key: keys.stored_key,
        server_key: keys.server_key,
        iterations: keys.iterations,
    };
    meta.put_scram_credential(&c).await.expect("put credential");
}

/// One v2 batch of plain (non-idempotent) records, as a producer writes it: `(key, value)` per record.
pub fn plain_batch(records: &[(Option<Bytes>, Option<Bytes>)], compression: Compression) -> Bytes {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder keeps records whose sequences follow each other in one batch; the batch's is -1.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: key.clone(),
            value: value.clone(),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression }).expect("batch");
    buf.freeze()
}
