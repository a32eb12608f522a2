//! Reading request frames off one connection with bounded memory.
//!
//! Frames that fit in [`SMALL_FRAME`] bytes (header included) are read into the connection's own buffer,
//! whose capacity stays within twice that (`BytesMut` may double when it grows): its memory is a
//! per-connection constant, bounded by the connection limit, and small requests never wait behind large ones. A larger frame needs a reservation from the
//! shared [`RequestBudget`] for the size its header announces; only then is a buffer of exactly that size
//! allocated and the body read into it.

use crate::budget::{RequestBudget, Reservation};
use bytes::{Bytes, BytesMut};
use weft_protocol::{FrameError, frame_size};

/// Frames up to this size (with their 4-byte header) are read without a reservation.
pub const SMALL_FRAME: usize = 64 * 1024;

/// Why a connection's input cannot be read as frames.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("frame size {size} exceeds queued.max.request.bytes ({budget} bytes)")]
    OverBudget { size: usize, budget: usize },
}

/// What the connection should do next.
#[derive(Debug)]
pub enum Next {
    /// A complete frame body. The reservation (for large frames) is to be dropped once it is decoded.
    Frame(Bytes, Option<Reservation>),
    /// Read more bytes into [`FrameReader::read_buf`].
    NeedBytes,
    /// Reserve this many bytes, then hand the reservation to [`FrameReader::grant`].
    NeedBudget(usize),
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reservation({})", self.bytes())
    }
}

struct LargeFrame {
    body: BytesMut,
    size: usize,
    reservation: Reservation,
}

pub struct FrameReader {
    buf: BytesMut,
    large: Option<LargeFrame>,
    max_frame: usize,
    budget: usize,
}

impl FrameReader {
    pub fn new(max_frame: usize, budget: &RequestBudget) -> Self {
        FrameReader { buf: BytesMut::with_capacity(SMALL_FRAME), large: None, max_frame, budget: budget.total() }
    }

    /// Bounds the frames read from now on (a frame already being read keeps the bound it was checked with).
    pub fn limit(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// Takes the next complete frame, or says what is missing.
    pub fn next(&mut self) -> Result<Next, ReadError> {
        if let Some(large) = &self.large {
            if large.body.len() < large.size {
                return Ok(Next::NeedBytes);
            }
            return Ok(match self.large.take() {
                Some(l) => Next::Frame(l.body.freeze(), Some(l.reservation)),
                None => Next::NeedBytes,
            });
        }
        let Some(size) = frame_size(&self.buf, self.max_frame)? else {
            self.make_room(4);
            return Ok(Next::NeedBytes);
        };
        if self.buf.len() >= 4 + size {
            let mut frame = self.buf.split_to(4 + size);
            let body = frame.split_off(4);
            return Ok(Next::Frame(body.freeze(), None));
        }
        if 4 + size <= SMALL_FRAME {
            self.make_room(4 + size);
            return Ok(Next::NeedBytes);
        }
        if size > self.budget {
            return Err(ReadError::OverBudget { size, budget: self.budget });
        }
        Ok(Next::NeedBudget(size))
    }

    /// Starts reading the large frame announced at the front of the buffer into a buffer of its own.
    pub fn grant(&mut self, reservation: Reservation) {
        let Ok(Some(size)) = frame_size(&self.buf, self.max_frame) else {
            return;
        };
        let _header = self.buf.split_to(4);
        let mut body = BytesMut::with_capacity(size);
        let have = self.buf.len().min(size);
        body.extend_from_slice(&self.buf.split_to(have));
        self.large = Some(LargeFrame { body, size, reservation });
    }

    /// Where the next socket read goes: never past the end of a large frame, never past [`SMALL_FRAME`]
    /// for the connection's own buffer (whose capacity may reach twice that when `BytesMut` grows).
    pub fn read_buf(&mut self) -> &mut BytesMut {
        match &mut self.large {
            Some(l) => &mut l.body,
            None => &mut self.buf,
        }
    }

    /// Whether part of a frame has been received.
    pub fn in_progress(&self) -> bool {
        self.large.is_some() || !self.buf.is_empty()
    }

    /// Bytes of the frame in progress received so far.
    pub fn partial_len(&self) -> usize {
        self.large.as_ref().map_or(self.buf.len(), |l| l.body.len())
    }

    /// Makes sure the connection's buffer can take `need` bytes without growing past [`SMALL_FRAME`].
    fn make_room(&mut self, need: usize) {
        if self.buf.capacity() < need {
            // Frames already split off may still share the old allocation; a new one of SMALL_FRAME bytes
            // replaces it (reserve reuses the allocation in place when nothing else holds it).
            self.buf.reserve(SMALL_FRAME.max(need) - self.buf.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn header(size: i32) -> [u8; 4] {
        size.to_be_bytes()
    }

    fn feed(r: &mut FrameReader, bytes: &[u8]) {
        let buf = r.read_buf();
        assert!(buf.capacity() - buf.len() >= bytes.len(), "reads never exceed the room made for them");
        buf.put_slice(bytes);
    }

    #[test]
    fn small_frames_come_from_the_connection_buffer_without_a_reservation() {
        let budget = RequestBudget::new(1 << 20);
        let mut r = FrameReader::new(1 << 20, &budget);
        feed(&mut r, &header(3));
        assert!(matches!(r.next(), Ok(Next::NeedBytes)));
        assert!(r.in_progress());
        feed(&mut r, &[1, 2, 3]);
        feed(&mut r, &header(1)[..2]);
        match r.next() {
            Ok(Next::Frame(f, None)) => assert_eq!(&f[..], &[1, 2, 3]),
            other => panic!("expected a frame, got {other:?}"),
        }
        assert!(matches!(r.next(), Ok(Next::NeedBytes)));
        assert_eq!(r.partial_len(), 2);
    }

    #[tokio::test]
    async fn large_frames_wait_for_budget_and_get_a_buffer_of_their_own() {
        let budget = RequestBudget::new(1 << 20);
        let mut r = FrameReader::new(1 << 20, &budget);
        let size = 200_000usize;
        feed(&mut r, &header(size as i32));
        feed(&mut r, &[7; 10]);
        let want = match r.next() {
            Ok(Next::NeedBudget(n)) => n,
            other => panic!("expected NeedBudget, got {other:?}"),
        };
        assert_eq!(want, size);
        assert!(r.read_buf().capacity() <= SMALL_FRAME, "the buffer is not grown before the reservation");
        r.grant(budget.reserve(want).await.unwrap());
        assert_eq!(budget.available(), (1 << 20) - size);
        assert_eq!(r.partial_len(), 10);
        let rest = vec![7u8; size - 10];
        feed(&mut r, &rest);
        assert_eq!(r.read_buf().capacity(), r.read_buf().len(), "the body buffer is exactly the frame");
        let Ok(Next::Frame(body, Some(reservation))) = r.next() else { panic!("expected the large frame") };
        assert_eq!(body.len(), size);
        drop(reservation);
        assert_eq!(budget.available(), 1 << 20);
        assert!(!r.in_progress());
    }

    #[test]
    fn frames_larger_than_the_whole_budget_or_the_frame_limit_are_refused() {
        let budget = RequestBudget::new(100_000);
        let mut r = FrameReader::new(1 << 20, &budget);
        feed(&mut r, &header(150_000));
        assert_eq!(r.next().unwrap_err(), ReadError::OverBudget { size: 150_000, budget: 100_000 });
        let mut r = FrameReader::new(1000, &budget);
        feed(&mut r, &header(1001));
        assert_eq!(r.next().unwrap_err(), ReadError::Frame(FrameError::TooLarge { size: 1001, limit: 1000 }));
    }

    #[test]
    fn the_connection_buffer_stays_small_across_many_frames() {
        let budget = RequestBudget::new(1 << 20);
        let mut r = FrameReader::new(1 << 20, &budget);
        let mut held = Vec::new();
        for _ in 0..100 {
            loop {
                match r.next().unwrap() {
                    Next::Frame(f, _) => held.push(f),
                    Next::NeedBytes => break,
                    Next::NeedBudget(n) => panic!("small frames need no budget, asked {n}"),
                }
            }
            let frame_len = 40_000usize;
            let mut bytes = header(frame_len as i32).to_vec();
            bytes.resize(4 + frame_len, 1);
            // A client writes in pieces no larger than the room the reader made.
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let room = {
                    let b = r.read_buf();
                    b.capacity() - b.len()
                };
                let n = room.min(rest.len());
                assert!(n > 0, "the reader always makes room for the frame in progress");
                feed(&mut r, &rest[..n]);
                rest = &rest[n..];
                if !rest.is_empty() {
                    assert!(matches!(r.next().unwrap(), Next::NeedBytes | Next::Frame(..)));
                }
            }
            assert!(r.read_buf().capacity() <= 2 * SMALL_FRAME);
        }
    }
}
