//! The share-partition state machine, one KIP-932 behaviour per test.

use weft_meta::{ShareEpochs, SharePartitionKey, ShareStateBatch};
use weft_share::{AckBatch, AcknowledgeType, AcquiredRange, AutoOffsetReset, RecordState, ShareConfig, SharePartition};

const ACCEPT: AcknowledgeType = AcknowledgeType::Accept;
const RELEASE: AcknowledgeType = AcknowledgeType::Release;
const REJECT: AcknowledgeType = AcknowledgeType::Reject;

fn range(first_offset: i64, last_offset: i64, delivery_count: i16) -> AcquiredRange {
    AcquiredRange { first_offset, last_offset, delivery_count }
}

fn ack(first: i64, last: i64, kind: AcknowledgeType) -> AckBatch {
    AckBatch { first, last, kind }
}

fn partition(max_in_flight: i64, delivery_count_limit: i16) -> SharePartition {
    SharePartition::new(ShareConfig { max_in_flight, delivery_count_limit, lock_duration_ms: 1000 }, 0)
}

#[test]
fn members_acquire_disjoint_records() {
    let mut p = partition(100, 5);
    assert_eq!(p.acquire("a", 0, 9, 4, 0), vec![range(0, 3, 1)]);
    assert_eq!(p.next_fetch_offset(), 4);
    assert_eq!(p.acquire("b", 4, 9, 100, 0), vec![range(4, 9, 1)]);
    assert!(p.acquire("c", 0, 9, 100, 0).is_empty(), "everything is held");
    assert_eq!(p.state_of(2), Some((RecordState::Acquired { member: "a".into(), deadline_ms: 1000 }, 1)));
    assert_eq!(p.in_flight().acquired, 10);
    assert_eq!(p.counters().acquired, 10);
    assert_eq!(p.next_lock_deadline(), Some(1000));
}

#[test]
fn the_in_flight_limit_bounds_new_records() {
    let mut p = partition(10, 5);
    assert_eq!(p.acquire("a", 0, 99, 500, 0), vec![range(0, 9, 1)]);
    assert!(!p.can_acquire());
    assert!(p.acquire("b", 10, 99, 500, 0).is_empty());
    p.acknowledge("a", &[ack(0, 2, ACCEPT)], 0).unwrap();
    assert_eq!(p.start_offset(), 3);
    assert!(p.can_acquire());
    assert_eq!(p.acquire("b", 10, 99, 500, 0), vec![range(10, 12, 1)], "room for as many as were finished");
}

#[test]
fn accepted_records_are_never_delivered_again() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 9, 100, 0);
    p.acknowledge("a", &[ack(0, 4, ACCEPT), ack(5, 9, RELEASE)], 0).unwrap();
    assert_eq!(p.start_offset(), 5);
    assert_eq!(p.acquire("b", 0, 9, 100, 10), vec![range(5, 9, 2)], "released ones come back, counted");
    assert_eq!(p.counters().redelivered, 5);
    assert_eq!(p.counters().acknowledged, 5);
    assert_eq!(p.counters().released, 5);
}

#[test]
fn release_is_immediate_and_reject_archives() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 5, 100, 0);
    p.acknowledge("a", &[ack(0, 1, REJECT), ack(2, 2, RELEASE), ack(3, 5, ACCEPT)], 0).unwrap();
    assert_eq!(p.start_offset(), 2, "rejected records are archived and the start moves past them");
    assert_eq!(p.next_fetch_offset(), 2);
    assert_eq!(p.acquire("b", 2, 5, 100, 1), vec![range(2, 2, 2)]);
    p.acknowledge("b", &[ack(2, 2, ACCEPT)], 1).unwrap();
    assert_eq!((p.start_offset(), p.end_offset()), (6, 6));
    assert_eq!(p.counters().rejected, 2);
    assert_eq!(p.counters().archived, 2);
}

#[test]
fn the_delivery_count_limit_archives_poison_records() {
    let mut p = partition(100, 2);
    p.acquire("a", 0, 0, 100, 0);
    p.acknowledge("a", &[ack(0, 0, RELEASE)], 0).unwrap();
    assert_eq!(p.acquire("a", 0, 0, 100, 0), vec![range(0, 0, 2)]);
    p.acknowledge("a", &[ack(0, 0, RELEASE)], 0).unwrap();
    assert_eq!(p.start_offset(), 1, "delivered twice: archived, never delivered a third time");
    assert!(p.acquire("b", 0, 0, 100, 0).is_empty());
    assert_eq!(p.counters().archived, 1);
}

#[test]
fn expired_locks_make_records_available_to_others() {
    let mut p = partition(100, 5);
    p.acquire("dead", 0, 4, 100, 0);
    assert!(p.acquire("b", 0, 4, 100, 999).is_empty(), "still locked");
    assert_eq!(p.acquire("b", 0, 4, 100, 1000), vec![range(0, 4, 2)], "lock expired at its deadline");
    assert_eq!(p.counters().lock_timeouts, 5);
    let late = p.acknowledge("dead", &[ack(0, 4, ACCEPT)], 1001).unwrap_err();
    assert_eq!(late.error_code(), 121, "{late}");
    assert_eq!(p.expire_locks(2000), 5);
    assert_eq!(p.state_of(0), Some((RecordState::Available, 2)));
}

#[test]
fn acknowledgements_are_checked_and_all_or_nothing() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 4, 100, 0);
    p.acquire("b", 5, 9, 100, 0);
    let other = p.acknowledge("a", &[ack(0, 1, ACCEPT), ack(5, 5, ACCEPT)], 0).unwrap_err();
    assert_eq!(other.error_code(), 121, "{other}");
    assert_eq!(p.start_offset(), 0, "the valid batch was not applied either");
    assert_eq!(p.acknowledge("a", &[ack(3, 20, ACCEPT)], 0).unwrap_err().error_code(), 42, "past the end");
    assert_eq!(p.acknowledge("a", &[ack(3, 4, ACCEPT), ack(0, 1, ACCEPT)], 0).unwrap_err().error_code(), 42);
    p.acknowledge("a", &[ack(0, 4, ACCEPT)], 0).unwrap();
    let again = p.acknowledge("a", &[ack(0, 4, ACCEPT)], 0).unwrap_err();
    assert_eq!(again.error_code(), 121, "below the start offset: {again}");
    p.acquire("b", 10, 10, 100, 0);
    p.acknowledge("b", &[ack(10, 10, ACCEPT)], 0).unwrap();
    let done = p.acknowledge("b", &[ack(9, 10, ACCEPT)], 0).unwrap_err();
    assert_eq!(done.error_code(), 121, "offset 10 is already acknowledged: {done}");
}

#[test]
fn a_member_leaving_releases_what_it_holds() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 4, 100, 0);
    p.acquire("b", 5, 9, 100, 0);
    assert_eq!(p.release_member("a"), 5);
    assert_eq!(p.release_member("a"), 0);
    assert_eq!(p.next_fetch_offset(), 0);
    assert_eq!(p.acquire("c", 0, 9, 100, 0), vec![range(0, 4, 2)]);
    assert_eq!(p.counters().released, 5);
}

#[test]
fn a_moved_log_start_archives_what_is_gone() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 9, 100, 0);
    p.log_start_moved(4);
    assert_eq!(p.start_offset(), 4);
    assert_eq!(p.counters().archived, 4);
    assert_eq!(p.acknowledge("a", &[ack(0, 3, ACCEPT)], 0).unwrap_err().error_code(), 121);
    p.acknowledge("a", &[ack(2, 9, ACCEPT)], 0).unwrap();
    assert_eq!(p.start_offset(), 10, "a batch reaching below the start acknowledges what is in flight");
    p.log_start_moved(50);
    assert_eq!((p.start_offset(), p.end_offset(), p.next_fetch_offset()), (50, 50, 50));
}

#[test]
fn offsets_the_log_skipped_are_gaps() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 1, 100, 0);
    assert_eq!(p.acquire("a", 5, 7, 100, 0), vec![range(5, 7, 1)]);
    assert_eq!(p.state_of(3), Some((RecordState::Archived, 0)));
    p.acknowledge("a", &[ack(0, 1, ACCEPT)], 0).unwrap();
    assert_eq!(p.start_offset(), 5, "the gap is passed with the head");
    p.acknowledge("a", &[ack(5, 5, AcknowledgeType::Gap)], 0).unwrap();
    assert_eq!(p.start_offset(), 6);
    assert_eq!(p.counters().archived, 0, "gaps are not records");
}

#[test]
fn reset_starts_over_anywhere() {
    let mut p = partition(100, 5);
    p.acquire("a", 0, 9, 100, 0);
    p.reset(3);
    assert_eq!((p.start_offset(), p.end_offset(), p.in_flight().acquired), (3, 3, 0));
    assert_eq!(p.acquire("a", 3, 4, 100, 0), vec![range(3, 4, 1)]);
    assert_eq!(AutoOffsetReset::Earliest.start_offset(7, 20), 7);
    assert_eq!(AutoOffsetReset::Latest.start_offset(7, 20), 20);
    assert_eq!(AutoOffsetReset::parse("earliest"), Some(AutoOffsetReset::Earliest));
    assert_eq!(AutoOffsetReset::parse("none"), None);
}

fn key() -> SharePartitionKey {
    SharePartitionKey { group: "g".into(), topic_id: uuid::Uuid::nil(), partition: 0 }
}

#[test]
fn the_stored_form_redelivers_what_was_acquired() {
    let mut p = partition(100, 3);
    p.acquire("a", 0, 9, 100, 0);
    p.acknowledge("a", &[ack(0, 1, ACCEPT), ack(3, 3, ACCEPT), ack(4, 4, REJECT), ack(5, 6, RELEASE)], 0).unwrap();
    let epochs = ShareEpochs { state_epoch: 2, leader_epoch: 7 };
    let record = p.to_record(key(), epochs);
    assert_eq!((record.start_offset, record.state_epoch, record.leader_epoch), (2, 2, 7));
    let b = |first_offset, last_offset, delivery_state, delivery_count| ShareStateBatch {
        first_offset,
        last_offset,
        delivery_state,
        delivery_count,
    };
    assert_eq!(record.batches, vec![b(2, 2, 0, 1), b(3, 3, 2, 1), b(4, 4, 4, 1), b(5, 9, 0, 1)]);
    let mut back = SharePartition::from_record(*p.config(), &record, 0).unwrap();
    assert_eq!((back.start_offset(), back.end_offset(), back.next_fetch_offset()), (2, 10, 2));
    assert_eq!(back.acquire("b", 2, 9, 100, 0), vec![range(2, 2, 2), range(5, 9, 2)]);
    // Loaded by a store whose limit is lower: delivered as often as allowed means archived.
    let strict = ShareConfig { delivery_count_limit: 1, ..*p.config() };
    let loaded = SharePartition::from_record(strict, &record, 0).unwrap();
    assert_eq!((loaded.start_offset(), loaded.end_offset()), (10, 10));
    // Loaded over a log whose start moved on.
    let trimmed = SharePartition::from_record(*p.config(), &record, 6).unwrap();
    assert_eq!(trimmed.start_offset(), 6);
}

#[test]
fn stored_gaps_are_records_never_delivered_and_bad_state_is_refused() {
    let mut record = partition(100, 5).to_record(key(), ShareEpochs { state_epoch: 0, leader_epoch: 0 });
    record.start_offset = 10;
    record.batches = vec![ShareStateBatch { first_offset: 12, last_offset: 13, delivery_state: 2, delivery_count: 1 }];
    let mut p = SharePartition::from_record(ShareConfig::default(), &record, 0).unwrap();
    assert_eq!(p.acquire("a", 10, 20, 100, 0), vec![range(10, 11, 1), range(14, 20, 1)]);
    for bad in [
        ShareStateBatch { first_offset: 5, last_offset: 6, delivery_state: 0, delivery_count: 1 },
        ShareStateBatch { first_offset: 12, last_offset: 11, delivery_state: 0, delivery_count: 1 },
        ShareStateBatch { first_offset: 12, last_offset: 12, delivery_state: 1, delivery_count: 1 },
        ShareStateBatch { first_offset: 12, last_offset: i64::MAX, delivery_state: 0, delivery_count: 1 },
    ] {
        record.batches = vec![bad];
        let err = SharePartition::from_record(ShareConfig::default(), &record, 0).unwrap_err();
        assert!(err.to_string().contains("is corrupt"), "{err}");
    }
    record.batches.clear();
    record.start_offset = -1;
    assert!(SharePartition::from_record(ShareConfig::default(), &record, 0).is_err(), "negative start");
}

#[test]
fn undeliverable_records_are_archived_after_acquisition() {
    let mut p = partition(100, 5);
    p.acquire("other", 0, 1, 100, 0);
    assert_eq!(p.acquire("a", 0, 9, 100, 0), vec![range(2, 9, 1)]);
    assert_eq!(p.archive_undeliverable("a", 0, 4), 3, "only what this member holds");
    assert_eq!(p.state_of(1), Some((RecordState::Acquired { member: "other".into(), deadline_ms: 1000 }, 1)));
    assert_eq!(p.state_of(3), Some((RecordState::Archived, 1)));
    p.acknowledge("other", &[ack(0, 1, ACCEPT)], 0).unwrap();
    assert_eq!(p.start_offset(), 5);
    assert_eq!(p.archive_undeliverable("a", 50, 60), 0);
    assert_eq!(p.counters().archived, 0);
}

#[test]
fn huge_budgets_and_ranges_do_not_overflow() {
    let mut p = partition(10, 5);
    assert_eq!(p.acquire("a", 0, i64::MAX, usize::MAX, 0), vec![range(0, 9, 1)]);
    p.release_member("a");
    assert_eq!(p.acquire("a", 0, i64::MAX, usize::MAX, i64::MAX - 1), vec![range(0, 9, 2)]);
    assert_eq!(p.next_lock_deadline(), Some(i64::MAX));
}
