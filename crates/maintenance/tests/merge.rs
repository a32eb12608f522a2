//! Object compaction and garbage collection: every record stays readable at its offset, and a crash
//! (a failed object-store operation, before or after it takes effect) at any step loses or duplicates
//! nothing and leaves no garbage behind once the jobs run again.

mod common;

use common::{Fixture, fixture, produce, read_all, topic};
use weft_maintenance::gc;
use weft_maintenance::merge::{MergeLimits, merge_partition};
use weft_meta::Topic;
use weft_storage::{FaultMode, keys};

const LIMITS: MergeLimits = MergeLimits { target_bytes: 1 << 20, min_batches: 2, min_age_ms: 0, max_rows: 1000 };

/// Twelve flush segments, each with a batch for both partitions.
async fn seed(f: &Fixture) -> Topic {
    let t = topic(f, "merge", 2).await;
    for i in 0..12i64 {
        let rec = |p: i32| (Some(format!("k{p}-{i}")), Some(format!("v{p}-{i}")), 1000 + i);
        produce(f, &t, 1000 + i, i as u64, &[(0, vec![rec(0), rec(0)]), (1, vec![rec(1)])]).await;
    }
    t
}

/// Merges both partitions, then collects garbage with no grace period.
async fn run_jobs(f: &Fixture, t: &Topic, now: i64) -> weft_maintenance::Result<()> {
    for p in 0..2 {
        merge_partition(f.meta.as_ref(), &f.storage, t.id, p, 0, LIMITS, now, 7 + p as u64).await?;
    }
    gc::collect_dead(f.meta.as_ref(), &f.storage, now + 1, 0).await?;
    gc::collect_orphans(f.meta.as_ref(), &f.storage, now + 1, 0, None).await?;
    Ok(())
}

async fn stored_keys(f: &Fixture) -> Vec<String> {
    let mut all = Vec::new();
    for dir in keys::DATA_DIRS {
        all.extend(f.storage.list(dir).await.expect("list").into_iter().map(|o| o.key));
    }
    all.sort();
    all
}

#[tokio::test]
async fn merging_keeps_every_record_at_its_offset_and_frees_the_segments() {
    let f = fixture().await;
    let t = seed(&f).await;
    let before = [read_all(&f, &t, 0).await, read_all(&f, &t, 1).await];
    assert_eq!(before[0].len(), 24, "{:?}", before[0]);
    run_jobs(&f, &t, 5000).await.expect("jobs");
    assert_eq!([read_all(&f, &t, 0).await, read_all(&f, &t, 1).await], before);
    let rows = f.meta.read_index(t.id, 0, 0, u64::MAX, 100).await.expect("index");
    assert!(rows.iter().all(|r| r.object_key.starts_with(keys::MERGED_DIR)), "every batch moved");
    assert_eq!(stored_keys(&f).await.len(), 2, "one object per partition; the 12 segments were deleted");
    let storage = f.meta.partition_storage(t.id).await.expect("storage");
    assert_eq!(storage.iter().map(|(_, s)| s.objects).collect::<Vec<_>>(), vec![1, 1]);
}

#[tokio::test]
async fn young_segments_and_single_batches_are_left_alone() {
    let f = fixture().await;
    let t = seed(&f).await;
    let young = MergeLimits { min_age_ms: 10_000, ..LIMITS };
    let r = merge_partition(f.meta.as_ref(), &f.storage, t.id, 0, 0, young, 5000, 1).await.expect("merge");
    assert_eq!(r.report, None, "segments written at 1000..1011 are younger than 10 s at 5000");
    assert_eq!(r.resume_from, 0, "the first flush segment is at offset 0");
    let one = MergeLimits { target_bytes: 1, ..LIMITS };
    let r = merge_partition(f.meta.as_ref(), &f.storage, t.id, 0, 0, one, 5000, 1).await.expect("merge");
    assert_eq!(r.report, None, "a byte budget that fits one batch merges nothing");
}

#[tokio::test]
async fn a_merged_prefix_is_not_scanned_again() {
    let f = fixture().await;
    let t = seed(&f).await;
    let first = merge_partition(f.meta.as_ref(), &f.storage, t.id, 0, 0, LIMITS, 5000, 1).await.expect("merge");
    assert_eq!(first.report.map(|r| r.batches), Some(12));
    assert_eq!(first.resume_from, 0, "the scan saw the rows before they were merged");
    let second =
        merge_partition(f.meta.as_ref(), &f.storage, t.id, 0, first.resume_from, LIMITS, 5000, 2).await.expect("merge");
    assert_eq!((second.report, second.resume_from), (None, 24), "everything below the end is merged");
    let rec = |i: i64| (Some(format!("late-{i}")), Some("v".to_string()), 2000 + i);
    common::produce(&f, &t, 2000, 99, &[(0, vec![rec(0)]), (0, vec![rec(1)])]).await;
    let third = merge_partition(f.meta.as_ref(), &f.storage, t.id, 0, second.resume_from, LIMITS, 5000, 3)
        .await
        .expect("merge");
    assert_eq!(third.report.map(|r| r.batches), Some(2), "new flush segments past the resume point are merged");
}

#[tokio::test]
async fn a_crash_at_any_step_of_merge_and_gc_loses_nothing() {
    for mode in [FaultMode::Before, FaultMode::After] {
        let mut step = 1;
        loop {
            let f = fixture().await;
            let t = seed(&f).await;
            let before = [read_all(&f, &t, 0).await, read_all(&f, &t, 1).await];
            f.faults.fail_nth(step, mode);
            let crashed = run_jobs(&f, &t, 5000).await.is_err();
            let reached = f.faults.count() >= step;
            f.faults.clear();
            assert_eq!(
                [read_all(&f, &t, 0).await, read_all(&f, &t, 1).await],
                before,
                "{mode:?} failure at step {step}: reads right after the crash"
            );
            // Recovery: the jobs simply run again (later, so that any orphan is past its grace period).
            run_jobs(&f, &t, 6000).await.expect("jobs after the crash");
            run_jobs(&f, &t, 7000).await.expect("jobs again");
            assert_eq!(
                [read_all(&f, &t, 0).await, read_all(&f, &t, 1).await],
                before,
                "{mode:?} failure at step {step}: reads after recovery"
            );
            let stored = stored_keys(&f).await;
            assert!(f.meta.unknown_objects(&stored).await.expect("unknown").is_empty(), "no orphan left");
            assert_eq!(stored.len(), 2, "{mode:?} step {step}: only the merged objects remain: {stored:?}");
            if !reached {
                assert!(!crashed);
                break;
            }
            step += 1;
        }
        assert!(step > 20, "the sweep covered every object-store operation of the jobs ({step})");
    }
}

/// A merge of more rows than one index switch takes moves them all, in several short metastore transactions,
/// into one object.
#[tokio::test]
async fn a_long_merge_switches_the_index_in_steps() {
    let f = fixture().await;
    let t = topic(&f, "merge-long", 1).await;
    for i in 0..150i64 {
        produce(&f, &t, 1000 + i, i as u64, &[(0, vec![(None, Some(format!("v{i}")), 1000 + i)])]).await;
    }
    let before = read_all(&f, &t, 0).await;
    let pass = merge_partition(f.meta.as_ref(), &f.storage, t.id, 0, 0, LIMITS, 5000, 9).await.expect("merge");
    let report = pass.report.expect("merged");
    assert_eq!((report.batches, report.applied), (150, true));
    assert_eq!(read_all(&f, &t, 0).await, before);
    let rows = f.meta.read_index(t.id, 0, 0, u64::MAX, 1000).await.expect("index");
    let objects: std::collections::BTreeSet<_> = rows.iter().map(|r| r.object_key.as_str()).collect();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(objects.iter().all(|k| k.starts_with(keys::MERGED_DIR)));
}
