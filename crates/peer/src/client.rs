//! Reading an object from another agent's peer listener over HTTP/1.1, with pooled connections, a short
//! connect timeout, a whole-request timeout, a bound on what is accepted, and a short cool-down for a peer
//! that could not be reached (so a dead owner costs one failed connection per cool-down, not one per miss,
//! until the membership view drops it).
//!
//! An endpoint registered as `https://HOST:PORT` is read over mutual TLS, and only by a client built with a
//! TLS configuration (`--peer-ssl`); such a client reads no plain `HOST:PORT` endpoint, so data meant to
//! travel encrypted never travels in the clear (a refused read costs a store read, like any peer failure).

use crate::{MAX_OBJECT_BYTES, OBJECTS_PATH, range};
use bytes::Bytes;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use weft_storage::{Peer, PeerFailure};

/// How the client behaves.
#[derive(Debug, Clone, Copy)]
pub struct PeerClientOptions {
    /// A whole read (connect, request, body) must finish within this.
    pub timeout: Duration,
    /// A connection must be made within this.
    pub connect_timeout: Duration,
    /// After a peer could not be reached or timed out, it is not asked again for this long.
    pub cool_down: Duration,
}

impl PeerClientOptions {
    /// Defaults around a read timeout: connecting takes a quarter of it at most (peers are in one zone), and
    /// a failed peer rests for two seconds.
    pub fn with_timeout(timeout: Duration) -> Self {
        PeerClientOptions {
            timeout,
            connect_timeout: (timeout / 4).max(Duration::from_millis(50)),
            cool_down: Duration::from_secs(2),
        }
    }
}

/// The scheme an endpoint served over TLS is registered with.
pub const HTTPS: &str = "https://";

/// Most peers remembered as cooling down (a zone has few agents; the bound only guards the map).
const MAX_COOLING: usize = 1024;

/// The HTTP client of the peer read endpoint.
#[derive(Debug)]
pub struct PeerClient {
    http: reqwest::Client,
    /// Whether the client speaks TLS (and only TLS).
    tls: bool,
    options: PeerClientOptions,
    /// Endpoints that failed, until when they rest.
    cooling: Mutex<HashMap<String, Instant>>,
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the peer read client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

impl PeerClient {
    /// A client of plain endpoints, or with `tls` (this agent's certificate, the trusted CAs) of TLS ones.
    pub fn new(options: PeerClientOptions, tls: Option<rustls::ClientConfig>) -> Result<Self, ClientError> {
        let builder = reqwest::Client::builder();
        let is_tls = tls.is_some();
        let builder = match tls {
            Some(config) => builder.tls_backend_preconfigured(config).https_only(true),
            None => builder,
        };
        let http = builder
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .pool_max_idle_per_host(8)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(PeerClient { http, tls: is_tls, options, cooling: Mutex::new(HashMap::new()) })
    }

    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// Reads `key` (or `range` of it) from `peer`: 200 with the whole object, or 206 with exactly the range.
    pub async fn read(&self, peer: &Peer, key: &str, range: Option<Range<u64>>) -> Result<Bytes, PeerFailure> {
        if range.as_ref().is_some_and(|r| r.start >= r.end) {
            return Ok(Bytes::new());
        }
        if self.is_cooling(&peer.endpoint) {
            return Err(PeerFailure::CoolingDown);
        }
        let result = self.request(peer, key, range.as_ref()).await;
        if let Err(PeerFailure::Unreachable(_) | PeerFailure::Timeout) = &result {
            self.cool(&peer.endpoint);
        }
        result
    }

    async fn request(&self, peer: &Peer, key: &str, range: Option<&Range<u64>>) -> Result<Bytes, PeerFailure> {
        let url = match (peer.endpoint.strip_prefix(HTTPS), self.tls) {
            (Some(_), true) => format!("{}{OBJECTS_PATH}{key}", peer.endpoint),
            (None, false) => format!("http://{}{OBJECTS_PATH}{key}", peer.endpoint),
            (Some(_), false) => {
                return Err(PeerFailure::Other("the peer serves tls; this agent has no --peer-ssl".into()));
            }
            (None, true) => {
                return Err(PeerFailure::Other("the peer serves plain http; this agent reads over tls only".into()));
            }
        };
        let mut request = self.http.get(url);
        if let Some(range) = range {
            request = request.header(reqwest::header::RANGE, range::header(range));
        }
        let response = request.send().await.map_err(failure)?;
        let expected_status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
        if response.status() != expected_status {
            return Err(PeerFailure::Status(response.status().as_u16()));
        }
        let Some(length) = response.content_length() else {
            return Err(PeerFailure::Other("answer without a content length".into()));
        };
        if length > MAX_OBJECT_BYTES {
            return Err(PeerFailure::Other(format!("answer of {length} bytes is over {MAX_OBJECT_BYTES}")));
        }
        let body = response.bytes().await.map_err(failure)?;
        if body.len() as u64 != length {
            return Err(PeerFailure::Length { expected: length, got: body.len() as u64 });
        }
        Ok(body)
    }

    fn is_cooling(&self, endpoint: &str) -> bool {
        let mut cooling = self.cooling.lock().unwrap_or_else(|p| p.into_inner());
        match cooling.get(endpoint) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                cooling.remove(endpoint);
                false
            }
            None => false,
        }
    }

    fn cool(&self, endpoint: &str) {
        let mut cooling = self.cooling.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if cooling.len() >= MAX_COOLING {
            cooling.retain(|_, until| *until > now);
        }
        if cooling.len() < MAX_COOLING {
            cooling.insert(endpoint.to_string(), now + self.options.cool_down);
        }
    }
}

/// The failure a transport error stands for.
fn failure(e: reqwest::Error) -> PeerFailure {
    if e.is_timeout() {
        PeerFailure::Timeout
    } else if e.is_connect() {
        PeerFailure::Unreachable(e.to_string())
    } else {
        PeerFailure::Other(e.to_string())
    }
}
