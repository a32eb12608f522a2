//! `share.isolation.level=read_committed` for share partitions, as Kafka's `SharePartition` does it: records
//! are acquired only up to the last stable offset (the caller bounds the read), and the data batches of
//! aborted transactions among those acquired are archived at once and left out of the acquired ranges, so
//! no member ever sees them. Control batches (transaction markers) stay in the ranges: the client skips
//! them and acknowledges their offsets as gaps, as it does under read_uncommitted.

use bytes::Bytes;
use weft_meta::AbortedTxn;
use weft_share::AcquiredRange;

/// The offset ranges (first, last) of the data batches in `records` written by aborted transactions: a
/// transactional, non-control batch lies in an aborted transaction when one of `aborted` has its producer
/// and spans it (from the transaction's first offset to its abort marker).
pub fn aborted_batches(records: &Bytes, aborted: &[AbortedTxn]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    if aborted.is_empty() {
        return out;
    }
    let mut at = 0;
    while let Ok(h) = weft_protocol::BatchHeader::parse(&records[at..]) {
        at += h.size;
        if !h.is_transactional() || h.is_control() {
            continue;
        }
        let last = h.base_offset.saturating_add(i64::from(h.last_offset_delta));
        let in_aborted = aborted
            .iter()
            .any(|a| a.producer_id == h.producer_id && a.first_offset <= h.base_offset && last <= a.last_offset);
        if in_aborted {
            out.push((h.base_offset, last));
        }
    }
    out
}

/// `ranges` without the offsets of `removed` (both in offset order); delivery counts are kept.
pub fn without(ranges: &[AcquiredRange], removed: &[(i64, i64)]) -> Vec<AcquiredRange> {
    let mut out = Vec::with_capacity(ranges.len());
    for r in ranges {
        let mut from = r.first_offset;
        for &(a, b) in removed.iter().filter(|(a, b)| *b >= r.first_offset && *a <= r.last_offset) {
            if a > from {
                out.push(AcquiredRange { first_offset: from, last_offset: a - 1, ..*r });
            }
            from = from.max(b.saturating_add(1));
        }
        if from <= r.last_offset {
            out.push(AcquiredRange { first_offset: from, ..*r });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    /// One stored batch of `n` records at `base`, transactional for `producer` when it is not -1.
    fn batch(out: &mut bytes::BytesMut, base: i64, n: i64, producer: i64, control: bool) {
        let records: Vec<Record> = (base..base + n)
            .map(|o| Record {
                transactional: producer >= 0,
                control,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: producer,
                producer_epoch: if producer >= 0 { 0 } else { -1 },
                timestamp_type: TimestampType::Creation,
                offset: o,
                sequence: if producer >= 0 { (o - base) as i32 } else { -1 },
                timestamp: 0,
                key: None,
                value: Some(Bytes::from_static(b"v")),
                headers: Default::default(),
            })
            .collect();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(out, &records, &options).unwrap();
    }

    fn range(first_offset: i64, last_offset: i64, delivery_count: i16) -> AcquiredRange {
        AcquiredRange { first_offset, last_offset, delivery_count }
    }

    #[test]
    fn only_data_batches_of_aborted_transactions_are_found() {
        let mut b = bytes::BytesMut::new();
        batch(&mut b, 0, 2, -1, false); // plain
        batch(&mut b, 2, 3, 7, false); // aborted transaction of producer 7
        batch(&mut b, 5, 1, 7, true); // its abort marker
        batch(&mut b, 6, 2, 8, false); // producer 8, committed
        batch(&mut b, 8, 1, 8, true); // its commit marker
        let aborted = [AbortedTxn { producer_id: 7, first_offset: 2, last_offset: 5 }];
        assert_eq!(aborted_batches(&b.freeze(), &aborted), vec![(2, 4)]);
    }

    #[test]
    fn a_later_transaction_of_the_same_producer_is_not_aborted() {
        let mut b = bytes::BytesMut::new();
        batch(&mut b, 0, 2, 7, false);
        batch(&mut b, 2, 1, 7, true);
        batch(&mut b, 3, 2, 7, false);
        let aborted = [AbortedTxn { producer_id: 7, first_offset: 0, last_offset: 2 }];
        assert_eq!(aborted_batches(&b.freeze(), &aborted), vec![(0, 1)]);
        assert!(aborted_batches(&Bytes::new(), &aborted).is_empty());
    }

    #[test]
    fn removed_offsets_split_the_ranges() {
        let ranges = [range(0, 9, 1), range(12, 15, 2)];
        assert_eq!(without(&ranges, &[(2, 4), (9, 13)]), vec![range(0, 1, 1), range(5, 8, 1), range(14, 15, 2)]);
        assert_eq!(without(&ranges, &[]), ranges.to_vec());
        assert!(without(&ranges, &[(0, 20)]).is_empty());
    }
}
