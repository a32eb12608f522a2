//! Conformance of [`crate::Groups`]: committed offsets, their deletion and retention.

use crate::{CommittedOffset, Metastore};

pub async fn group_offsets(store: &dyn Metastore) {
    let c = |topic: &str, partition, offset, metadata: Option<&str>| CommittedOffset {
        topic: topic.into(),
        partition,
        offset,
        leader_epoch: 3,
        metadata: metadata.map(String::from),
        commit_ms: 77,
    };
    store
        .commit_offsets("g1", &[c("a", 0, 10, Some("m")), c("a", 1, 20, None), c("b", 0, 5, Some(""))])
        .await
        .expect("commit");
    store.commit_offsets("g1", &[c("a", 0, 11, Some("m2"))]).await.expect("recommit");
    store.commit_offsets("g2", &[c("a", 0, 1, None)]).await.expect("commit g2");
    let all = store.committed_offsets("g1", None).await.expect("fetch");
    assert_eq!(all, vec![c("a", 0, 11, Some("m2")), c("a", 1, 20, None), c("b", 0, 5, Some(""))]);
    let only_b = store.committed_offsets("g1", Some(&["b".to_string()])).await.expect("fetch b");
    assert_eq!(only_b, vec![c("b", 0, 5, Some(""))]);
    assert_eq!(store.groups_with_offsets().await.expect("groups"), vec!["g1".to_string(), "g2".to_string()]);
    assert_eq!(store.delete_offsets("g1", Some(&[("a".to_string(), 1)])).await.expect("delete one"), 1);
    assert_eq!(store.committed_offsets("g1", None).await.expect("fetch").len(), 2);
    assert_eq!(store.delete_offsets("g1", None).await.expect("delete all"), 2);
    assert!(store.committed_offsets("g1", None).await.expect("fetch").is_empty());
    assert_eq!(store.groups_with_offsets().await.expect("groups"), vec!["g2".to_string()]);
    // Retention: old offsets of inactive groups go; active groups and recent commits stay.
    let at = |topic: &str, commit_ms| CommittedOffset { commit_ms, ..c(topic, 0, 1, None) };
    store.commit_offsets("old", &[at("a", 10), at("b", 500)]).await.expect("commit");
    store.commit_offsets("busy", &[at("a", 10)]).await.expect("commit");
    assert_eq!(store.expire_offsets(100, &["busy".to_string()]).await.expect("expire"), 2, "g2 (77) and old/a (10)");
    assert_eq!(store.committed_offsets("old", None).await.expect("fetch"), vec![at("b", 500)]);
    assert_eq!(store.committed_offsets("busy", None).await.expect("fetch").len(), 1);
}
