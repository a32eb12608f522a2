//! A small Kafka protocol client for admin requests, speaking to one broker at a time over plaintext or TLS
//! (`security.protocol=SSL` or `SASL_SSL` in the client properties, see `security`), with a SASL login
//! (`sasl_login`) for `SASL_PLAINTEXT` and `SASL_SSL`.
//!
//! librdkafka serves the data path (produce, consume, list offsets) but falls short for administration:
//! it refuses the broker config resource with an empty name (Kafka's cluster-wide dynamic defaults), the
//! rdkafka crate has no IncrementalAlterConfigs, and its admin results drop the broker's error message
//! (`INVALID_CONFIG` without saying which key or why). Admin requests therefore go through this client,
//! using the same codec crate as the agent.

use crate::common::ConnArgs;
use crate::security::{self, Transport};
use anyhow::{Context, Result, anyhow, bail};
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::sasl_login::{ClientExchange, SaslLogin};

/// The largest response accepted; admin responses are far smaller.
const MAX_RESPONSE: u32 = 256 << 20;

/// A connection to one broker, plaintext or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Wire {
    stream: Box<dyn Io>,
    /// How connections are made (shared by the connections this one leads to).
    transport: Arc<Transport>,
    /// The broker this connection talks to.
    addr: String,
    /// What the user gave, for error messages.
    bootstrap: String,
    timeout: Duration,
    correlation: i32,
    /// api key -> (min, max) version the broker serves.
    versions: HashMap<i16, (i16, i16)>,
    /// How every connection of this client logs in (SASL), if it does.
    login: Option<SaslLogin>,
}

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A failed result as one line: the broker's message if it sent one, then the error's name.
pub fn error_text(code: i16, message: Option<&StrBytes>) -> Option<String> {
    let e = ResponseError::try_from_code(code)?;
    Some(match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
        Some(m) => format!("{m} ({e})"),
        None => e.to_string(),
    })
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map(|k| format!("{k:?}")).unwrap_or_else(|_| format!("API {key}"))
}

impl Wire {
    /// Connects to the first bootstrap server that answers and learns which API versions it serves.
    pub async fn connect(conn: &ConnArgs) -> Result<Wire> {
        let properties = conn.properties()?;
        let transport = Arc::new(security::transport(&properties)?);
        let login = SaslLogin::from_settings(&properties)?;
        Wire::connect_with(&conn.bootstrap_servers, conn.timeout(), transport, login).await
    }

    /// [`Wire::connect`] with the transport and login given (`weft user` adds its own `-X` settings).
    pub async fn connect_with(
        bootstrap: &str,
        timeout: Duration,
        transport: Arc<Transport>,
        login: Option<SaslLogin>,
    ) -> Result<Wire> {
        let mut last = anyhow!("no bootstrap server given");
        for addr in bootstrap.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let addr = addr.split_once("://").map_or(addr, |(_, a)| a);
            match Wire::open(addr, bootstrap, timeout, transport.clone(), login.clone()).await {
                Ok(w) => return Ok(w),
                Err(e) => last = e,
            }
        }
        Err(anyhow!("cannot reach the cluster at {bootstrap}: {last:#}"))
    }

    async fn open(
        addr: &str,
        bootstrap: &str,
        timeout: Duration,
        transport: Arc<Transport>,
        login: Option<SaslLogin>,
    ) -> Result<Wire> {
        let stream = tokio::time::timeout(timeout, connect(addr, &transport))
            .await
            .map_err(|_| anyhow!("{addr} did not accept a connection within {}s", timeout.as_secs()))?
            .with_context(|| format!("connecting to {addr}"))?;
        let mut w = Wire {
            stream,
            transport,
            addr: addr.to_string(),
            bootstrap: bootstrap.to_string(),
            timeout,
            correlation: 0,
            versions: HashMap::new(),
            login,
        };
        let req = ApiVersionsRequest::default()
            .with_client_software_name(str_bytes("weft"))
            .with_client_software_version(str_bytes(env!("CARGO_PKG_VERSION")));
        let resp: ApiVersionsResponse = w.call_at(3, &req).await?;
        if let Some(e) = error_text(resp.error_code, None) {
            bail!("{addr} refused ApiVersions: {e}");
        }
        w.versions = resp.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        if let Some(login) = w.login.clone() {
            w.log_in(&login)
                .await
                .with_context(|| format!("SASL {} login at {addr} as {}", login.mechanism, login.username))?;
        }
        Ok(w)
    }

    /// SaslHandshake v1, then the mechanism's SaslAuthenticate steps.
    async fn log_in(&mut self, login: &SaslLogin) -> Result<()> {
        let (hs, _) =
            self.call(1, &SaslHandshakeRequest::default().with_mechanism(str_bytes(&login.mechanism))).await?;
        if let Some(e) = error_text(hs.error_code, None) {
            let offered: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
            bail!("{e} (the broker offers {})", offered.join(", "));
        }
        let (first, exchange) = login.first()?;
        let step = |token: Vec<u8>| SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
        let (resp, _) = self.call(2, &step(first)).await?;
        if let Some(e) = error_text(resp.error_code, resp.error_message.as_ref()) {
            bail!("{e}");
        }
        if let ClientExchange::Scram { .. } = exchange {
            let (last, expected) = exchange.next(&resp.auth_bytes)?;
            let (done, _) = self.call(2, &step(last)).await?;
            if let Some(e) = error_text(done.error_code, done.error_message.as_ref()) {
                bail!("{e}");
            }
            if done.auth_bytes.as_ref() != expected.as_slice() {
                bail!("the broker's SCRAM signature does not match: it does not know the password");
            }
        }
        Ok(())
    }

    /// Another connection to broker `node`, found in `metadata`; this one if `node` is unknown.
    pub async fn into_node(self, node: i32, metadata: &MetadataResponse) -> Result<Wire> {
        let Some(b) = metadata.brokers.iter().find(|b| b.node_id.0 == node) else { return Ok(self) };
        let addr = format!("{}:{}", b.host.as_str(), b.port);
        if addr == self.addr {
            return Ok(self);
        }
        Wire::open(&addr, &self.bootstrap, self.timeout, self.transport.clone(), self.login.clone())
            .await
            .with_context(|| format!("cannot reach broker {node} at {addr} (from the cluster's metadata)"))
    }

    /// A new connection to broker `node`, found in `metadata` (`None` if it is not listed there).
    pub async fn open_node(&self, node: i32, metadata: &MetadataResponse) -> Result<Option<Wire>> {
        let Some(b) = metadata.brokers.iter().find(|b| b.node_id.0 == node) else { return Ok(None) };
        let addr = format!("{}:{}", b.host.as_str(), b.port);
        let w = Wire::open(&addr, &self.bootstrap, self.timeout, self.transport.clone(), self.login.clone())
            .await
            .with_context(|| format!("cannot reach broker {node} at {addr} (from the cluster's metadata)"))?;
        Ok(Some(w))
    }

    /// A connection to the controller, where Kafka wants topic creation and deletion sent.
    pub async fn into_controller(mut self) -> Result<Wire> {
        let md = self.metadata(Some(&[])).await?;
        let controller = md.controller_id.0;
        self.into_node(controller, &md).await
    }

    /// The bootstrap servers as the user gave them.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Whether the broker serves API `R` in some version.
    pub fn supports<R: Request>(&self) -> bool {
        self.versions.contains_key(&R::KEY)
    }

    /// The highest version of `R` both sides speak, at most `max`.
    pub fn version<R: Request>(&self, max: i16) -> Result<i16> {
        let name = api_name(R::KEY);
        let Some(&(lo, hi)) = self.versions.get(&R::KEY) else {
            bail!("the cluster at {} does not support {name}", self.bootstrap);
        };
        let v = hi.min(max).min(R::VERSIONS.max);
        if v < lo.max(R::VERSIONS.min) {
            bail!("the cluster at {} serves {name} v{lo}-{hi}, which this client does not speak", self.bootstrap);
        }
        Ok(v)
    }

    /// Sends `req` in the best common version up to `max`; returns the response and that version.
    pub async fn call<R: Request>(&mut self, max: i16, req: &R) -> Result<(R::Response, i16)> {
        let v = self.version::<R>(max)?;
        Ok((self.call_at(v, req).await?, v))
    }

    async fn call_at<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response> {
        let (addr, secs) = (self.addr.clone(), self.timeout.as_secs());
        tokio::time::timeout(self.timeout, self.exchange(version, req))
            .await
            .map_err(|_| anyhow!("{addr} did not answer {} within {secs}s", api_name(R::KEY)))?
            .with_context(|| format!("{} to {addr}", api_name(R::KEY)))
    }

    async fn exchange<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response> {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(str_bytes("weft")));
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

    /// Metadata for `topics` (all topics when `None`), never creating any.
    pub async fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse> {
        let topics = topics.map(|ts| {
            ts.iter().map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(str_bytes(t))))).collect()
        });
        let req = MetadataRequest::default().with_topics(topics).with_allow_auto_topic_creation(false);
        Ok(self.call(12, &req).await?.0)
    }
}

/// A TCP connection to `addr` (`host:port`), with the TLS handshake when the transport says so (the host
/// is the name the broker's certificate must carry).
async fn connect(addr: &str, transport: &Transport) -> Result<Box<dyn Io>> {
    let tcp = TcpStream::connect(addr).await?;
    let _ = tcp.set_nodelay(true);
    match transport {
        Transport::Plaintext => Ok(Box::new(tcp)),
        Transport::Tls(connector) => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_string()).map_err(|e| anyhow!("{host}: {e}"))?;
            let stream = connector.connect(name, tcp).await.context("tls handshake failed")?;
            Ok(Box::new(stream))
        }
    }
}

/// A topic id as Kafka prints it: URL-safe base64 without padding.
pub fn topic_id(id: &uuid::Uuid) -> Option<String> {
    if id.is_nil() {
        return None;
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn topic_ids_print_as_kafka_does() {
        let id = uuid::Uuid::from_bytes([0xff; 16]);
        assert_eq!(super::topic_id(&id).as_deref(), Some("_____________________w"));
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(super::topic_id(&id).as_deref(), Some("ASNFZ4mrze8BI0VniavN7w"));
        assert_eq!(super::topic_id(&uuid::Uuid::nil()), None);
    }
}
