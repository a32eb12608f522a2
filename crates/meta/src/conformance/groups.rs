//! Conformance of [`crate::Groups`]: committed offsets, their deletion and retention, and group state.

use crate::{CommittedOffset, GroupStateRecord, Metastore};

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
        .commit_offsets("g1", &[c("a", 0, 10, Some("m")), c("a", 1, 20, None), c("b", 0, 5, Some(""))], None)
        .await
        .expect("commit");
    store.commit_offsets("g1", &[c("a", 0, 11, Some("m2"))], None).await.expect("recommit");
    store.commit_offsets("g2", &[c("a", 0, 1, None)], None).await.expect("commit g2");
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
    store.commit_offsets("old", &[at("a", 10), at("b", 500)], None).await.expect("commit");
    store.commit_offsets("busy", &[at("a", 10)], None).await.expect("commit");
    assert_eq!(store.expire_offsets(100, &["busy".to_string()]).await.expect("expire"), 2, "g2 (77) and old/a (10)");
    assert_eq!(store.committed_offsets("old", None).await.expect("fetch"), vec![at("b", 500)]);
    assert_eq!(store.committed_offsets("busy", None).await.expect("fetch").len(), 1);
}

/// Group coordinator state: stored, replaced, listed without documents, deleted; an Empty group without
/// offsets is removed by the offset sweep unless active, and a group with offsets or members stays.
pub async fn group_state(store: &dyn Metastore) {
    let record = |group: &str, state: &str, document: &str| GroupStateRecord {
        group: group.into(),
        kind: "classic".into(),
        protocol_type: "consumer".into(),
        state: state.into(),
        document: document.into(),
    };
    assert_eq!(store.load_group_state("s1").await.expect("load"), None);
    assert!(store.store_group_state(&record("s1", "Stable", r#"{"version":1}"#), None).await.expect("store"));
    let replaced = GroupStateRecord { kind: "consumer".into(), ..record("s1", "Empty", r#"{"version":1,"g":2}"#) };
    assert!(store.store_group_state(&replaced, None).await.expect("replace"));
    assert_eq!(store.load_group_state("s1").await.expect("load"), Some(replaced.clone()));
    assert!(store.store_group_state(&record("s2", "Stable", "{}"), None).await.expect("store s2"));
    let listed = store.list_group_states().await.expect("list");
    let mine: Vec<_> = listed.into_iter().filter(|g| g.group.starts_with('s')).collect();
    assert_eq!(mine, vec![GroupStateRecord { document: String::new(), ..replaced }, record("s2", "Stable", "")]);
    assert!(store.delete_group_state("s2").await.expect("delete"));
    assert!(!store.delete_group_state("s2").await.expect("delete again"));
    assert_eq!(store.load_group_state("s2").await.expect("load"), None);
    // The sweep: Empty groups without offsets go, unless active; offsets or members keep a group.
    let offset = CommittedOffset {
        topic: "t".into(),
        partition: 0,
        offset: 1,
        leader_epoch: 0,
        metadata: None,
        commit_ms: i64::MAX / 2,
    };
    assert!(store.store_group_state(&record("s3", "Empty", "{}"), None).await.expect("store s3"));
    assert!(store.store_group_state(&record("s4", "Empty", "{}"), None).await.expect("store s4"));
    assert!(store.store_group_state(&record("s5", "Stable", "{}"), None).await.expect("store s5"));
    store.commit_offsets("s4", std::slice::from_ref(&offset), None).await.expect("commit s4");
    store.expire_offsets(0, &["s1".to_string(), "s3".to_string()]).await.expect("sweep");
    for g in ["s1", "s3", "s4", "s5"] {
        assert!(store.load_group_state(g).await.expect("load").is_some(), "{g} kept");
    }
    store.expire_offsets(0, &[]).await.expect("sweep");
    assert_eq!(store.load_group_state("s1").await.expect("load"), None, "empty, no offsets, not active");
    assert_eq!(store.load_group_state("s3").await.expect("load"), None, "no longer active");
    assert!(store.load_group_state("s4").await.expect("load").is_some(), "has offsets");
    assert!(store.load_group_state("s5").await.expect("load").is_some(), "has members");
}

/// A fenced write stores only while its lease is held by its holder, unexpired.
pub async fn group_state_fenced_by_lease(store: &dyn Metastore) {
    let record = |state: &str| GroupStateRecord {
        group: "fenced".into(),
        kind: "classic".into(),
        protocol_type: "consumer".into(),
        state: state.into(),
        document: "{}".into(),
    };
    let fence =
        |holder: &str, now_ms: i64| crate::LeaseFence { name: "coordinator-7".into(), holder: holder.into(), now_ms };
    assert!(!store.store_group_state(&record("Stable"), Some(&fence("a", 100))).await.expect("store"), "no lease");
    assert_eq!(store.load_group_state("fenced").await.expect("load"), None);
    assert!(store.acquire_lease("coordinator-7", "a", 100, 1000).await.expect("lease"));
    assert!(store.store_group_state(&record("Stable"), Some(&fence("a", 200))).await.expect("store"), "a holds it");
    assert!(!store.store_group_state(&record("Empty"), Some(&fence("b", 200))).await.expect("store"), "b does not");
    assert!(!store.store_group_state(&record("Empty"), Some(&fence("a", 1100))).await.expect("store"), "expired");
    assert!(store.acquire_lease("coordinator-7", "b", 1200, 1000).await.expect("lease"), "b takes over");
    assert!(!store.store_group_state(&record("Empty"), Some(&fence("a", 1300))).await.expect("store"), "a is late");
    assert_eq!(store.load_group_state("fenced").await.expect("load").map(|g| g.state), Some("Stable".into()));
    // Offset commits are fenced the same way.
    let offset =
        CommittedOffset { topic: "t".into(), partition: 0, offset: 5, leader_epoch: 0, metadata: None, commit_ms: 1 };
    assert!(
        !store.commit_offsets("fenced", std::slice::from_ref(&offset), Some(&fence("a", 1300))).await.expect("late")
    );
    assert!(store.commit_offsets("fenced", std::slice::from_ref(&offset), Some(&fence("b", 1300))).await.expect("b"));
    assert_eq!(store.committed_offsets("fenced", None).await.expect("offsets").len(), 1);
}
