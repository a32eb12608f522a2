//! Group commits ([`crate::Log::commit_segments`]): several segments in one transaction behave exactly as if
//! committed one after the other, and a fenced segment among them is refused alone.

use crate::conformance::{batch, new_topic};
use crate::{AppendOutcome, BatchAppend, Metastore, PartitionOffsets, ProducerBatch, SegmentCommit};
use uuid::Uuid;

fn segment(key: &str, batches: Vec<BatchAppend>) -> SegmentCommit {
    SegmentCommit { object_key: key.into(), object_size: 1000, created_ms: 11, batches }
}

fn idem(topic: Uuid, pid: i64, first: i32, last: i32) -> BatchAppend {
    let mut b = batch(topic, 0, 0, i64::from(last - first + 1), 1);
    b.producer = Some(ProducerBatch { producer_id: pid, epoch: 0, first_sequence: first, last_sequence: last });
    b
}

pub async fn group_commits_are_sequential_commits(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-group", 2)).await.expect("create");
    let pid = store.allocate_producer_id().await.expect("id");
    let fenced = vec!["grp-b".to_string()];
    assert_eq!(store.fence_orphans(&fenced, 5).await.expect("fence"), fenced);
    let appended = |base_offset| AppendOutcome::Appended { base_offset, log_start: 0 };

    // The third segment sees the first's offsets and producer state: its next sequence appends, and its retry
    // of the first segment's batch is a duplicate. The fenced second segment stores nothing.
    let group = vec![
        segment("grp-a", vec![idem(t.id, pid, 0, 1), batch(t.id, 1, 100, 3, 1)]),
        segment("grp-b", vec![batch(t.id, 0, 0, 4, 1)]),
        segment("grp-c", vec![idem(t.id, pid, 2, 2), idem(t.id, pid, 0, 1), batch(t.id, 1, 200, 1, 1)]),
    ];
    let done = store.commit_segments(group).await.expect("group commit");
    assert_eq!(
        done.segments,
        vec![
            Some(vec![appended(0), appended(0)]),
            None,
            Some(vec![appended(2), AppendOutcome::Duplicate { base_offset: 0, log_start: 0 }, appended(3)]),
        ]
    );
    let mut bounds = done.partitions.clone();
    bounds.sort_by_key(|(_, p, _)| *p);
    assert_eq!(
        bounds,
        vec![
            (t.id, 0, PartitionOffsets { log_start: 0, next_offset: 3, last_stable: 3 }),
            (t.id, 1, PartitionOffsets { log_start: 0, next_offset: 4, last_stable: 4 }),
        ],
        "the bounds after the whole group"
    );
    let rows = store.read_index(t.id, 0, 0, u64::MAX, 100).await.expect("index");
    let rows: Vec<_> = rows.iter().map(|r| (r.base_offset, r.last_offset, r.object_key.as_str())).collect();
    assert_eq!(rows, vec![(0, 1, "grp-a"), (2, 2, "grp-c")], "nothing of the fenced segment is indexed");
    let end = store.partition_offsets(t.id, 1).await.expect("offsets").expect("exists");
    assert_eq!(end.next_offset, 4);

    // A group of fenced segments only changes nothing.
    let again = store.commit_segments(vec![segment("grp-b", vec![batch(t.id, 0, 0, 1, 1)])]).await.expect("commit");
    assert_eq!(again.segments, vec![None]);
    assert!(again.partitions.is_empty());
    assert_eq!(store.partition_offsets(t.id, 0).await.expect("offsets").expect("exists").next_offset, 3);
    // One segment through `commit_segment` is a group of one; its fenced key is an error.
    let late = store.commit_segment(segment("grp-b", vec![batch(t.id, 0, 0, 1, 1)])).await;
    assert!(matches!(late, Err(crate::MetaError::ObjectFenced { .. })), "{late:?}");
}
