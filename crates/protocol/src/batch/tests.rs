use super::*;
use bytes::BytesMut;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use proptest::prelude::*;

pub(crate) fn encode(values: &[&[u8]], compression: Compression) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_000 + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions { version: 2, compression };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &opts).expect("encode");
    buf.freeze()
}

#[test]
fn parses_a_client_batch() {
    let batch = encode(&[b"a", b"bb", b"ccc"], Compression::None);
    let h = BatchHeader::parse_verified(&batch).unwrap();
    assert_eq!(h.size, batch.len());
    assert_eq!(h.record_count, 3);
    assert_eq!(h.last_offset_delta, 2);
    assert_eq!(h.base_timestamp, 1_000);
    assert_eq!(h.max_timestamp, 1_002);
    assert_eq!(h.offset_span(), 3);
    assert_eq!(h.compression(), 0);
}

#[test]
fn crc_mismatch_is_detected() {
    let mut batch = BytesMut::from(&encode(&[b"hello"], Compression::None)[..]);
    let last = batch.len() - 1;
    batch[last] ^= 0xff;
    assert!(matches!(BatchHeader::parse_verified(&batch), Err(BatchError::CrcMismatch { .. })));
}

#[test]
fn patching_keeps_the_crc_valid() {
    let mut batch = BytesMut::from(&encode(&[b"x", b"y"], Compression::Lz4)[..]);
    patch_batch(&mut batch, 4242, 7);
    let h = BatchHeader::parse_verified(&batch).unwrap();
    assert_eq!(h.base_offset, 4242);
    assert_eq!(h.compression(), 3);
}

#[test]
fn old_magic_is_refused() {
    let mut batch = BytesMut::from(&encode(&[b"x"], Compression::None)[..]);
    batch[16] = 1;
    assert_eq!(BatchHeader::parse(&batch), Err(BatchError::UnsupportedMagic { magic: 1 }));
}

#[test]
fn split_finds_every_batch() {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&encode(&[b"a"], Compression::None));
    buf.extend_from_slice(&encode(&[b"b", b"c"], Compression::Gzip));
    let batches = split_batches(&buf.freeze()).unwrap();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[1].0.record_count, 2);
}

proptest! {
    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = BatchHeader::parse_verified(&data);
        let _ = split_batches(&Bytes::from(data));
    }

    #[test]
    fn truncation_is_an_error(cut in 0usize..60) {
        let batch = encode(&[b"some value"], Compression::None);
        let cut = cut.min(batch.len() - 1);
        prop_assert!(split_batches(&batch.slice(..cut)).is_err() || cut == 0);
    }
}

#[test]
fn implausible_record_counts_are_refused() {
    // A valid CRC does not make a count believable: decoders reserve memory from it.
    let reseal = |b: &mut BytesMut| {
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
    };
    let mut batch = BytesMut::from(&encode(&[b"v"], Compression::None)[..]);
    batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    reseal(&mut batch);
    assert!(matches!(BatchHeader::parse_verified(&batch), Err(BatchError::BadCount { .. })));
    let mut batch = BytesMut::from(&encode(&[b"a", b"b"], Compression::None)[..]);
    batch[57..61].copy_from_slice(&3i32.to_be_bytes());
    reseal(&mut batch);
    assert!(
        matches!(BatchHeader::parse_verified(&batch), Err(BatchError::BadCount { .. })),
        "count must match offsets"
    );
}
