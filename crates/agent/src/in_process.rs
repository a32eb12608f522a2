//! Requests answered in process, without a socket: the request path as benchmarks (`benches/request_path.rs`)
//! and tests drive it.

use crate::RunningAgent;

impl RunningAgent {
    /// Answers one request frame (without its length prefix) in process, as a plaintext connection from
    /// 127.0.0.1 to the first listener would be answered: the same dispatch, handlers, metrics and encoding,
    /// with no socket. The response frame (length prefix included), `None` when none is sent (acks=0), or
    /// why the connection would be closed. For benchmarks of the request path and for tests.
    pub async fn answer(&self, frame: bytes::Bytes) -> Result<Option<weft_protocol::Chunks>, String> {
        let session = weft_listener::Session {
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            listener: self.listeners.first().map_or("PLAINTEXT", |(n, _)| n.as_str()).into(),
            protocol: weft_config::SecurityProtocol::Plaintext,
            principal: None,
            mute: Default::default(),
        };
        let completion = crate::dispatch::dispatch(&self.api, &session, frame).await.map_err(|e| e.to_string())?;
        completion.await.map_err(|e| e.to_string())
    }
}
