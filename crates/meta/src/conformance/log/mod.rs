//! Conformance of [`crate::Log`]: dense offsets across commits, index and time lookups, unknown partitions,
//! all-or-nothing record sets (in `record_sets`), and group commits (in `groups`).

mod groups;
mod record_sets;

pub use groups::group_commits_are_sequential_commits;
pub use record_sets::{
    duplicates_answer_the_whole_set, out_of_sequence_sets_store_nothing, sets_must_be_of_one_partition,
    transactional_sets,
};

use super::objects::commit;
use super::{batch, new_topic};
use crate::{AppendOutcome, Metastore, PartitionOffsets, SegmentCommit};
use uuid::Uuid;

pub async fn offsets_are_dense_across_commits(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-dense", 2)).await.expect("create");
    let first = SegmentCommit {
        object_key: "seg-1".into(),
        object_size: 1000,
        created_ms: 1,
        batches: vec![batch(t.id, 0, 16, 3, 10), batch(t.id, 1, 116, 1, 11), batch(t.id, 0, 216, 2, 12)],
    };
    let out = store.commit_segment(first).await.expect("commit 1").outcomes;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::Appended { base_offset: 3, log_start: 0 },
        ]
    );
    let second = SegmentCommit {
        object_key: "seg-2".into(),
        object_size: 500,
        created_ms: 2,
        batches: vec![batch(t.id, 0, 16, 4, 13)],
    };
    let out = store.commit_segment(second).await.expect("commit 2").outcomes;
    assert_eq!(out, vec![AppendOutcome::Appended { base_offset: 5, log_start: 0 }]);
    assert_eq!(
        store.partition_offsets(t.id, 0).await.expect("p0"),
        Some(PartitionOffsets { log_start: 0, next_offset: 9, last_stable: 9 })
    );
    assert_eq!(
        store.partition_offsets(t.id, 1).await.expect("p1"),
        Some(PartitionOffsets { log_start: 0, next_offset: 1, last_stable: 1 })
    );
    let all = store.all_partition_offsets().await.expect("all");
    assert!(all.contains(&(t.id, 0, PartitionOffsets { log_start: 0, next_offset: 9, last_stable: 9 })));
}

pub async fn index_reads_and_time_lookups(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-index", 1)).await.expect("create");
    let batches = vec![batch(t.id, 0, 16, 10, 500), batch(t.id, 0, 116, 10, 300), batch(t.id, 0, 216, 10, 900)];
    store
        .commit_segment(SegmentCommit { object_key: "seg-i".into(), object_size: 400, created_ms: 3, batches })
        .await
        .expect("commit");
    let sizes = store.partition_sizes().await.expect("sizes");
    assert!(sizes.contains(&(t.id, 0, 300)), "three batches of 100 bytes: {sizes:?}");
    let from_middle = store.read_index(t.id, 0, 15, u64::MAX, 100).await.expect("read");
    assert_eq!(from_middle.iter().map(|b| b.base_offset).collect::<Vec<_>>(), vec![10, 20]);
    assert_eq!(from_middle[0].last_offset, 19);
    assert_eq!(from_middle[0].byte_start, 116);
    assert_eq!(from_middle[0].object_key, "seg-i");
    let capped = store.read_index(t.id, 0, 0, 150, 100).await.expect("read");
    assert_eq!(capped.len(), 1, "byte cap stops after the first batch");
    let at_least_one = store.read_index(t.id, 0, 0, 1, 100).await.expect("read");
    assert_eq!(at_least_one.len(), 1, "one batch is returned even when it exceeds max bytes");
    assert!(store.read_index(t.id, 0, 30, u64::MAX, 100).await.expect("read").is_empty());
    let limited = store.read_index(t.id, 0, 0, u64::MAX, 2).await.expect("read");
    assert_eq!(limited.len(), 2);
    let by_time = store.first_batch_at_or_after_time(t.id, 0, 400).await.expect("time").expect("found");
    assert_eq!(by_time.base_offset, 0);
    let by_time = store.first_batch_at_or_after_time(t.id, 0, 600).await.expect("time").expect("found");
    assert_eq!(by_time.base_offset, 20);
    assert_eq!(store.first_batch_at_or_after_time(t.id, 0, 901).await.expect("time"), None);
    let max = store.max_timestamp_batch(t.id, 0).await.expect("max").expect("found");
    assert_eq!((max.base_offset, max.max_timestamp), (20, 900));
}

pub async fn deleted_partitions_refuse_appends(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-gone", 1)).await.expect("create");
    let commit = SegmentCommit {
        object_key: "seg-g".into(),
        object_size: 100,
        created_ms: 4,
        batches: vec![batch(t.id, 0, 16, 1, 1), batch(t.id, 7, 116, 1, 1), batch(Uuid::new_v4(), 0, 216, 1, 1)],
    };
    let out = store.commit_segment(commit).await.expect("commit").outcomes;
    assert_eq!(
        out,
        vec![
            AppendOutcome::Appended { base_offset: 0, log_start: 0 },
            AppendOutcome::UnknownPartition,
            AppendOutcome::UnknownPartition
        ]
    );
}

/// Index reads over more rows than one page: every row in order, cut by bytes or by the row limit only.
pub async fn index_reads_across_pages(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-index-pages", 1)).await.expect("create");
    // 300 one-record batches of 100 bytes, ten per segment.
    for s in 0..30 {
        let batches = (0..10).map(|i| batch(t.id, 0, i * 100, 1, 1)).collect();
        store.commit_segment(commit(&format!("ip-{s:02}"), batches)).await.expect("commit");
    }
    let bases = |rows: &[crate::BatchRef]| rows.iter().map(|r| r.base_offset).collect::<Vec<_>>();
    let all = store.read_index(t.id, 0, 0, u64::MAX, 1000).await.expect("read");
    assert_eq!(bases(&all), (0..300).collect::<Vec<_>>());
    let by_rows = store.read_index(t.id, 0, 17, u64::MAX, 70).await.expect("read");
    assert_eq!(bases(&by_rows), (17..87).collect::<Vec<_>>());
    let by_bytes = store.read_index(t.id, 0, 5, 150 * 100, 1000).await.expect("read");
    assert_eq!(bases(&by_bytes), (5..155).collect::<Vec<_>>());
    let one = store.read_index(t.id, 0, 299, 1, 1000).await.expect("read");
    assert_eq!(bases(&one), vec![299], "at least one batch, whatever max_bytes");
}
