//! One plaintext Kafka connection for the share-group mode: kafka-protocol's request types, one request
//! at a time, every exchange bounded by a timeout and every response by a size limit.
//!
//! librdkafka (the rest of the bench) has no share consumer in the `rdkafka` crate, so the share mode
//! speaks the protocol itself, with the codec crate the agent uses.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response accepted (ShareFetch asks for at most [`super::FETCH_MAX_BYTES`]).
const MAX_RESPONSE: u32 = 128 << 20;

/// A connection to one broker.
pub(crate) struct Conn {
    stream: TcpStream,
    addr: String,
    timeout: Duration,
    correlation: i32,
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map(|k| format!("{k:?}")).unwrap_or_else(|_| format!("API {key}"))
}

impl Conn {
    /// Connects to `addr` (`host:port`) within `timeout`; `timeout` also bounds every exchange.
    pub(crate) async fn open(addr: &str, timeout: Duration) -> Result<Conn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("{addr} did not accept a connection within {} s", timeout.as_secs_f64()))?
            .with_context(|| format!("connecting to {addr}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn { stream, addr: addr.to_string(), timeout, correlation: 0 })
    }

    /// Sends `req` as `version` and waits for its response.
    pub(crate) async fn call<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response> {
        let secs = self.timeout.as_secs_f64();
        tokio::time::timeout(self.timeout, self.exchange(version, req))
            .await
            .map_err(|_| anyhow!("{} did not answer {} within {secs} s", self.addr, api_name(R::KEY)))?
            .with_context(|| format!("{} v{version} to {}", api_name(R::KEY), self.addr))
    }

    async fn exchange<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response> {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(str_bytes("weft-bench")));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, R::header_version(version))?;
        req.encode(&mut buf, version)?;
        let len = u32::try_from(buf.len()).context("request too large")?;
        self.stream.write_u32(len).await?;
        self.stream.write_all(&buf).await?;
        self.stream.flush().await?;
        let len = self.stream.read_u32().await.context("the connection was closed")?;
        if len > MAX_RESPONSE {
            bail!("response of {len} bytes is larger than {MAX_RESPONSE}");
        }
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).await?;
        let mut body = Bytes::from(body);
        let h = ResponseHeader::decode(&mut body, R::Response::header_version(version))?;
        if h.correlation_id != self.correlation {
            bail!("response for request {} while waiting for {}", h.correlation_id, self.correlation);
        }
        let resp = R::Response::decode(&mut body, version)?;
        if body.has_remaining() {
            bail!("{} bytes left after the response", body.remaining());
        }
        Ok(resp)
    }
}
