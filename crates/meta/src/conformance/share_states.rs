//! Conformance of [`crate::ShareStates`]: reads and conditional writes of share-partition state, fencing by
//! either epoch, start offsets by group, atomic alterations and deletions.

use super::new_topic;
use crate::{Metastore, ShareEpochs, SharePartitionKey, ShareStateBatch, ShareStateRecord};
use uuid::Uuid;

fn key(group: &str, topic_id: Uuid, partition: i32) -> SharePartitionKey {
    SharePartitionKey { group: group.into(), topic_id, partition }
}

fn record(key: &SharePartitionKey, state_epoch: i32, leader_epoch: i32, start: i64) -> ShareStateRecord {
    ShareStateRecord {
        key: key.clone(),
        state_epoch,
        leader_epoch,
        start_offset: start,
        batches: vec![
            ShareStateBatch { first_offset: start, last_offset: start + 4, delivery_state: 0, delivery_count: 2 },
            ShareStateBatch { first_offset: start + 5, last_offset: start + 5, delivery_state: 2, delivery_count: 1 },
            ShareStateBatch { first_offset: start + 6, last_offset: start + 9, delivery_state: 4, delivery_count: 5 },
        ],
    }
}

fn epochs(state_epoch: i32, leader_epoch: i32) -> Option<ShareEpochs> {
    Some(ShareEpochs { state_epoch, leader_epoch })
}

/// A first write only where nothing is stored; later writes only with the stored epochs; the state reads back
/// exactly as written; a takeover (leader epoch + 1) fences the previous holder, an alteration fences both.
pub async fn writes_are_fenced_by_epochs(store: &dyn Metastore) {
    let k = key("share-cas", Uuid::new_v4(), 3);
    assert_eq!(store.share_state(&k).await.expect("read"), None, "nothing stored yet");
    let first = record(&k, 0, 0, 10);
    assert!(store.write_share_state(&first, None).await.expect("write"), "first write");
    assert_eq!(store.share_state(&k).await.expect("read"), Some(first.clone()), "reads back whole");
    assert!(!store.write_share_state(&first, None).await.expect("write"), "a second first write is fenced");

    // Agent A advances the state under the epochs it loaded.
    let mut a = record(&k, 0, 0, 12);
    assert!(store.write_share_state(&a, epochs(0, 0)).await.expect("write"), "holder writes");
    // Agent B takes the partition over: the loaded state with leader epoch + 1.
    let mut b = store.share_state(&k).await.expect("read").expect("stored");
    b.leader_epoch += 1;
    assert!(store.write_share_state(&b, epochs(0, 0)).await.expect("write"), "takeover");
    // A concurrent takeover from the same epochs loses.
    assert!(!store.write_share_state(&b, epochs(0, 0)).await.expect("write"), "only one takeover wins");
    a.start_offset = 15;
    assert!(!store.write_share_state(&a, epochs(0, 0)).await.expect("write"), "the old holder is fenced");
    assert_eq!(store.share_state(&k).await.expect("read").expect("stored").start_offset, 12, "A wrote nothing");
    b.start_offset = 16;
    b.batches.clear();
    assert!(store.write_share_state(&b, epochs(0, 1)).await.expect("write"), "the new holder writes");
    let stored = store.share_state(&k).await.expect("read").expect("stored");
    assert_eq!((stored.start_offset, stored.batches.len(), stored.leader_epoch), (16, 0, 1));

    // An alteration bumps the state epoch: the holder's next write is fenced.
    let altered = store.alter_share_start_offsets("share-cas", &[(k.topic_id, 3, 100)]).await.expect("alter");
    assert_eq!(altered, vec![ShareEpochs { state_epoch: 1, leader_epoch: 1 }]);
    assert!(!store.write_share_state(&b, epochs(0, 1)).await.expect("write"), "stale state epoch is fenced");
    let stored = store.share_state(&k).await.expect("read").expect("stored");
    assert_eq!((stored.state_epoch, stored.start_offset, stored.batches.len()), (1, 100, 0), "reset whole");
}

/// Start offsets by group, in key order; alterations of several partitions create and bump atomically;
/// deletions of some partitions or the whole group; other groups untouched.
pub async fn start_offsets_alterations_and_deletions(store: &dyn Metastore) {
    let (t1, t2) = (Uuid::new_v4(), Uuid::new_v4());
    let (low, high) = if t1.to_string() < t2.to_string() { (t1, t2) } else { (t2, t1) };
    assert!(store.share_start_offsets("share-admin").await.expect("list").is_empty());
    for (t, p, start) in [(high, 0, 7), (low, 1, 5), (low, 0, 3)] {
        let r = record(&key("share-admin", t, p), 0, 0, start);
        assert!(store.write_share_state(&r, None).await.expect("write"));
    }
    let other = record(&key("share-other", low, 0), 0, 2, 50);
    assert!(store.write_share_state(&other, None).await.expect("write"));

    let listed = store.share_start_offsets("share-admin").await.expect("list");
    let seen: Vec<(Uuid, i32, i64, i32)> =
        listed.iter().map(|s| (s.topic_id, s.partition, s.start_offset, s.state_epoch)).collect();
    assert_eq!(seen, vec![(low, 0, 3, 0), (low, 1, 5, 0), (high, 0, 7, 0)], "ordered by topic id and partition");

    // One stored partition and one new one, in one call; answers in the order given.
    let altered = store.alter_share_start_offsets("share-admin", &[(high, 2, 40), (low, 1, 30)]).await.expect("alter");
    assert_eq!(
        altered,
        vec![ShareEpochs { state_epoch: 0, leader_epoch: 0 }, ShareEpochs { state_epoch: 1, leader_epoch: 0 }]
    );
    let new = store.share_state(&key("share-admin", high, 2)).await.expect("read").expect("created");
    assert_eq!((new.start_offset, new.batches.len()), (40, 0));
    assert!(store.alter_share_start_offsets("share-admin", &[]).await.expect("alter nothing").is_empty());

    let removed = store.delete_share_states("share-admin", Some(&[(low, 1), (high, 9)])).await.expect("delete some");
    assert_eq!(removed, 1, "only what was stored");
    let left: Vec<(Uuid, i32)> = store
        .share_start_offsets("share-admin")
        .await
        .expect("list")
        .iter()
        .map(|s| (s.topic_id, s.partition))
        .collect();
    assert_eq!(left, vec![(low, 0), (high, 0), (high, 2)]);
    assert_eq!(store.delete_share_states("share-admin", None).await.expect("delete all"), 3);
    assert!(store.share_start_offsets("share-admin").await.expect("list").is_empty());
    assert_eq!(store.delete_share_states("share-admin", None).await.expect("delete again"), 0);
    assert_eq!(store.share_state(&other.key).await.expect("read"), Some(other), "other groups untouched");
}

/// Of many agents racing to take the same share partition over from the same epochs, exactly one wins.
pub async fn concurrent_takeovers_have_one_winner(store: &dyn Metastore) {
    let k = key("share-race", Uuid::new_v4(), 0);
    assert!(store.write_share_state(&record(&k, 4, 7, 0), None).await.expect("write"));
    let mut next = record(&k, 4, 8, 0);
    next.batches.truncate(1);
    let one = || async { store.write_share_state(&next, epochs(4, 7)).await.expect("write") };
    let (a, b, c, d, e, f) = tokio::join!(one(), one(), one(), one(), one(), one());
    let outcomes = [a, b, c, d, e, f];
    assert_eq!(outcomes.iter().filter(|won| **won).count(), 1, "{outcomes:?}");
    assert_eq!(store.share_state(&k).await.expect("read"), Some(next));
}

/// Deleting leaves a tombstone with the next state epoch: a holder of the deleted state stays fenced, also
/// after a new state is created over the tombstone (epochs are never reused); listings leave it out; an
/// alteration revives it with a higher epoch still.
pub async fn deleted_states_never_reuse_epochs(store: &dyn Metastore) {
    let k = key("share-tomb", Uuid::new_v4(), 0);
    assert!(store.write_share_state(&record(&k, 0, 0, 5), None).await.expect("write"));
    assert_eq!(store.delete_share_states("share-tomb", None).await.expect("delete"), 1);
    let tomb = store.share_state(&k).await.expect("read").expect("tombstone");
    assert!(tomb.is_deleted(), "{tomb:?}");
    assert_eq!((tomb.state_epoch, tomb.leader_epoch, tomb.batches.len()), (1, 0, 0));
    assert!(store.share_start_offsets("share-tomb").await.expect("list").is_empty(), "tombstones are not listed");
    assert_eq!(store.delete_share_states("share-tomb", None).await.expect("delete again"), 0, "nothing live left");
    assert!(!store.write_share_state(&record(&k, 0, 0, 9), epochs(0, 0)).await.expect("write"), "stale holder fenced");
    assert!(
        !store.write_share_state(&record(&k, 0, 0, 9), None).await.expect("write"),
        "a create needs the tombstone's epochs"
    );
    // The group is created again: the new state goes over the tombstone, above its epochs.
    assert!(store.write_share_state(&record(&k, 1, 1, 20), epochs(1, 0)).await.expect("write"));
    assert!(!store.write_share_state(&record(&k, 0, 0, 9), epochs(0, 0)).await.expect("write"), "still fenced");
    let listed = store.share_start_offsets("share-tomb").await.expect("list");
    assert_eq!(listed.iter().map(|s| (s.start_offset, s.state_epoch)).collect::<Vec<_>>(), vec![(20, 1)]);
    // Deleted again, then altered: the alteration revives it above every epoch it had.
    assert_eq!(store.delete_share_states("share-tomb", Some(&[(k.topic_id, 0)])).await.expect("delete"), 1);
    let altered = store.alter_share_start_offsets("share-tomb", &[(k.topic_id, 0, 33)]).await.expect("alter");
    assert_eq!(altered, vec![ShareEpochs { state_epoch: 3, leader_epoch: 1 }]);
    let stored = store.share_state(&k).await.expect("read").expect("stored");
    assert!(!stored.is_deleted());
    assert_eq!(stored.start_offset, 33);
}

/// Deleting a topic deletes the share-partition state of every group on it (no leak), and only that.
pub async fn deleted_topics_take_their_share_states(store: &dyn Metastore) {
    let doomed = store.create_topic(new_topic("share-doomed", 2)).await.expect("create");
    let kept = store.create_topic(new_topic("share-kept", 1)).await.expect("create");
    let on_doomed = [key("share-del-a", doomed.id, 0), key("share-del-b", doomed.id, 1)];
    let on_kept = key("share-del-a", kept.id, 0);
    for k in on_doomed.iter().chain([&on_kept]) {
        assert!(store.write_share_state(&record(k, 0, 0, 0), None).await.expect("write"), "first write");
    }
    store.delete_topic("share-doomed", 1).await.expect("delete topic");
    for k in &on_doomed {
        assert_eq!(store.share_state(k).await.expect("read"), None, "state of a deleted topic is gone");
    }
    assert!(store.share_state(&on_kept).await.expect("read").is_some(), "other topics keep theirs");
    // A late write of a holder that did not notice the deletion is fenced, so nothing comes back.
    let late = record(&on_doomed[0], 0, 0, 5);
    assert!(!store.write_share_state(&late, epochs(0, 0)).await.expect("write"), "late write fenced");
    assert_eq!(store.share_state(&on_doomed[0]).await.expect("read"), None);
    store.delete_topic("share-kept", 2).await.expect("delete topic");
}
