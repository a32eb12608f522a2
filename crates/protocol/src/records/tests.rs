use super::*;
use crate::batch::{BatchHeader, split_batches};
use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use proptest::prelude::*;
use std::io::Write;

pub(crate) fn varint(n: i64) -> Vec<u8> {
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

fn s(b: &[u8]) -> Option<&[u8]> {
    Some(b)
}

fn h<'a>(k: &'a [u8], v: Option<&'a [u8]>) -> (&'a [u8], Option<&'a [u8]>) {
    (k, v)
}

/// A record's bytes (length prefix included) from its raw body.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = varint(body.len() as i64);
    out.extend_from_slice(body);
    out
}

fn bytes_field(b: Option<&[u8]>) -> Vec<u8> {
    match b {
        None => varint(-1),
        Some(b) => [varint(b.len() as i64), b.to_vec()].concat(),
    }
}

/// A well-formed record body.
fn body(
    delta: i64,
    ts_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&[u8], Option<&[u8]>)],
) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend(varint(ts_delta));
    out.extend(varint(delta));
    out.extend(bytes_field(key));
    out.extend(bytes_field(value));
    out.extend(varint(headers.len() as i64));
    for (k, v) in headers {
        out.extend(bytes_field(Some(k)));
        out.extend(bytes_field(*v));
    }
    out
}

fn rec(delta: i64, key: Option<&[u8]>) -> Vec<u8> {
    framed(&body(delta, delta, key, s(b"value"), &[h(b"h", s(b"v"))]))
}

pub(crate) fn compress(codec: i16, raw: &[u8]) -> Vec<u8> {
    match codec {
        0 => raw.to_vec(),
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(raw).unwrap();
            e.finish().unwrap()
        }
        2 => snap::raw::Encoder::new().compress_vec(raw).unwrap(),
        3 => {
            let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
            e.write_all(raw).unwrap();
            let (out, r) = e.finish();
            r.unwrap();
            out
        }
        4 => zstd::encode_all(raw, 1).unwrap(),
        _ => raw.to_vec(),
    }
}

/// A producer batch around `payload` with a correct CRC.
pub(crate) fn raw_batch(
    payload: &[u8],
    attributes: i16,
    count: i32,
    last_delta: i32,
    base_ts: i64,
    max_ts: i64,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0i64.to_be_bytes());
    out.extend(((49 + payload.len()) as i32).to_be_bytes());
    out.extend(0i32.to_be_bytes());
    out.push(2);
    out.extend(0u32.to_be_bytes());
    out.extend(attributes.to_be_bytes());
    out.extend(last_delta.to_be_bytes());
    out.extend(base_ts.to_be_bytes());
    out.extend(max_ts.to_be_bytes());
    out.extend((-1i64).to_be_bytes());
    out.extend((-1i16).to_be_bytes());
    out.extend((-1i32).to_be_bytes());
    out.extend(count.to_be_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

const TS: i64 = 1_700_000_000_000;

fn opts() -> ValidateOptions {
    ValidateOptions {
        mode: Mode::Producer,
        keys_required: false,
        timestamp_bounds: None,
        max_decompressed: MAX_DECOMPRESSED_BYTES,
    }
}

fn check(batch: &[u8], o: &ValidateOptions) -> Result<BatchSummary, RecordsError> {
    let header = BatchHeader::parse_verified(batch).expect("valid header");
    validate_batch(batch, &header, o)
}

fn records_batch(records: &[Vec<u8>], codec: i16) -> Vec<u8> {
    let n = records.len() as i32;
    raw_batch(&compress(codec, &records.concat()), codec, n, n - 1, TS, TS + n as i64 - 1)
}

#[test]
fn every_codec_validates_and_summarises() {
    for codec in 0..=4 {
        let batch = records_batch(&[rec(0, s(b"a")), rec(1, None), rec(2, s(b"c"))], codec);
        let sum = check(&batch, &ValidateOptions { keys_required: true, ..opts() }).unwrap();
        assert_eq!(sum.record_count, 3, "codec {codec}");
        assert_eq!((sum.first_timestamp, sum.max_timestamp, sum.max_timestamp_delta), (TS, TS + 2, 2));
        assert_eq!(sum.keyless, vec![1]);
        assert!(sum.has_record_errors());
        let d = decode_records(&batch).unwrap();
        assert_eq!(d.records.len(), 3);
        assert_eq!(d.records[1].key, None);
        assert_eq!(d.records[2].headers.get(&StrBytes::from_static_str("h")), Some(&Some(Bytes::from_static(b"v"))));
    }
}

fn malformed(name: &str, records: Vec<u8>, count: i32, codec: i16) -> Result<BatchSummary, RecordsError> {
    let batch = raw_batch(&records, codec, count, count - 1, TS, TS);
    let r = BatchHeader::parse_verified(&batch)
        .map_err(RecordsError::from)
        .and_then(|header| validate_batch(&batch, &header, &opts()));
    assert!(r.is_err(), "{name} was accepted");
    // The stored-batch decoder refuses it too.
    assert!(decode_records(&batch).is_err(), "{name} was decoded");
    r
}

#[test]
fn refused_records_are_counted_but_listed_only_up_to_the_cap() {
    let n = MAX_LISTED_RECORD_ERRORS + 500;
    let payload: Vec<u8> = (0..n).flat_map(|i| rec(i as i64, None)).collect();
    let batch = raw_batch(&payload, 0, n as i32, n as i32 - 1, TS, TS);
    let o = ValidateOptions { keys_required: true, timestamp_bounds: Some((TS + 1, TS + 10)), ..opts() };
    let summary = check(&batch, &o).expect("structurally valid");
    assert_eq!(summary.rejected as usize, n, "every refused record is counted once");
    assert_eq!(summary.keyless.len(), MAX_LISTED_RECORD_ERRORS);
    assert_eq!(summary.timestamp_violations.len(), MAX_LISTED_RECORD_ERRORS);
    assert!(summary.has_record_errors());
}

#[test]
fn an_empty_producer_batch_is_refused() {
    let batch = raw_batch(&[], 0, 0, 0, TS, TS);
    assert_eq!(check(&batch, &opts()).map(|_| ()), Err(RecordsError::NoRecords));
    let header = BatchHeader::parse_verified(&batch).expect("valid header");
    let stored = ValidateOptions { mode: Mode::Stored, ..opts() };
    assert!(validate_batch(&batch, &header, &stored).is_ok(), "log compaction may leave empty batches");
}

#[test]
fn malformed_records_are_refused() {
    let good = body(0, 0, s(b"k"), s(b"v"), &[]);
    // Record length past the end.
    let mut past = varint(good.len() as i64 + 5);
    past.extend(&good);
    assert!(matches!(malformed("length past end", past, 1, 0), Err(RecordsError::Truncated { index: 0, .. })));
    // Negative key / value lengths other than -1.
    let neg_key = [vec![0, 0, 0], varint(-2), bytes_field(s(b"v")), varint(0)].concat();
    assert!(matches!(
        malformed("key -2", framed(&neg_key), 1, 0),
        Err(RecordsError::BadLength { field: "key", value: -2, .. })
    ));
    let neg_value = [vec![0, 0, 0], bytes_field(s(b"k")), varint(-5), varint(0)].concat();
    assert!(matches!(
        malformed("value -5", framed(&neg_value), 1, 0),
        Err(RecordsError::BadLength { field: "value", .. })
    ));
    // A header count that disagrees with the headers present.
    let mut two_headers = body(0, 0, s(b"k"), None, &[h(b"a", None)]);
    let at = two_headers.len() - 4; // header count byte: key len, 'a', value len follow
    two_headers[at] = varint(2)[0];
    assert!(malformed("header count 2 with 1 header", framed(&two_headers), 1, 0).is_err());
    let huge = [vec![0, 0, 0], bytes_field(s(b"k")), bytes_field(None), varint(i32::MAX as i64)].concat();
    assert!(matches!(malformed("header count 2^31-1", framed(&huge), 1, 0), Err(RecordsError::HeaderCount { .. })));
    let null_header_key =
        [vec![0, 0, 0], bytes_field(None), bytes_field(None), varint(1), varint(-1), varint(-1)].concat();
    assert!(matches!(
        malformed("null header key", framed(&null_header_key), 1, 0),
        Err(RecordsError::BadLength { field: "header key", .. })
    ));
    // Offset deltas that are not the record indices.
    assert!(matches!(
        malformed("deltas 0,0", [rec(0, None), rec(0, None)].concat(), 2, 0),
        Err(RecordsError::OffsetDelta { index: 1, delta: 0, .. })
    ));
    assert!(malformed("deltas 0,2", [rec(0, None), rec(2, None)].concat(), 2, 0).is_err());
    // Record count disagreeing with the records present, and trailing bytes.
    assert!(matches!(
        malformed("count 2 of 1", rec(0, None), 2, 0),
        Err(RecordsError::CountMismatch { declared: 2, found: 1 })
    ));
    assert!(malformed("trailing byte", [rec(0, None), vec![0]].concat(), 1, 0).is_err());
    assert!(malformed("trailing bytes", [rec(0, None), vec![1, 2, 3]].concat(), 1, 0).is_err());
    // A record whose fields end before its declared length, and zero/negative lengths.
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        malformed("fields shorter than length", framed(&long), 1, 0),
        Err(RecordsError::LengthMismatch { .. })
    ));
    let zero = [varint(0), vec![0; 8]].concat();
    assert!(matches!(malformed("length 0", zero, 1, 0), Err(RecordsError::BadLength { field: "record", .. })));
    assert!(malformed("length -3", [varint(-3), good.clone()].concat(), 1, 0).is_err());
    let long_varint = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0];
    assert!(matches!(malformed("varint too long", long_varint, 1, 0), Err(RecordsError::VarintTooLong { .. })));
    // Undecodable payloads of every codec, and unknown codecs.
    for codec in 1..=4 {
        let r = malformed("garbage payload", b"\x00\x01definitely not compressed data".to_vec(), 1, codec);
        assert!(r.unwrap_err().is_payload_error(), "codec {codec}");
        let mut truncated = compress(codec, &rec(0, None));
        truncated.truncate(truncated.len() - 3);
        assert!(malformed("truncated payload", truncated, 1, codec).is_err(), "codec {codec}");
    }
    for codec in 5..=7 {
        assert_eq!(malformed("unknown codec", rec(0, None), 1, codec), Err(RecordsError::UnknownCodec { codec }));
    }
}

#[test]
fn decompression_is_bounded() {
    let big = vec![0u8; 4096];
    for codec in 1..=4 {
        let c = compress(codec, &big);
        let r = decompress(codec, &c, 1000);
        assert!(matches!(r, Err(RecordsError::TooLarge { .. })), "codec {codec}: {r:?}");
        assert_eq!(decompress(codec, &compress(codec, &big), 4096).unwrap().len(), 4096);
    }
    // A raw snappy block declaring 4 GiB is refused before anything is allocated.
    let mut claim = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    claim.extend([0u8; 8]);
    assert!(matches!(decompress(2, &claim, MAX_DECOMPRESSED_BYTES), Err(RecordsError::TooLarge { .. })));
    // A real bomb: 1 GiB of zeros in a ~40 KiB zstd frame.
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&chunk).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    assert!(matches!(
        decompress(4, &bomb, MAX_DECOMPRESSED_BYTES),
        Err(RecordsError::TooLarge { limit: MAX_DECOMPRESSED_BYTES, .. })
    ));
}

#[test]
fn xerial_snappy_as_java_and_kafka_python_write_it() {
    let records = [rec(0, s(b"a")), rec(1, s(b"b"))].concat();
    let mut framed_payload = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    for block in records.chunks(7) {
        let c = snap::raw::Encoder::new().compress_vec(block).unwrap();
        framed_payload.extend((c.len() as u32).to_be_bytes());
        framed_payload.extend(c);
    }
    let batch = raw_batch(&framed_payload, 2, 2, 1, TS, TS + 1);
    assert_eq!(check(&batch, &opts()).unwrap().record_count, 2);
    let mut cut = framed_payload.clone();
    cut.truncate(cut.len() - 2);
    assert!(check(&raw_batch(&cut, 2, 2, 1, TS, TS + 1), &opts()).is_err());
}

#[test]
fn max_timestamp_comes_from_the_records_and_is_rewritten() {
    // Sarama 1.22 writes -1 as the header's max timestamp.
    let recs = [
        framed(&body(0, 5, s(b"a"), None, &[])),
        framed(&body(1, 9, s(b"b"), None, &[])),
        framed(&body(2, 9, s(b"c"), None, &[])),
    ];
    let mut batch = raw_batch(&recs.concat(), 0, 3, 2, TS, -1);
    let sum = check(&batch, &opts()).unwrap();
    assert_eq!((sum.max_timestamp, sum.max_timestamp_delta, sum.first_timestamp), (TS + 9, 1, TS + 5));
    assert!(set_create_time_max_timestamp(&mut batch, sum.max_timestamp).unwrap());
    let h = BatchHeader::parse_verified(&batch).expect("crc recomputed");
    assert_eq!(h.max_timestamp, TS + 9);
    assert!(!set_create_time_max_timestamp(&mut batch, sum.max_timestamp).unwrap(), "already right");
    // A LogAppendTime flag from a producer is cleared on CreateTime topics, as Kafka does.
    let mut lat = raw_batch(&recs.concat(), 0x08, 3, 2, TS, TS + 9);
    assert!(set_create_time_max_timestamp(&mut lat, TS + 9).unwrap());
    assert_eq!(BatchHeader::parse_verified(&lat).unwrap().attributes & 0x08, 0);
}

#[test]
fn timestamp_bounds_apply_per_record() {
    let recs = [
        framed(&body(0, 0, s(b"a"), None, &[])),
        framed(&body(1, -100, s(b"b"), None, &[])),
        framed(&body(2, 500, s(b"c"), None, &[])),
    ];
    let batch = raw_batch(&recs.concat(), 0, 3, 2, TS, TS + 500);
    let sum = check(&batch, &ValidateOptions { timestamp_bounds: Some((TS - 10, TS + 10)), ..opts() }).unwrap();
    assert_eq!(sum.timestamp_violations, vec![(1, TS - 100), (2, TS + 500)]);
    // Records without a timestamp (-1) are exempt.
    let none = raw_batch(&framed(&body(0, 0, s(b"a"), None, &[])), 0, 1, 0, -1, -1);
    assert!(
        check(&none, &ValidateOptions { timestamp_bounds: Some((TS - 10, TS + 10)), ..opts() })
            .unwrap()
            .timestamp_violations
            .is_empty()
    );
}

fn record(offset: i64, key: Option<&str>, value: Option<&str>, headers: &[(&str, Option<&str>)]) -> Record {
    let mut h = IndexMap::new();
    for (k, v) in headers {
        h.insert(StrBytes::from_string(k.to_string()), v.map(|v| Bytes::from(v.to_string())));
    }
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32 - 1,
        timestamp: TS + offset * 3,
        key: key.map(|k| Bytes::from(k.to_string())),
        value: value.map(|v| Bytes::from(v.to_string())),
        headers: h,
    }
}

fn encode(records: &[Record], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, records.iter(), &RecordEncodeOptions { version: 2, compression }).unwrap();
    buf.freeze()
}

#[test]
fn round_trips_with_the_kafka_protocol_encoder() {
    let recs = vec![
        record(0, Some("k0"), Some("v0"), &[("a", Some("1")), ("b", None)]),
        record(1, None, Some(""), &[]),
        record(2, Some(""), None, &[("", Some(""))]),
    ];
    for compression in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
    {
        let batch = encode(&recs, compression);
        let d = decode_records(&batch).unwrap();
        assert_eq!(d.records, recs, "{compression:?}");
        assert_eq!(d.compression, compression);
        let (header, _) = split_batches(&batch).unwrap().remove(0);
        let sum = validate_batch(&batch, &header, &opts()).unwrap();
        assert_eq!((sum.record_count, sum.max_timestamp), (3, header.max_timestamp));
    }
}

proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..512), codec in 0i16..8, count in 0i32..50) {
        let batch = raw_batch(&payload, codec, count, count.max(1) - 1, TS, TS);
        if let Ok(header) = BatchHeader::parse_verified(&batch) {
            let _ = validate_batch(&batch, &header, &opts());
            let _ = validate_batch(&batch, &header, &ValidateOptions { mode: Mode::Stored, keys_required: true, timestamp_bounds: Some((0, 1)), ..opts() });
        }
        let _ = decode_records(&batch);
    }

    #[test]
    fn mutated_batches_never_panic(recs in proptest::collection::vec((any::<Option<Vec<u8>>>(), any::<Option<Vec<u8>>>()), 1..6),
                                   flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
                                   codec in 0i16..5) {
        let raw: Vec<Vec<u8>> = recs.iter().enumerate()
            .map(|(i, (k, v))| framed(&body(i as i64, 0, k.as_deref(), v.as_deref(), &[h(b"h", v.as_deref())])))
            .collect();
        let mut payload = compress(codec, &raw.concat());
        for (at, byte) in &flips {
            let i = at.index(payload.len());
            payload[i] ^= byte;
        }
        let n = raw.len() as i32;
        let batch = raw_batch(&payload, codec, n, n - 1, TS, TS);
        if let Ok(header) = BatchHeader::parse_verified(&batch) {
            let ok = validate_batch(&batch, &header, &opts());
            if flips.is_empty() {
                prop_assert!(ok.is_ok());
            }
        }
        let d = decode_records(&batch);
        if flips.is_empty() {
            let d = d.unwrap();
            prop_assert_eq!(d.records.len(), recs.len());
            for (r, (k, v)) in d.records.iter().zip(&recs) {
                prop_assert_eq!(r.key.as_deref(), k.as_deref());
                prop_assert_eq!(r.value.as_deref(), v.as_deref());
            }
        }
    }
}
