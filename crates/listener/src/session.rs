//! One client connection (a session): read frames, hand them to the [`Handler`], write responses strictly
//! in request order. The session is generic over its transport (any `AsyncRead`/`AsyncWrite` halves), so
//! TLS is one more transport, and it carries the client's identity ([`Session`]) to every request.
//!
//! Requests are read while fewer than `max_inflight_per_connection` are in progress; produce and fetch
//! completions run concurrently, so a pipelining producer shares flushes instead of waiting for each one.
//! When the produce buffer is full, dispatch waits, so the socket is not read (backpressure). Frames larger
//! than the connection's own small buffer wait for the shared request budget (`queued.max.request.bytes`)
//! before their body is read. A connection with nothing in progress is closed after
//! `connections.max.idle.ms`; one that started a frame and stopped sending it after the request read timeout.

use crate::budget::{RequestBudget, Reservation};
use crate::frame_reader::{FrameReader, Next};
use crate::timeouts::{ConnState, Expiry, Timeouts, deadline};
use crate::write::write_chunks;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use weft_protocol::Chunks;

/// Who is on the other end of a connection. Every request of the connection is handled with it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The client's address.
    pub peer: SocketAddr,
    /// The name of the listener the client connected to (`PLAINTEXT`, `SSL`, `INTERNAL` ...).
    pub listener: std::sync::Arc<str>,
    /// The security protocol of that listener: TLS is already done when the session starts; SASL
    /// listeners require authentication before other requests.
    pub protocol: weft_config::SecurityProtocol,
    /// The authenticated principal (`User:<name>`): from the client certificate on TLS listeners with
    /// client auth; `None` otherwise, which Kafka calls `User:ANONYMOUS`.
    pub principal: Option<String>,
    /// Set by the handler when the client is throttled: no request is read until then (KIP-219).
    pub mute: Mute,
}

/// A connection's mute (Kafka's KIP-219 channel mute): while it lasts, the session reads no request, so a
/// throttled client that does not wait by itself is held back; responses already due are still written.
#[derive(Debug, Clone, Default)]
pub struct Mute(std::sync::Arc<std::sync::Mutex<Option<Instant>>>);

impl Mute {
    /// Mutes the connection until `until` (a later mute already set stays).
    pub fn until(&self, until: Instant) {
        if let Ok(mut at) = self.0.lock() {
            *at = Some(at.map_or(until, |old| old.max(until)));
        }
    }

    /// When the mute ends, if it has not yet.
    pub fn deadline(&self) -> Option<Instant> {
        let at = self.0.lock().ok().and_then(|at| *at)?;
        (at > Instant::now()).then_some(at)
    }
}

/// The response of one request, in the making: the whole frame, size prefix included, as chunks written
/// with vectored writes. `None` means no response is sent (acks=0 produce).
pub type Completion<E> = BoxFuture<'static, Result<Option<Chunks>, E>>;

/// What turns request frames into responses.
pub trait Handler: Send + Sync + 'static {
    /// Why a connection must be closed.
    type Close: Display + Send + 'static;

    /// Handles one request frame. What must happen in arrival order is done before the returned future
    /// resolves; the completion may then run concurrently with later requests of the same connection.
    fn handle(
        &self,
        session: &Session,
        frame: Bytes,
    ) -> impl Future<Output = Result<Completion<Self::Close>, Self::Close>> + Send;

    /// A last response to write before a connection closes for `reason`, when a completion failed with it
    /// (a failed SASL login is answered, then the connection is closed, as Kafka does).
    fn last_words(&self, reason: &Self::Close) -> Option<Chunks> {
        let _ = reason;
        None
    }

    /// A tighter bound than `SessionLimits::max_frame_bytes` on the next frame, if the handler wants one now
    /// (before SASL authentication: `sasl.server.max.receive.size`), checked on the frame's length prefix so
    /// no budget is reserved and nothing is allocated for a frame that will be refused.
    fn frame_limit(&self) -> Option<usize> {
        None
    }
}

/// The limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Largest request frame accepted (socket.request.max.bytes).
    pub max_frame_bytes: usize,
    /// Requests in progress at once (pipelining depth); at least 1.
    pub max_inflight: usize,
    /// Kafka's connections.max.idle.ms.
    pub idle: Duration,
    /// How long a started request frame may stall.
    pub frame_read: Duration,
}

/// Serves one connection until the client leaves, a limit closes it, or `shutdown` turns true (then the
/// requests in progress are answered first).
pub async fn serve<H, R, W>(
    handler: &H,
    session: Session,
    (rd, wr): (R, W),
    limits: SessionLimits,
    budget: &RequestBudget,
    shutdown: watch::Receiver<bool>,
) where
    H: Handler,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    metrics::counter!("weft_connections_total").increment(1);
    metrics::gauge!("weft_connections_active").increment(1.0);
    serve_inner(handler, &session, (rd, wr), limits, budget, shutdown).await;
    metrics::gauge!("weft_connections_active").decrement(1.0);
}

/// A reservation being waited for; kept across loop turns so the connection keeps its place in line.
type PendingReservation = Option<BoxFuture<'static, Option<Reservation>>>;

async fn wait_reservation(pending: &mut PendingReservation) -> Option<Reservation> {
    match pending.as_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Per-connection bookkeeping for the timeouts.
struct Clock {
    last_activity: Instant,
    frame_since: Option<Instant>,
    was_paused: bool,
}

impl Clock {
    /// Updates the frame clock: it starts with a frame, and restarts when the agent resumes reading after a
    /// pause of its own making.
    fn observe(&mut self, in_progress: bool, paused: bool) {
        let now = Instant::now();
        if !in_progress {
            self.frame_since = None;
        } else if self.frame_since.is_none() || (self.was_paused && !paused) {
            self.frame_since = Some(now);
        }
        self.was_paused = paused;
    }
}

async fn serve_inner<H, R, W>(
    handler: &H,
    session: &Session,
    (mut rd, mut wr): (R, W),
    limits: SessionLimits,
    budget: &RequestBudget,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Handler,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let peer = session.peer;
    let mut reader = FrameReader::new(limits.max_frame_bytes, budget);
    let mut inflight: FuturesOrdered<Completion<H::Close>> = FuturesOrdered::new();
    let mut reserving: PendingReservation = None;
    let max_inflight = limits.max_inflight.max(1);
    let timeouts = Timeouts { idle: limits.idle, frame: limits.frame_read };
    let mut clock = Clock { last_activity: Instant::now(), frame_since: None, was_paused: false };
    let mut reading = !*shutdown.borrow();
    loop {
        while reading && reserving.is_none() && inflight.len() < max_inflight && session.mute.deadline().is_none() {
            reader.limit(handler.frame_limit().map_or(limits.max_frame_bytes, |l| l.min(limits.max_frame_bytes)));
            match reader.next() {
                Ok(Next::Frame(frame, reservation)) => {
                    // The next frame's clock starts when its first bytes are seen, not with this one's.
                    clock.frame_since = None;
                    match handler.handle(session, frame).await {
                        Ok(completion) => inflight.push_back(completion),
                        Err(reason) => {
                            tracing::warn!(%peer, %reason, "closing connection");
                            reading = false;
                        }
                    }
                    // Decoded and handed on: the bytes no longer count as a request being read.
                    drop(reservation);
                }
                Ok(Next::NeedBytes) => break,
                Ok(Next::NeedBudget(bytes)) => {
                    let budget = budget.clone();
                    reserving = Some(Box::pin(async move { budget.reserve(bytes).await }));
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: bad frame");
                    reading = false;
                }
            }
        }
        if !reading && inflight.is_empty() {
            break;
        }
        let muted = session.mute.deadline();
        let paused = reserving.is_some() || inflight.len() >= max_inflight || muted.is_some();
        clock.observe(reader.in_progress(), paused);
        let state = ConnState {
            last_activity: clock.last_activity,
            frame_since: clock.frame_since,
            in_flight: inflight.len(),
            paused,
        };
        let expiry = if reading { deadline(timeouts, &state) } else { None };
        let wake_at = expiry.map_or_else(far_future, |(at, _)| at);
        tokio::select! {
            reservation = wait_reservation(&mut reserving), if reading && reserving.is_some() => {
                reserving = None;
                match reservation {
                    Some(r) => reader.grant(r),
                    None => reading = false,
                }
            }
            read = rd.read_buf(reader.read_buf()), if reading && !paused => match read {
                Ok(0) => {
                    if reader.in_progress() {
                        tracing::warn!(%peer, bytes = reader.partial_len(), "connection closed in the middle of a request frame");
                    }
                    reading = false;
                }
                Ok(_) => clock.last_activity = Instant::now(),
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "connection read failed");
                    return;
                }
            },
            Some(done) = inflight.next(), if !inflight.is_empty() => match done {
                Ok(Some(frame)) => {
                    // A client that stops reading its responses is idle too; without this bound a blocked
                    // write would also hold off both timeouts (and any request-bytes reservation) for ever.
                    match tokio::time::timeout(timeouts.idle, write_chunks(&mut wr, &frame)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "connection write failed");
                            return;
                        }
                        Err(_) => {
                            metrics::counter!("weft_connection_timeouts_total", "reason" => "write").increment(1);
                            tracing::warn!(%peer, idle_ms = timeouts.idle.as_millis() as u64, bytes = frame.len(),
                                "closing connection: the client read no response bytes for connections.max.idle.ms");
                            return;
                        }
                    }
                    clock.last_activity = Instant::now();
                }
                Ok(None) => clock.last_activity = Instant::now(),
                Err(reason) => {
                    tracing::warn!(%peer, %reason, "closing connection");
                    if let Some(last) = handler.last_words(&reason) {
                        let _ = tokio::time::timeout(timeouts.idle, write_chunks(&mut wr, &last)).await;
                        let _ = wr.shutdown().await;
                    }
                    return;
                }
            },
            _ = tokio::time::sleep_until(wake_at), if expiry.is_some() => {
                log_expiry(peer, expiry.map(|(_, why)| why), timeouts, &reader);
                return;
            }
            _ = tokio::time::sleep_until(muted.unwrap_or_else(far_future)), if muted.is_some() => {}
            _ = shutdown.changed(), if reading => reading = false,
        }
    }
    let _ = wr.shutdown().await;
}

fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(86_400 * 365)
}

fn log_expiry(peer: SocketAddr, why: Option<Expiry>, t: Timeouts, reader: &FrameReader) {
    match why {
        Some(Expiry::Idle) => {
            metrics::counter!("weft_connection_timeouts_total", "reason" => "idle").increment(1);
            tracing::info!(%peer, idle_ms = t.idle.as_millis() as u64, "closing idle connection (connections.max.idle.ms)");
        }
        Some(Expiry::FrameIncomplete) => {
            metrics::counter!("weft_connection_timeouts_total", "reason" => "frame_incomplete").increment(1);
            tracing::warn!(
                %peer,
                received_bytes = reader.partial_len(),
                timeout_ms = t.frame.as_millis() as u64,
                "closing connection: request frame not completed in time"
            );
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use tokio::time::Instant;

    #[test]
    fn every_frame_gets_its_own_read_time_even_when_frames_arrive_back_to_back() {
        let t0 = Instant::now();
        let mut c = Clock { last_activity: t0, frame_since: None, was_paused: false };
        c.observe(true, false);
        let first = c.frame_since.unwrap();
        c.observe(true, false);
        assert_eq!(c.frame_since, Some(first), "the same frame keeps its start");
        // The frame completed and the next one had already begun (the connection loop resets the clock).
        c.frame_since = None;
        c.observe(true, false);
        assert!(c.frame_since.unwrap() >= first);
        let before_pause = c.frame_since;
        c.observe(true, true);
        c.observe(true, false);
        assert!(c.frame_since >= before_pause, "reading resumed after a pause restarts the clock");
        c.observe(false, false);
        assert_eq!(c.frame_since, None);
    }
}
