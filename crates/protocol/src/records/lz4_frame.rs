//! The lz4 frame format (KIP-57, what Java and librdkafka write), decoded by liblz4's frame API straight into
//! the output's spare room.
//!
//! The `lz4` crate's `Read` adapter decodes each block into its caller's buffer through `Read::read`, which
//! needs an initialised buffer: `read_to_end` zero-filled every output before liblz4 overwrote it, and
//! blocks that straddled the adapter's 32 KiB input window were staged and copied (BENCHMARKS.md, issue 21
//! session 6). Here the whole payload is handed to liblz4 at once and it writes each block where it stays.
//!
//! The unsafe code is the FFI calls and the `set_len` after a decode: liblz4 writes at most `dst_size`
//! bytes at `dst`, reads at most `src_size` bytes of `src`, and reports both counts back.

use lz4_sys::{
    LZ4F_VERSION, LZ4F_createDecompressionContext, LZ4F_decompress, LZ4F_freeDecompressionContext, LZ4F_getErrorName,
    LZ4F_isError, LZ4FDecompressOptions, LZ4FDecompressionContext,
};

/// One decompression context, freed on drop.
struct Context(LZ4FDecompressionContext);

impl Context {
    fn new() -> Result<Self, String> {
        let mut ctx = LZ4FDecompressionContext(std::ptr::null_mut());
        // SAFETY: liblz4 fills `ctx` and reports a failure in its return code.
        check(unsafe { LZ4F_createDecompressionContext(&mut ctx, LZ4F_VERSION) })?;
        Ok(Context(ctx))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context came from LZ4F_createDecompressionContext and is freed exactly once, here.
        unsafe { LZ4F_freeDecompressionContext(self.0) };
    }
}

/// liblz4's return code as a result: its error name, or the code (a size hint, 0 at the frame's end).
fn check(code: usize) -> Result<usize, String> {
    // SAFETY: both are pure functions of the code; the name is a static C string.
    unsafe {
        if LZ4F_isError(code) == 0 {
            return Ok(code);
        }
        let name = LZ4F_getErrorName(code);
        Err(if name.is_null() {
            format!("lz4 error {code}")
        } else {
            std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
        })
    }
}

/// Decodes the lz4 frame that opens `src` (bytes after its end are ignored, as the `lz4` crate's reader and
/// Kafka's `KafkaLZ4BlockInputStream` do). Returns `None` once more than `limit` bytes came out; the output
/// never holds more than `limit + 1` bytes, whatever the frame declares. `hint` sizes the first allocation.
pub(super) fn decode(mut src: &[u8], limit: usize, hint: usize) -> Result<Option<Vec<u8>>, String> {
    let ctx = Context::new()?;
    // Not `stable_dst`: the output may move when it grows, so liblz4 keeps its own copy of a linked block's
    // dictionary.
    let opts = LZ4FDecompressOptions { stable_dst: 0, reserved: [0; 3] };
    let most = limit.saturating_add(1);
    let mut out: Vec<u8> = Vec::with_capacity(hint.min(most));
    loop {
        super::decompress::make_room(&mut out, most);
        let room = out.capacity() - out.len();
        let (mut dst_size, mut src_size) = (room, src.len());
        // SAFETY: `dst` is the output's spare room of `room` bytes and `src` the unread input; liblz4 writes
        // and reads no more than the sizes it is given.
        let next = check(unsafe {
            LZ4F_decompress(ctx.0, out.as_mut_ptr().add(out.len()), &mut dst_size, src.as_ptr(), &mut src_size, &opts)
        })?;
        assert!(dst_size <= room && src_size <= src.len(), "liblz4 reported more than it was given");
        // SAFETY: liblz4 wrote the first `dst_size` bytes of the spare room.
        unsafe { out.set_len(out.len() + dst_size) };
        src = &src[src_size..];
        if out.len() > limit {
            return Ok(None);
        }
        if next == 0 {
            return Ok(Some(out));
        }
        if dst_size == 0 && src_size == 0 {
            // Neither input left nor output pending: the frame stops before its end mark.
            return Err("truncated frame".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode;
    use proptest::prelude::*;
    use std::io::Write;

    fn frame(data: &[u8], block: lz4::BlockSize, mode: lz4::BlockMode, checksum: bool) -> Vec<u8> {
        let check = if checksum { lz4::ContentChecksum::ChecksumEnabled } else { lz4::ContentChecksum::NoChecksum };
        let mut e =
            lz4::EncoderBuilder::new().block_size(block).block_mode(mode).checksum(check).build(Vec::new()).unwrap();
        e.write_all(data).unwrap();
        let (out, r) = e.finish();
        r.unwrap();
        out
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut x = 7u64;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if i % 3 == 0 { (x >> 59) as u8 } else { b"weft"[i % 4] }
            })
            .collect()
    }

    #[test]
    fn decodes_every_block_size_mode_and_checksum_whatever_the_hint() {
        let data = sample(300_000);
        for block in [lz4::BlockSize::Max64KB, lz4::BlockSize::Max256KB, lz4::BlockSize::Max4MB] {
            for mode in [lz4::BlockMode::Independent, lz4::BlockMode::Linked] {
                for checksum in [false, true] {
                    let f = frame(&data, block.clone(), mode.clone(), checksum);
                    for hint in [0, 1, 1000, data.len(), 1 << 22] {
                        let out = decode(&f, 1 << 20, hint).unwrap().unwrap();
                        assert!(out == data, "{block:?} {mode:?} checksum {checksum} hint {hint}");
                    }
                }
            }
        }
    }

    #[test]
    fn stops_past_the_limit_and_never_holds_more_than_one_byte_over() {
        let data = sample(100_000);
        let f = frame(&data, lz4::BlockSize::Max64KB, lz4::BlockMode::Linked, true);
        for hint in [0, 50_000, 1 << 20] {
            assert_eq!(decode(&f, data.len(), hint).unwrap().unwrap(), data);
            assert_eq!(decode(&f, data.len() - 1, hint).unwrap(), None);
            assert_eq!(decode(&f, 0, hint).unwrap(), None);
        }
        assert_eq!(
            decode(&frame(b"", lz4::BlockSize::Max64KB, lz4::BlockMode::Independent, false), 0, 0),
            Ok(Some(vec![]))
        );
    }

    #[test]
    fn refuses_truncated_corrupt_and_foreign_input() {
        let data = sample(200_000);
        let f = frame(&data, lz4::BlockSize::Max64KB, lz4::BlockMode::Independent, true);
        for cut in [0, 1, 4, 7, 100, f.len() / 2, f.len() - 1] {
            assert!(decode(&f[..cut], 1 << 20, 0).is_err(), "cut at {cut}");
        }
        let mut flipped = f.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(decode(&flipped, 1 << 20, 0).is_err(), "a flipped byte fails the block or content checksum");
        assert!(decode(b"definitely not an lz4 frame", 1 << 20, 0).is_err());
        let mut trailing = f.clone();
        trailing.extend_from_slice(b"after the end mark");
        assert_eq!(decode(&trailing, 1 << 20, 0).unwrap().unwrap(), data);
    }

    proptest! {
        /// Damaged frames (flipped bytes, cut anywhere) under any limit and hint: an error or an output within
        /// the limit, never a panic or an overrun (the decoder's bookkeeping asserts what liblz4 reports).
        #[test]
        fn damaged_frames_fail_cleanly_within_the_limit(
            len in 0usize..20_000,
            linked in any::<bool>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
            cut in any::<prop::sample::Index>(),
            limit in 0usize..30_000,
            hint in 0usize..40_000,
        ) {
            let data = sample(len);
            let mode = if linked { lz4::BlockMode::Linked } else { lz4::BlockMode::Independent };
            let mut f = frame(&data, lz4::BlockSize::Max64KB, mode, true);
            let intact = flips.is_empty();
            for (at, x) in &flips {
                let i = at.index(f.len());
                f[i] ^= x;
            }
            let keep = if intact { f.len() } else { cut.index(f.len() + 1) };
            match decode(&f[..keep], limit, hint) {
                Ok(Some(out)) => {
                    prop_assert!(out.len() <= limit);
                    if intact {
                        prop_assert!(out == data);
                    }
                }
                Ok(None) => prop_assert!(!intact || data.len() > limit),
                Err(_) => prop_assert!(!intact),
            }
        }
    }
}
