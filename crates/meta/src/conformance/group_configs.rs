//! Conformance of [`crate::GroupConfigs`]: configs stored per group, replaced whole only at the version read
//! (compare and set), removed by an empty set or by deletion, listed in group order.

use crate::{Metastore, StoredGroupConfigs};
use std::collections::BTreeMap;

fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub async fn group_configs_compare_and_set(store: &dyn Metastore) {
    assert_eq!(store.group_configs("g").await.expect("read"), StoredGroupConfigs::default(), "none stored");
    let first = set(&[("consumer.session.timeout.ms", "50000")]);
    assert_eq!(store.replace_group_configs("g", 0, &first).await.expect("create"), Some(1));
    assert_eq!(store.replace_group_configs("g", 0, &first).await.expect("stale create"), None, "created already");
    let stored = store.group_configs("g").await.expect("read");
    assert_eq!(stored, StoredGroupConfigs { configs: first.clone(), version: 1 });

    // A writer that read version 1 wins once; the next one with version 1 is refused and nothing changes.
    let second = set(&[("consumer.session.timeout.ms", "55000"), ("share.auto.offset.reset", "by_duration:PT1H")]);
    assert_eq!(store.replace_group_configs("g", 1, &second).await.expect("update"), Some(2));
    assert_eq!(store.replace_group_configs("g", 1, &first).await.expect("stale update"), None);
    assert_eq!(store.group_configs("g").await.expect("read").configs, second, "values kept as given");

    // Other groups are apart; the listing is ordered by group.
    let other = set(&[("share.record.lock.duration.ms", "20000")]);
    assert_eq!(store.replace_group_configs("a-group", 0, &other).await.expect("other"), Some(1));
    let all = store.all_group_configs().await.expect("list");
    let names: Vec<&str> = all.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(names, ["a-group", "g"]);
    assert_eq!(all[1].1.version, 2);

    // An empty set removes the group's entry, only at the version read; afterwards the version starts again.
    assert_eq!(store.replace_group_configs("g", 1, &BTreeMap::new()).await.expect("stale removal"), None);
    assert_eq!(store.replace_group_configs("g", 2, &BTreeMap::new()).await.expect("removal"), Some(0));
    assert_eq!(store.group_configs("g").await.expect("read"), StoredGroupConfigs::default());
    assert_eq!(store.replace_group_configs("g", 0, &BTreeMap::new()).await.expect("nothing to remove"), Some(0));
    assert_eq!(store.replace_group_configs("g", 0, &first).await.expect("again"), Some(1));

    // Deletion ignores the version (DeleteGroups).
    assert!(store.delete_group_configs("g").await.expect("delete"));
    assert!(!store.delete_group_configs("g").await.expect("delete again"));
    assert!(store.delete_group_configs("a-group").await.expect("delete other"));
    assert!(store.all_group_configs().await.expect("list").is_empty());
}

/// Concurrent writers that all read the same version: exactly one of them is stored.
pub async fn concurrent_group_config_writers_one_wins(store: &dyn Metastore) {
    let one = |i: i32| async move {
        let configs = set(&[("consumer.heartbeat.interval.ms", &(5000 + i).to_string())]);
        store.replace_group_configs("race", 0, &configs).await.expect("write")
    };
    let (a, b, c, d, e, f) = tokio::join!(one(0), one(1), one(2), one(3), one(4), one(5));
    let outcomes = [a, b, c, d, e, f];
    assert_eq!(outcomes.iter().filter(|o| o.is_some()).count(), 1, "{outcomes:?}");
    let (a, b, none) = (set(&[("a", "1")]), set(&[("b", "2")]), BTreeMap::new());
    let (g, h, k) = tokio::join!(
        store.replace_group_configs("race", 1, &a),
        store.replace_group_configs("race", 1, &b),
        store.replace_group_configs("race", 1, &none),
    );
    let outcomes = [g.expect("g"), h.expect("h"), k.expect("k")];
    assert_eq!(outcomes.iter().filter(|o| o.is_some()).count(), 1, "{outcomes:?}");
    store.delete_group_configs("race").await.expect("clean up");
}
