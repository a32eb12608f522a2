//! Acknowledgements: the wire form ShareFetch and ShareAcknowledge carry (ranges of offsets, each with one
//! type or one type per offset) turned into [`AckBatch`]es of one type each, and their application to a
//! share partition, all or nothing, as Kafka's share-partition leader does.

use crate::runs::Run;
use crate::{AckError, RecordState, SharePartition};

/// What a consumer says about records it holds (Kafka's wire codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcknowledgeType {
    /// 0: offsets without a record (compacted away, control records); archived.
    Gap,
    /// 1: processed; acknowledged, never delivered again.
    Accept,
    /// 2: not processed; available again at once (archived past the delivery count limit).
    Release,
    /// 3: unprocessable; archived.
    Reject,
}

impl AcknowledgeType {
    /// The type of a wire code; INVALID_REQUEST for an unknown one.
    pub fn from_code(code: i8) -> Result<Self, AckError> {
        match code {
            0 => Ok(AcknowledgeType::Gap),
            1 => Ok(AcknowledgeType::Accept),
            2 => Ok(AcknowledgeType::Release),
            3 => Ok(AcknowledgeType::Reject),
            _ => Err(AckError::InvalidRequest { reason: format!("unknown acknowledge type {code}") }),
        }
    }
}

/// Offsets `first..=last`, all acknowledged with `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckBatch {
    pub first: i64,
    pub last: i64,
    pub kind: AcknowledgeType,
}

impl AckBatch {
    /// One wire acknowledgement batch: `types` holds one type for the whole range, or one per offset (runs of
    /// one type are joined). The per-offset form is bounded by the codes given, never by the range alone.
    pub fn from_wire(first: i64, last: i64, types: &[i8]) -> Result<Vec<AckBatch>, AckError> {
        if first < 0 || first > last {
            return Err(AckError::InvalidRequest { reason: format!("bad offset range {first}..={last}") });
        }
        match types {
            [one] => Ok(vec![AckBatch { first, last, kind: AcknowledgeType::from_code(*one)? }]),
            _ if i64::try_from(types.len()).ok() == last.checked_sub(first).and_then(|d| d.checked_add(1)) => {
                let mut out: Vec<AckBatch> = Vec::new();
                for (offset, code) in (first..=last).zip(types) {
                    let kind = AcknowledgeType::from_code(*code)?;
                    match out.last_mut() {
                        Some(prev) if prev.kind == kind => prev.last = offset,
                        _ => out.push(AckBatch { first: offset, last: offset, kind }),
                    }
                }
                Ok(out)
            }
            _ => Err(AckError::InvalidRequest {
                reason: format!("{} acknowledge types for offsets {first}..={last}", types.len()),
            }),
        }
    }
}

/// Every wire batch of one partition as [`AckBatch`]es, refused (INVALID_REQUEST) before any per-offset
/// expansion when a batch spans more than `max_in_flight` offsets or the batches would number more: valid
/// batches are disjoint and lie within the in-flight window, which never holds more offsets than that.
pub fn parse_batches<'a>(
    wire: impl IntoIterator<Item = (i64, i64, &'a [i8])>,
    max_in_flight: i64,
) -> Result<Vec<AckBatch>, AckError> {
    let max = usize::try_from(max_in_flight).unwrap_or(0);
    let mut out = Vec::new();
    for (first, last, types) in wire {
        let width = last.checked_sub(first).and_then(|d| d.checked_add(1)).unwrap_or(i64::MAX);
        if types.len() > 1 && width > max_in_flight {
            return Err(AckError::InvalidRequest {
                reason: format!("batch {first}..={last} spans more than the {max_in_flight} offsets in flight"),
            });
        }
        out.extend(AckBatch::from_wire(first, last, types)?);
        if out.len() > max {
            return Err(AckError::InvalidRequest {
                reason: format!("more than {max_in_flight} acknowledgement batches for one partition"),
            });
        }
    }
    Ok(out)
}

/// Checks that `batches` are well-formed ranges in ascending order without overlap.
pub(crate) fn check_order(batches: &[AckBatch]) -> Result<(), AckError> {
    let mut previous_last: Option<i64> = None;
    for b in batches {
        if b.first < 0 || b.first > b.last {
            return Err(AckError::InvalidRequest { reason: format!("bad offset range {}..={}", b.first, b.last) });
        }
        if previous_last.is_some_and(|p| b.first <= p) {
            return Err(AckError::InvalidRequest {
                reason: format!("batch {}..={} overlaps or precedes the one before", b.first, b.last),
            });
        }
        previous_last = Some(b.last);
    }
    Ok(())
}

impl SharePartition {
    /// Applies `member`'s acknowledgements at `now_ms` (expired locks are released first): ACCEPT
    /// acknowledges, RELEASE makes records available again (archived past the delivery count limit), REJECT
    /// and GAP archive. Every offset named at or above the start offset must be acquired by `member`
    /// (INVALID_RECORD_STATE otherwise); offsets past the end are INVALID_REQUEST. On any error nothing is
    /// applied. The start offset then moves past what is done.
    pub fn acknowledge(&mut self, member: &str, batches: &[AckBatch], now_ms: i64) -> Result<(), AckError> {
        self.expire_locks(now_ms);
        check_order(batches)?;
        for b in batches {
            self.check_acquired(member, b)?;
        }
        for b in batches {
            let lo = b.first.max(self.start);
            for key in self.runs.isolate(lo, b.last) {
                let Some(run) = self.runs.get_mut(key) else { continue };
                let (count, n) = (run.delivery_count, (run.last - key + 1) as u64);
                let state = match b.kind {
                    AcknowledgeType::Accept => {
                        self.counters.acknowledged += n;
                        RecordState::Acknowledged
                    }
                    AcknowledgeType::Release => {
                        self.counters.released += n;
                        self.config.released_state(count)
                    }
                    AcknowledgeType::Reject => {
                        self.counters.rejected += n;
                        RecordState::Archived
                    }
                    AcknowledgeType::Gap => RecordState::Archived,
                };
                if state == RecordState::Archived && b.kind != AcknowledgeType::Gap {
                    self.counters.archived += n;
                }
                if let Some(run) = self.runs.get_mut(key) {
                    run.state = state;
                }
            }
            self.runs.coalesce(lo, b.last);
        }
        self.advance_start();
        Ok(())
    }

    /// Whether every in-flight offset of `b` is acquired by `member`.
    fn check_acquired(&self, member: &str, b: &AckBatch) -> Result<(), AckError> {
        if b.last >= self.end {
            return Err(AckError::InvalidRequest {
                reason: format!(
                    "offsets {}..={} reach past the last acquired offset {}",
                    b.first,
                    b.last,
                    self.end - 1
                ),
            });
        }
        let refuse =
            |reason| AckError::InvalidRecordState { first: b.first, last: b.last, member: member.into(), reason };
        if b.last < self.start {
            return Err(refuse("they are below the share-partition start offset"));
        }
        for (_, Run { state, .. }) in self.runs.overlapping(b.first.max(self.start), b.last) {
            match state {
                RecordState::Acquired { member: holder, .. } if &**holder == member => {}
                RecordState::Acquired { .. } => return Err(refuse("another member holds some of them")),
                RecordState::Available => return Err(refuse("some are not acquired (lock expired or released)")),
                RecordState::Acknowledged | RecordState::Archived => {
                    return Err(refuse("some are already acknowledged or archived"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_batches_of_one_type_or_one_per_offset() {
        let one = AckBatch::from_wire(5, 9, &[1]).unwrap();
        assert_eq!(one, vec![AckBatch { first: 5, last: 9, kind: AcknowledgeType::Accept }]);
        let each = AckBatch::from_wire(5, 8, &[1, 1, 3, 0]).unwrap();
        assert_eq!(
            each,
            vec![
                AckBatch { first: 5, last: 6, kind: AcknowledgeType::Accept },
                AckBatch { first: 7, last: 7, kind: AcknowledgeType::Reject },
                AckBatch { first: 8, last: 8, kind: AcknowledgeType::Gap },
            ]
        );
        assert_eq!(AckBatch::from_wire(5, 8, &[1, 2]).unwrap_err().error_code(), 42, "wrong count");
        assert_eq!(AckBatch::from_wire(5, 4, &[1]).unwrap_err().error_code(), 42, "reversed");
        assert_eq!(AckBatch::from_wire(5, 5, &[9]).unwrap_err().error_code(), 42, "unknown type");
        assert!(AckBatch::from_wire(0, i64::MAX, &[1, 1]).is_err(), "no overflow on huge ranges");
    }

    #[test]
    fn wire_batches_wider_than_the_in_flight_window_are_refused_before_expansion() {
        let alternating: Vec<i8> = (0..10).map(|i| if i % 2 == 0 { 1 } else { 3 }).collect();
        let ok = parse_batches([(0, 9, alternating.as_slice())], 10).unwrap();
        assert_eq!(ok.len(), 10);
        let err = parse_batches([(0, 9, alternating.as_slice())], 9).unwrap_err();
        assert_eq!(err.error_code(), 42);
        // One type for a wide range expands to nothing more: allowed (offsets below the start are ignored).
        assert_eq!(parse_batches([(0, 1_000_000, &[1i8][..])], 9).unwrap().len(), 1);
        // Many small batches are bounded in total.
        let many: Vec<(i64, i64, &[i8])> = (0..11).map(|o| (o, o, &[1i8][..])).collect();
        assert_eq!(parse_batches(many, 10).unwrap_err().error_code(), 42);
    }

    #[test]
    fn batches_must_ascend_without_overlap() {
        let b = |first, last| AckBatch { first, last, kind: AcknowledgeType::Accept };
        assert!(check_order(&[b(1, 2), b(3, 5), b(9, 9)]).is_ok());
        assert!(check_order(&[b(1, 3), b(3, 5)]).is_err());
        assert!(check_order(&[b(4, 5), b(1, 2)]).is_err());
        assert!(check_order(&[b(-1, 2)]).is_err());
    }
}
