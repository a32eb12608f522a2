use super::*;
use std::sync::atomic::Ordering;
use weft_clock::ManualClock;

const TOPIC: Uuid = Uuid::from_u128(7);

fn tail() -> (IndexTail, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    clock.0.store(1_000, Ordering::SeqCst);
    (IndexTail::new(clock.clone(), Duration::from_millis(500)), clock)
}

/// A batch of `count` offsets from `base`, stored at `byte_start` with 100 bytes per offset.
fn batch(partition: i32, base: i64, count: i64, byte_start: u64) -> TailBatch {
    TailBatch {
        topic_id: TOPIC,
        partition,
        base_offset: base,
        last_offset: base + count - 1,
        max_timestamp: base * 10,
        byte_start,
        byte_len: (count * 100) as u32,
    }
}

fn offsets(rows: &[BatchRef]) -> Vec<(i64, i64)> {
    rows.iter().map(|r| (r.base_offset, r.last_offset)).collect()
}

#[test]
fn a_read_inside_the_run_lists_rows_from_the_batch_holding_the_offset() {
    let (tail, _) = tail();
    tail.record("seg-a", [batch(0, 0, 5, 0), batch(1, 0, 2, 500)]);
    tail.record("seg-b", [batch(0, 5, 5, 0)]);
    let rows = tail.read(TOPIC, 0, 3, u64::MAX, 100).expect("covered");
    assert_eq!(offsets(&rows), [(0, 4), (5, 9)]);
    assert_eq!((rows[0].object_key.as_str(), rows[1].object_key.as_str()), ("seg-a", "seg-b"));
    assert_eq!((rows[1].byte_start, rows[1].byte_len, rows[1].max_timestamp), (0, 500, 50));
    assert_eq!(offsets(&tail.read(TOPIC, 0, 9, u64::MAX, 100).expect("covered")), [(5, 9)]);
    assert_eq!(offsets(&tail.read(TOPIC, 1, 1, u64::MAX, 100).expect("covered")), [(0, 1)]);
    assert_eq!(tail.len(), 3);
}

#[test]
fn offsets_outside_the_run_go_to_the_metastore() {
    let (tail, _) = tail();
    tail.record("seg-a", [batch(0, 10, 5, 0)]);
    assert!(tail.read(TOPIC, 0, 9, u64::MAX, 100).is_none(), "before the run");
    assert!(tail.read(TOPIC, 0, 15, u64::MAX, 100).is_none(), "at the end: nothing committed here yet");
    assert!(tail.read(TOPIC, 1, 10, u64::MAX, 100).is_none(), "another partition");
    assert!(tail.read(Uuid::from_u128(8), 0, 10, u64::MAX, 100).is_none(), "another topic");
}

#[test]
fn a_gap_starts_a_new_run_so_no_batch_written_elsewhere_is_hidden() {
    let (tail, _) = tail();
    tail.record("seg-a", [batch(0, 0, 5, 0)]);
    // Offsets 5..8 were written by another agent; this one's next batch starts at 8.
    tail.record("seg-b", [batch(0, 8, 2, 0)]);
    assert!(tail.read(TOPIC, 0, 2, u64::MAX, 100).is_none(), "the old run was dropped");
    assert!(tail.read(TOPIC, 0, 5, u64::MAX, 100).is_none(), "the gap is not the tail's");
    assert_eq!(offsets(&tail.read(TOPIC, 0, 8, u64::MAX, 100).expect("covered")), [(8, 9)]);
    assert_eq!(tail.len(), 1);
}

#[test]
fn reads_stop_at_the_byte_and_batch_bounds_but_hold_one_batch() {
    let (tail, _) = tail();
    tail.record("seg", (0..4).map(|i| batch(0, i * 10, 10, i as u64 * 1000)));
    assert_eq!(offsets(&tail.read(TOPIC, 0, 0, 2_500, 100).expect("covered")), [(0, 9), (10, 19)]);
    assert_eq!(offsets(&tail.read(TOPIC, 0, 0, 10, 100).expect("covered")), [(0, 9)], "one batch over the bytes");
    assert_eq!(offsets(&tail.read(TOPIC, 0, 0, u64::MAX, 3).expect("covered")).len(), 3);
    assert_eq!(offsets(&tail.read(TOPIC, 0, 0, u64::MAX, 0).expect("covered")).len(), 1, "at least one");
}

#[test]
fn rows_past_their_age_are_not_served() {
    let (tail, clock) = tail();
    tail.record("old", [batch(0, 0, 5, 0)]);
    clock.0.store(1_400, Ordering::SeqCst);
    tail.record("new", [batch(0, 5, 5, 0)]);
    clock.0.store(1_501, Ordering::SeqCst);
    assert!(tail.read(TOPIC, 0, 0, u64::MAX, 100).is_none(), "the old row expired");
    assert_eq!(offsets(&tail.read(TOPIC, 0, 5, u64::MAX, 100).expect("young")), [(5, 9)]);
    clock.0.store(1_901, Ordering::SeqCst);
    assert!(tail.read(TOPIC, 0, 5, u64::MAX, 100).is_none());
}

#[test]
fn a_zero_age_keeps_nothing() {
    let tail = IndexTail::new(Arc::new(ManualClock::default()), Duration::ZERO);
    tail.record("seg", [batch(0, 0, 5, 0)]);
    assert!(tail.is_empty());
    assert!(tail.read(TOPIC, 0, 0, u64::MAX, 100).is_none());
}

#[test]
fn memory_is_bounded_per_partition_and_in_all() {
    let (tail, clock) = tail();
    let n = MAX_ROWS_PER_PARTITION as i64 + 10;
    tail.record("seg", (0..n).map(|i| batch(0, i, 1, 0)));
    assert_eq!(tail.len(), MAX_ROWS_PER_PARTITION);
    assert!(tail.read(TOPIC, 0, 0, u64::MAX, 100).is_none(), "the oldest rows were dropped");
    assert!(tail.read(TOPIC, 0, n - 1, u64::MAX, 100).is_some());

    // Old rows are swept when the total passes the bound; young ones stay.
    clock.0.store(2_000, Ordering::SeqCst);
    let partitions = (MAX_ROWS / MAX_ROWS_PER_PARTITION) as i32;
    for p in 1..=partitions {
        tail.record("seg", (0..MAX_ROWS_PER_PARTITION as i64).map(|i| batch(p, i, 1, 0)));
    }
    assert!(tail.len() <= MAX_ROWS, "{} rows", tail.len());
    assert!(tail.read(TOPIC, partitions, 0, u64::MAX, 1).is_some(), "the newest partition is kept");

    // All expired-free and still too many: the older half goes first.
    clock.0.store(2_300, Ordering::SeqCst);
    tail.record("seg", (0..MAX_ROWS_PER_PARTITION as i64).map(|i| batch(partitions + 1, i, 1, 0)));
    assert_eq!(tail.len(), MAX_ROWS_PER_PARTITION, "only the rows younger than half the age are left");
    assert!(tail.read(TOPIC, partitions + 1, 0, u64::MAX, 1).is_some());
    assert!(tail.read(TOPIC, partitions, 0, u64::MAX, 1).is_none());

    // Everything committed at once and still too many: the tail empties rather than grow.
    let all = (0..=partitions).flat_map(|p| (0..MAX_ROWS_PER_PARTITION as i64).map(move |i| batch(p + 1000, i, 1, 0)));
    tail.record("seg", all);
    assert!(tail.len() <= MAX_ROWS, "{} rows", tail.len());
}
