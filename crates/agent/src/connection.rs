//! One client connection: read frames, dispatch them, write responses strictly in request order.
//!
//! Requests are read while fewer than `max_inflight_per_connection` are in progress; produce and fetch
//! completions run concurrently, so a pipelining producer shares flushes instead of waiting for each one.
//! When the produce buffer is full, dispatch waits, so the socket is not read (backpressure).

use crate::Agent;
use crate::dispatch::{Completion, dispatch};
use bytes::BytesMut;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use weft_protocol::next_frame;

pub async fn serve(agent: Arc<Agent>, socket: TcpStream, peer: SocketAddr, shutdown: watch::Receiver<bool>) {
    metrics::counter!("weft_connections_total").increment(1);
    metrics::gauge!("weft_connections_active").increment(1.0);
    serve_inner(agent, socket, peer, shutdown).await;
    metrics::gauge!("weft_connections_active").decrement(1.0);
}

async fn serve_inner(agent: Arc<Agent>, socket: TcpStream, peer: SocketAddr, mut shutdown: watch::Receiver<bool>) {
    let _ = socket.set_nodelay(true);
    let (mut rd, mut wr) = socket.into_split();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut inflight: FuturesOrdered<Completion> = FuturesOrdered::new();
    let max_inflight = agent.config.max_inflight_per_connection.max(1);
    let max_frame = agent.config.max_frame_bytes;
    let mut reading = !*shutdown.borrow();
    loop {
        while reading && inflight.len() < max_inflight {
            match next_frame(&mut buf, max_frame) {
                Ok(Some(frame)) => match dispatch(&agent, peer, frame.freeze()).await {
                    Ok(completion) => inflight.push_back(completion),
                    Err(reason) => {
                        tracing::warn!(%peer, %reason, "closing connection");
                        reading = false;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: bad frame");
                    reading = false;
                }
            }
        }
        if !reading && inflight.is_empty() {
            break;
        }
        tokio::select! {
            read = rd.read_buf(&mut buf), if reading && inflight.len() < max_inflight => match read {
                Ok(0) => {
                    if !buf.is_empty() {
                        tracing::warn!(%peer, bytes = buf.len(), "connection closed in the middle of a request frame");
                    }
                    reading = false;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "connection read failed");
                    return;
                }
            },
            Some(done) = inflight.next(), if !inflight.is_empty() => match done {
                Ok(Some(frame)) => {
                    if let Err(e) = wr.write_all(&frame).await {
                        tracing::debug!(%peer, error = %e, "connection write failed");
                        return;
                    }
                }
                Ok(None) => {}
                Err(reason) => {
                    tracing::warn!(%peer, %reason, "closing connection");
                    return;
                }
            },
            _ = shutdown.changed(), if reading => reading = false,
        }
    }
    let _ = wr.shutdown().await;
}
