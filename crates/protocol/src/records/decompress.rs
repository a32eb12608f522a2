//! Decompression of a batch's record payload, bounded in output size.
//!
//! The codecs are those real clients write: gzip (one or more members), snappy both as Java's xerial framing
//! (kafka-python writes it too) and as one raw block (librdkafka), the lz4 frame format (KIP-57, what both
//! Java and librdkafka write), and zstd. A payload that would decompress to more than the bound fails as
//! soon as the bound is crossed, so a decompression bomb costs at most the bound in memory.

use super::RecordsError;
use std::borrow::Cow;
use std::io::Read;

/// Most bytes one batch's records may decompress to: 64 MiB. Producers cap a batch's uncompressed size
/// (librdkafka's `message.max.bytes`, Java's `max.request.size`, both 1 MiB by default), so this leaves
/// room for 64x the default while keeping a hostile batch from taking more than this much memory.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// The magic that opens xerial-framed snappy (snappy-java's `SnappyOutputStream`).
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Magic, version and compatible-version fields of the xerial header.
const XERIAL_HEADER_LEN: usize = 16;
/// Largest zstd window accepted (2^27, zstd's default and what level 22 streams declare).
const ZSTD_WINDOW_LOG_MAX: u32 = 27;
/// Upper bound of the expansion ratio of one raw snappy block (the format's true bound is 64/3).
const SNAPPY_MAX_EXPANSION: usize = 22;
/// Smallest growth of a decoder's output buffer once its first guess is full.
const CHUNK: usize = 16 * 1024;

/// The name of a codec id as it appears in error messages.
pub fn codec_name(codec: i16) -> &'static str {
    match codec {
        0 => "none",
        1 => "gzip",
        2 => "snappy",
        3 => "lz4",
        4 => "zstd",
        _ => "unknown",
    }
}

/// Decompresses `payload` (the bytes after the batch header) written with `codec` (attributes & 7), to at
/// most `limit` bytes. Uncompressed payloads are borrowed.
pub fn decompress(codec: i16, payload: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, RecordsError> {
    let name = codec_name(codec);
    let fail = |e: std::io::Error| RecordsError::Decompress { codec: name, reason: e.to_string() };
    let hint = payload.len().saturating_mul(4);
    let out = match codec {
        0 => return Ok(Cow::Borrowed(payload)),
        1 => read_bounded(flate2::read::MultiGzDecoder::new(payload), limit, hint).map_err(fail)?,
        2 => return snappy(payload, limit).map(Cow::Owned),
        3 => super::lz4_frame::decode(payload, limit, hint)
            .map_err(|reason| RecordsError::Decompress { codec: name, reason })?,
        4 => zstd_frames(payload, limit, hint).map_err(fail)?,
        codec => return Err(RecordsError::UnknownCodec { codec }),
    };
    out.map(Cow::Owned).ok_or(RecordsError::TooLarge { codec: name, limit })
}

/// Reads `r` to its end, or returns `None` once more than `limit` bytes came out. The buffer never grows
/// beyond `limit`. The decoder writes straight into the buffer's spare room (`read_to_end` on a reader
/// limited to that room, so it never grows the buffer itself): a copy through a stack chunk was a tenth of
/// the agent's CPU in a produce profile (BENCHMARKS.md).
fn read_bounded(mut r: impl Read, limit: usize, hint: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(hint.min(limit));
    loop {
        let room = out.capacity() - out.len();
        if room == 0 {
            if out.len() >= limit {
                // Full at the limit: done only if nothing is left.
                let mut probe = [0u8; 1];
                return Ok(if read_some(&mut r, &mut probe)? == 0 { Some(out) } else { None });
            }
            out.reserve_exact(out.capacity().max(CHUNK).min(limit - out.len()));
            continue;
        }
        let n = (&mut r).take(room as u64).read_to_end(&mut out)?;
        if n < room {
            return Ok(Some(out));
        }
    }
}

/// Decodes zstd frames (one or more, as Java's and librdkafka's streams may write) into the output's spare
/// room, with the same bounds as [`read_bounded`]: `None` once more than `limit` bytes came out, and never
/// more than `limit + 1` bytes held. zstd's `Read` adapter behind `read_to_end` zero-filled every output
/// before decoding into it (BENCHMARKS.md, issue 21 session 6).
fn zstd_frames(payload: &[u8], limit: usize, hint: usize) -> std::io::Result<Option<Vec<u8>>> {
    use zstd::stream::raw::{DParameter, Decoder, InBuffer, Operation, OutBuffer};
    let mut decoder = Decoder::new()?;
    decoder.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))?;
    let most = limit.saturating_add(1);
    let mut out: Vec<u8> = Vec::with_capacity(hint.min(most));
    let mut input = InBuffer::around(payload);
    loop {
        make_room(&mut out, most);
        let before = (out.len(), input.pos());
        let len = out.len();
        let next = decoder.run(&mut input, &mut OutBuffer::around_pos(&mut out, len))?;
        if out.len() > limit {
            return Ok(None);
        }
        if next == 0 && input.pos() == payload.len() {
            return Ok(Some(out));
        }
        if (out.len(), input.pos()) == before {
            // Neither input left nor output pending: the last frame stops before its end.
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "truncated frame"));
        }
    }
}

/// Gives a decoder that writes into spare room at least one byte of it once `out` is full: the buffer doubles
/// (by at least [`CHUNK`]) but never beyond `most` (a limit + 1, so that crossing the limit shows).
pub(super) fn make_room(out: &mut Vec<u8>, most: usize) {
    if out.len() == out.capacity() {
        out.reserve_exact(out.capacity().max(CHUNK).min(most - out.len()));
    }
}

/// One `read`, repeated while it is interrupted.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn snappy(payload: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    if payload.len() >= XERIAL_HEADER_LEN && payload.starts_with(XERIAL_MAGIC) {
        let mut rest = &payload[XERIAL_HEADER_LEN..];
        while !rest.is_empty() {
            let truncated = || RecordsError::Decompress { codec: "snappy", reason: "truncated xerial block".into() };
            let len_bytes: [u8; 4] = rest.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(truncated)?;
            let len = u32::from_be_bytes(len_bytes) as usize;
            let block = rest.get(4..4 + len).ok_or_else(truncated)?;
            snappy_block(block, &mut out, limit)?;
            rest = &rest[4 + len..];
        }
    } else {
        snappy_block(payload, &mut out, limit)?;
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`; its declared length is checked against the bound before any
/// allocation.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), RecordsError> {
    let fail = |e: snap::Error| RecordsError::Decompress { codec: "snappy", reason: e.to_string() };
    let len = snap::raw::decompress_len(block).map_err(fail)?;
    if len > limit - out.len() {
        return Err(RecordsError::TooLarge { codec: "snappy", limit });
    }
    // No snappy element yields more than 64 bytes from 3 (a copy with a 2-byte offset), so a block cannot
    // expand more than ~21x: a larger declared length is a lie, refused before it sizes the buffer.
    if len > block.len().saturating_mul(SNAPPY_MAX_EXPANSION) {
        let reason = format!("block of {} bytes declares {len} uncompressed bytes", block.len());
        return Err(RecordsError::Decompress { codec: "snappy", reason });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(fail)?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{read_bounded, zstd_frames};

    /// A reader that hands out at most `step` bytes per read, like a streaming decoder between blocks.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_everything_up_to_the_limit_whatever_the_hint_and_never_grows_past_it() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        for hint in [0, 1, 100, 50_000, 1 << 20] {
            for step in [1, 7, 4096, 1 << 20] {
                for limit in [0, 1, 49_999, 50_000, 50_001, 1 << 20] {
                    let got = read_bounded(Trickle { data: &data, step }, limit, hint).unwrap();
                    match got {
                        Some(out) => {
                            assert!(data.len() <= limit, "hint {hint} step {step} limit {limit}");
                            assert_eq!(out, data);
                            assert!(out.capacity() <= limit.max(hint.min(limit)), "capacity {}", out.capacity());
                        }
                        None => assert!(data.len() > limit, "hint {hint} step {step} limit {limit}"),
                    }
                }
            }
        }
    }

    #[test]
    fn zstd_reads_every_frame_to_the_limit_and_refuses_cut_or_trailing_bytes() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let first = zstd::encode_all(&data[..30_000], 3).unwrap();
        let two = [first.clone(), zstd::encode_all(&data[30_000..], 3).unwrap()].concat();
        for hint in [0, 1, 1000, 1 << 20] {
            assert_eq!(zstd_frames(&two, data.len(), hint).unwrap().unwrap(), data, "hint {hint}");
            assert_eq!(zstd_frames(&two, data.len() - 1, hint).unwrap(), None, "hint {hint}");
            let held = zstd_frames(&two, 1 << 20, hint).unwrap().unwrap();
            assert!(held.capacity() <= (1 << 20) + 1);
        }
        for cut in [0, 3, first.len() - 1, first.len() + 3, two.len() - 1] {
            assert!(zstd_frames(&two[..cut], 1 << 20, 0).is_err(), "cut at {cut}");
        }
        let trailing = [two.clone(), b"not a frame".to_vec()].concat();
        assert!(zstd_frames(&trailing, 1 << 20, 0).is_err());
    }
}
