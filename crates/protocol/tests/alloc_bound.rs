//! Decoding and validating a batch allocates in proportion to its bytes, never to a count inside them.
//! A counting allocator measures each thread's peak of live heap bytes (Rust allocations; the C codecs
//! allocate through their own malloc and are bounded by `MAX_DECOMPRESSED_BYTES` and their window limits).

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use weft_protocol::BatchHeader;
use weft_protocol::records::{MAX_DECOMPRESSED_BYTES, Mode, ValidateOptions, decode_records, validate_batch};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(n);
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap bytes `f` holds above what was live when it started.
fn peak_of(f: impl FnOnce()) -> isize {
    let start = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(start));
    f();
    PEAK.with(|p| p.get()) - start
}

fn varint(n: i64) -> Vec<u8> {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn batch(payload: &[u8], codec: i16, count: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0i64.to_be_bytes());
    out.extend(((49 + payload.len()) as i32).to_be_bytes());
    out.extend(0i32.to_be_bytes());
    out.push(2);
    out.extend(0u32.to_be_bytes());
    out.extend(codec.to_be_bytes());
    out.extend((count.max(1) - 1).to_be_bytes());
    out.extend(0i64.to_be_bytes());
    out.extend(0i64.to_be_bytes());
    out.extend((-1i64).to_be_bytes());
    out.extend((-1i16).to_be_bytes());
    out.extend((-1i32).to_be_bytes());
    out.extend(count.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn exercise(b: &[u8]) {
    let _ = decode_records(b);
    if let Ok(header) = BatchHeader::parse(b) {
        for mode in [Mode::Producer, Mode::Stored] {
            let opts = ValidateOptions {
                mode,
                keys_required: true,
                timestamp_bounds: Some((0, 1)),
                max_decompressed: MAX_DECOMPRESSED_BYTES,
            };
            let _ = validate_batch(b, &header, &opts);
        }
    }
}

/// What a batch of `len` bytes may cost: its records (each at least 7 bytes, a `Record` with its map is a
/// few hundred bytes, doubled by vector growth) plus the fixed buffers of the codecs.
fn bound(len: usize) -> isize {
    (len * 100 + (256 << 10)) as isize
}

#[test]
fn a_record_claiming_2_31_headers_costs_nothing() {
    let body = [vec![0u8, 0, 0], varint(1), b"k".to_vec(), varint(-1), varint(i32::MAX as i64)].concat();
    let record = [varint(body.len() as i64), body].concat();
    let b = batch(&record, 0, 1);
    let peak = peak_of(|| exercise(&b));
    assert!(peak < bound(b.len()), "peak {peak} bytes for a {}-byte batch", b.len());
}

#[test]
fn a_batch_claiming_millions_of_records_costs_its_bytes() {
    let record = [varint(6), vec![0, 0, 0, 1, 1, 0]].concat();
    // Compressed, so the header's count cannot be checked against the batch size before decompressing.
    let b = batch(&zstd::encode_all(&record[..], 1).expect("compress"), 4, 9_999_999);
    let peak = peak_of(|| exercise(&b));
    assert!(peak < bound(b.len()), "peak {peak}");
}

proptest! {
    #[test]
    fn arbitrary_batches_stay_within_the_bound(payload in proptest::collection::vec(any::<u8>(), 0..2048),
                                                codec in 0i16..4, count in 0i32..100_000) {
        let b = batch(&payload, codec, count);
        let peak = peak_of(|| exercise(&b));
        prop_assert!(peak < bound(b.len()), "peak {} for {} bytes", peak, b.len());
    }
}
