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

/// Takes one complete frame (without its size prefix) off the front of `buf`, if one is there.
///
/// Returns `Ok(None)` when more bytes are needed. A size above `max_frame` is refused before any of the body
/// is buffered, as Kafka's socket.request.max.bytes does.
pub fn next_frame(buf: &mut BytesMut, max_frame: usize) -> Result<Option<BytesMut>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 {
        return Err(FrameError::Negative { size });
    }
    let size = size as usize;
    if size > max_frame {
        return Err(FrameError::TooLarge { size, limit: max_frame });
    }
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
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
}
