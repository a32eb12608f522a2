use super::*;
use proptest::prelude::*;

fn sample() -> Bytes {
    let mut b = SegmentBuilder::new();
    b.push([1; 16], 0, b"first batch");
    b.push([2; 16], 7, b"second");
    b.finish()
}

#[test]
fn round_trip() {
    let obj = sample();
    let entries = read_entries(&obj).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].partition, 7);
    let r = &entries[0].range;
    assert_eq!(&obj[r.start as usize..r.end as usize], b"first batch");
}

#[test]
fn golden_v1_layout_is_stable() {
    let golden = include_bytes!("../tests/golden/segment-v1.bin");
    assert_eq!(&sample()[..], &golden[..], "segment v1 layout changed: bump SEGMENT_VERSION instead");
    assert_eq!(read_entries(golden).unwrap().len(), 2);
}

#[test]
fn the_buffer_size_never_changes_the_bytes() {
    for capacity in [0, 16, 100, 64 * 1024, 1 << 20] {
        let mut b = SegmentBuilder::with_capacity(capacity);
        b.push([1; 16], 0, b"first batch");
        b.push([2; 16], 7, b"second");
        assert_eq!(b.finish(), sample(), "capacity {capacity}");
    }
}

#[test]
fn corrupt_entries_are_detected() {
    let mut obj = sample().to_vec();
    let at = obj.len() - TRAILER_LEN - 3;
    obj[at] ^= 1;
    assert!(matches!(read_entries(&obj), Err(FormatError::CrcMismatch { .. })));
}

#[test]
fn future_versions_are_refused() {
    let mut obj = sample().to_vec();
    obj[9] = 9;
    assert_eq!(read_entries(&obj), Err(FormatError::UnsupportedVersion { version: 9 }));
}

proptest! {
    #[test]
    fn decoding_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = read_entries(&data);
    }

    #[test]
    fn any_built_segment_reads_back(batches in proptest::collection::vec((any::<[u8;16]>(), 0i32..100, proptest::collection::vec(any::<u8>(), 0..64)), 0..20)) {
        let mut b = SegmentBuilder::new();
        let mut ranges = Vec::new();
        for (t, p, data) in &batches {
            ranges.push(b.push(*t, *p, data));
        }
        let obj = b.finish();
        let entries = read_entries(&obj).unwrap();
        prop_assert_eq!(entries.len(), batches.len());
        for ((e, r), (t, p, data)) in entries.iter().zip(&ranges).zip(&batches) {
            prop_assert_eq!(&e.range, r);
            prop_assert_eq!(&e.topic_id, t);
            prop_assert_eq!(e.partition, *p);
            prop_assert_eq!(&obj[r.start as usize..r.end as usize], &data[..]);
        }
    }
}

#[test]
fn a_builder_sized_for_its_batches_never_grows() {
    let batches: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; 1000 + i * 10]).collect();
    let body = batches.iter().map(Vec::len).sum();
    let mut builder = SegmentBuilder::for_batches(body, batches.len());
    let (start, room) = (builder.buf.as_ptr(), builder.buf.capacity());
    for b in &batches {
        builder.push([1; 16], 0, b);
    }
    let object = builder.finish();
    assert_eq!(object.as_ptr(), start, "never moved");
    assert!(object.len() <= room && room - object.len() < BLOCK, "{} bytes in {room}", object.len());
}

#[test]
fn a_segment_starts_on_a_block_boundary_whatever_its_capacity() {
    for capacity in [0, 1, 100, 1024, 64 * 1024, 1 << 20] {
        let mut b = SegmentBuilder::with_capacity(capacity);
        b.push([1; 16], 0, b"batch bytes");
        let object = b.finish();
        // A builder given too little room grows, and may then start anywhere (it is still a segment).
        if capacity >= 1024 {
            assert_eq!(object.as_ptr() as usize % BLOCK, 0, "capacity {capacity}");
        }
        assert_eq!(read_entries(&object).unwrap().len(), 1);
    }
}
