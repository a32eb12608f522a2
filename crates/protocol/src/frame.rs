//! Length-prefixed framing: every Kafka request is a big-endian i32 size followed by that many bytes.

use bytes::{Buf, BytesMut};

/// Why a frame could not be taken from the read buffer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame size {size} is negative")]
    Negative { size: i32 },
    #[error("frame size {size} exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

/// The body size announced by the frame header at the front of `buf`, once its 4 bytes are there.
///
/// A size above `max_frame` is refused before any of the body is read, as Kafka's socket.request.max.bytes
/// does.
pub fn frame_size(buf: &[u8], max_frame: usize) -> Result<Option<usize>, FrameError> {
    let Some(header) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if size < 0 {
        return Err(FrameError::Negative { size });
    }
    let size = size as usize;
    if size > max_frame {
        return Err(FrameError::TooLarge { size, limit: max_frame });
    }
    Ok(Some(size))
}

/// Takes one complete frame (without its size prefix) off the front of `buf`, if one is there.
///
/// Returns `Ok(None)` when more bytes are needed. `buf` is never grown here: how much memory a partly read
/// frame may hold is the caller's decision.
pub fn next_frame(buf: &mut BytesMut, max_frame: usize) -> Result<Option<BytesMut>, FrameError> {
    let Some(size) = frame_size(buf, max_frame)? else {
        return Ok(None);
    };
    if buf.len() < 4 + size {
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_then_complete() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 1, 2][..]);
        assert_eq!(next_frame(&mut buf, 10), Ok(None));
        buf.extend_from_slice(&[3, 0, 0, 0]);
        let frame = next_frame(&mut buf, 10).unwrap().unwrap();
        assert_eq!(&frame[..], &[1, 2, 3]);
        assert_eq!(&buf[..], &[0, 0, 0]);
    }

    #[test]
    fn oversized_and_negative_frames_are_refused() {
        let mut buf = BytesMut::from(&[0u8, 0, 1, 0][..]);
        assert_eq!(next_frame(&mut buf, 255), Err(FrameError::TooLarge { size: 256, limit: 255 }));
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert_eq!(next_frame(&mut buf, 255), Err(FrameError::Negative { size: -1 }));
    }

    #[test]
    fn announced_size_is_read_without_growing_the_buffer() {
        let mut buf = BytesMut::with_capacity(8);
        buf.extend_from_slice(&[0u8, 0x10, 0, 0, 1]);
        assert_eq!(frame_size(&buf[..3], 1 << 30), Ok(None));
        assert_eq!(frame_size(&buf, 1 << 30), Ok(Some(0x10_0000)));
        assert_eq!(next_frame(&mut buf, 1 << 30), Ok(None));
        assert!(buf.capacity() < 1024, "a partial frame must not reserve its announced size");
    }
}
