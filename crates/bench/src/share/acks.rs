//! What a share consumer sends back: acknowledgement ranges built offset by offset (contiguous offsets of
//! one partition and type joined, one type per range as librdkafka sends them), which acquired offsets the
//! returned record batches cover (the others are acknowledged as gaps), and which records the redelivery
//! option releases.

/// Acknowledgement types (KIP-932).
pub(crate) const GAP: i8 = 0;
pub(crate) const ACCEPT: i8 = 1;
pub(crate) const RELEASE: i8 = 2;

/// Offsets `first..=last` of `partition`, all acknowledged with `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ack {
    pub partition: i32,
    pub first: i64,
    pub last: i64,
    pub kind: i8,
}

impl Ack {
    pub(crate) fn len(&self) -> u64 {
        u64::try_from(self.last - self.first + 1).unwrap_or(0)
    }
}

/// Adds one offset, extending the last range when it continues it.
pub(crate) fn push(acks: &mut Vec<Ack>, partition: i32, offset: i64, kind: i8) {
    if let Some(last) = acks.last_mut()
        && last.partition == partition
        && last.kind == kind
        && last.last + 1 == offset
    {
        last.last = offset;
        return;
    }
    acks.push(Ack { partition, first: offset, last: offset, kind });
}

/// The (first, last) offsets of each complete v2 record batch in `records` (a partial last batch, which a
/// size limit may cut, is left out).
pub(crate) fn batch_spans(records: &[u8]) -> Vec<(i64, i64)> {
    const HEADER: usize = 61;
    let mut spans = Vec::new();
    let mut rest = records;
    while rest.len() >= HEADER {
        let base = i64::from_be_bytes(rest[0..8].try_into().unwrap_or_default());
        let length = i32::from_be_bytes(rest[8..12].try_into().unwrap_or_default());
        let Some(size) = usize::try_from(length).ok().and_then(|l| l.checked_add(12)) else { break };
        if size < HEADER || size > rest.len() {
            break;
        }
        let delta = i32::from_be_bytes(rest[23..27].try_into().unwrap_or_default());
        if rest[16] == 2 && delta >= 0 {
            spans.push((base, base.saturating_add(i64::from(delta))));
        }
        rest = &rest[size..];
    }
    spans
}

/// Whether `offset` lies in one of `spans`.
pub(crate) fn covered(spans: &[(i64, i64)], offset: i64) -> bool {
    spans.iter().any(|&(first, last)| (first..=last).contains(&offset))
}

/// Whether the redelivery option releases this record on its first delivery: `percent` of all records,
/// chosen by a hash of the position so every run releases the same ones.
pub(crate) fn releases(partition: i32, offset: i64, percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    let mut h = (offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(partition as u32);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    h % 100 < u64::from(percent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    fn batch(buf: &mut BytesMut, base: i64, count: i64) {
        let records: Vec<Record> = (0..count)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: base + i,
                sequence: -1,
                timestamp: 0,
                key: None,
                value: Some(bytes::Bytes::from_static(b"v")),
                headers: Default::default(),
            })
            .collect();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(buf, records.iter(), &options).unwrap();
    }

    #[test]
    fn spans_of_whole_batches_only() {
        let mut buf = BytesMut::new();
        batch(&mut buf, 5, 3);
        batch(&mut buf, 8, 1);
        batch(&mut buf, 9, 4);
        let spans = batch_spans(&buf);
        let offsets: Vec<i64> = spans.iter().flat_map(|&(f, l)| f..=l).collect();
        assert_eq!(offsets, (5..=12).collect::<Vec<i64>>());
        let cut = batch_spans(&buf[..buf.len() - 1]);
        assert_eq!(cut, spans[..spans.len() - 1], "a cut batch is left out");
        assert!(batch_spans(&[]).is_empty());
        assert!(batch_spans(&[0xff; 70]).is_empty(), "a negative length ends the walk");
        assert!(covered(&spans, 5) && covered(&spans, 12) && !covered(&spans, 4) && !covered(&spans, 13));
    }

    #[test]
    fn contiguous_offsets_of_one_type_join() {
        let mut acks = Vec::new();
        for (p, o, k) in
            [(0, 1, ACCEPT), (0, 2, ACCEPT), (0, 3, RELEASE), (0, 4, ACCEPT), (0, 6, ACCEPT), (1, 7, ACCEPT)]
        {
            push(&mut acks, p, o, k);
        }
        let ranges: Vec<(i32, i64, i64, i8)> = acks.iter().map(|a| (a.partition, a.first, a.last, a.kind)).collect();
        assert_eq!(
            ranges,
            vec![(0, 1, 2, ACCEPT), (0, 3, 3, RELEASE), (0, 4, 4, ACCEPT), (0, 6, 6, ACCEPT), (1, 7, 7, ACCEPT)]
        );
        assert_eq!(acks[0].len(), 2);
    }

    #[test]
    fn release_share_is_close_to_the_percentage() {
        assert!(!(0..1000).any(|o| releases(0, o, 0)));
        assert!((0..1000).all(|o| releases(0, o, 100)));
        let n = (0..10_000).filter(|&o| releases(3, o, 10)).count();
        assert!((800..1200).contains(&n), "{n}");
        assert_eq!(releases(1, 42, 50), releases(1, 42, 50));
    }
}
