//! When a connection is closed for doing nothing: Kafka's `connections.max.idle.ms` for connections with
//! no request activity, and a shorter deadline for a client that started a request frame and stopped
//! sending it. Pure decisions, so they are tested without sockets.

use std::time::Duration;
use tokio::time::Instant;

/// Why a connection timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No request in progress and no bytes for `connections.max.idle.ms`.
    Idle,
    /// A frame was started and then stalled for the request read timeout (or trickled for the idle timeout).
    FrameIncomplete,
}

/// The two limits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub frame: Duration,
}

/// What the connection is doing right now.
#[derive(Debug, Clone, Copy)]
pub struct ConnState {
    /// The last time a byte was read or a response written.
    pub last_activity: Instant,
    /// Since when the client has had to finish the frame in progress: when it started, or when the
    /// connection last resumed reading (time the agent itself did not read is not held against it).
    pub frame_since: Option<Instant>,
    /// Requests read and not yet answered (a long-poll fetch is one).
    pub in_flight: usize,
    /// The agent is not reading the socket (waiting for request budget, or pipelining limit reached).
    pub paused: bool,
}

/// The instant the connection expires, and why; `None` while it must not time out.
pub fn deadline(t: Timeouts, s: &ConnState) -> Option<(Instant, Expiry)> {
    if s.paused {
        return None;
    }
    if let Some(since) = s.frame_since {
        // A frame may stall (no byte arriving) for at most `frame`, so a slow upload that keeps making
        // progress is not cut; and it must be complete within `idle` of its start, so a trickle cannot hold
        // its request-bytes reservation for ever.
        let stalled = since.max(s.last_activity) + t.frame;
        let overall = since + t.idle.max(t.frame);
        return Some((stalled.min(overall), Expiry::FrameIncomplete));
    }
    if s.in_flight > 0 {
        return None;
    }
    Some((s.last_activity + t.idle, Expiry::Idle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts { idle: Duration::from_secs(600), frame: Duration::from_secs(60) };

    fn state(now: Instant) -> ConnState {
        ConnState { last_activity: now, frame_since: None, in_flight: 0, paused: false }
    }

    #[test]
    fn an_idle_connection_expires_after_the_idle_timeout_from_its_last_activity() {
        let now = Instant::now();
        assert_eq!(deadline(T, &state(now)), Some((now + T.idle, Expiry::Idle)));
    }

    #[test]
    fn requests_in_flight_such_as_a_long_poll_fetch_keep_the_connection_open() {
        let now = Instant::now();
        let s = ConnState { in_flight: 1, ..state(now) };
        assert_eq!(deadline(T, &s), None);
    }

    #[test]
    fn a_started_frame_must_be_finished_within_the_frame_timeout_even_with_requests_in_flight() {
        let now = Instant::now();
        let started = now + Duration::from_secs(5);
        let s = ConnState { frame_since: Some(started), in_flight: 2, ..state(now) };
        assert_eq!(deadline(T, &s), Some((started + T.frame, Expiry::FrameIncomplete)));
    }

    #[test]
    fn a_frame_that_keeps_arriving_is_not_cut_until_the_idle_timeout() {
        let started = Instant::now();
        let progress = started + Duration::from_secs(50);
        let s = ConnState { frame_since: Some(started), last_activity: progress, in_flight: 0, paused: false };
        assert_eq!(deadline(T, &s), Some((progress + T.frame, Expiry::FrameIncomplete)));
        let late = started + T.idle;
        let s = ConnState { last_activity: late, ..s };
        assert_eq!(deadline(T, &s), Some((started + T.idle, Expiry::FrameIncomplete)));
    }

    #[test]
    fn no_deadline_while_the_agent_itself_is_not_reading() {
        let now = Instant::now();
        let s = ConnState { frame_since: Some(now), paused: true, ..state(now) };
        assert_eq!(deadline(T, &s), None);
    }
}
