//! Conformance of [`crate::Catalog`]: the cluster id, topic lifecycle, topic and cluster configs.

use super::new_topic;
use crate::{MetaError, Metastore, PartitionOffsets};
use std::collections::BTreeMap;

pub async fn topics_lifecycle(store: &dyn Metastore) {
    let id = store.cluster_id().await.expect("cluster id");
    assert_eq!(id, store.cluster_id().await.expect("cluster id"), "cluster id is stable");
    let t = store.create_topic(new_topic("conf-a", 3)).await.expect("create");
    assert!(matches!(store.create_topic(new_topic("conf-a", 1)).await, Err(MetaError::TopicExists { .. })));
    let got = store.topic("conf-a").await.expect("get").expect("exists");
    assert_eq!(got, t);
    assert_eq!(store.topic_by_id(t.id).await.expect("by id"), Some(t.clone()));
    assert_eq!(got.configs.get("retention.ms").map(String::as_str), Some("1000"));
    assert!(store.list_topics().await.expect("list").iter().any(|x| x.name == "conf-a"));
    let grown = store.add_partitions("conf-a", 5).await.expect("grow");
    assert_eq!(grown.partitions, 5);
    assert_eq!(
        store.partition_offsets(t.id, 4).await.expect("offsets"),
        Some(PartitionOffsets { log_start: 0, next_offset: 0, last_stable: 0 })
    );
    assert!(matches!(store.add_partitions("conf-a", 2).await, Err(MetaError::BadPartitionCount { .. })));
    assert!(matches!(store.add_partitions("nope", 2).await, Err(MetaError::UnknownTopic { .. })));
    store.delete_topic("conf-a", 50).await.expect("delete");
    assert_eq!(store.topic("conf-a").await.expect("get"), None);
    assert_eq!(store.partition_offsets(t.id, 0).await.expect("offsets"), None);
    assert!(matches!(store.delete_topic("conf-a", 50).await, Err(MetaError::UnknownTopic { .. })));
}

pub async fn configs(store: &dyn Metastore) {
    let t = store.create_topic(new_topic("conf-configs", 1)).await.expect("create");
    let mut want = BTreeMap::new();
    want.insert("cleanup.policy".to_string(), "compact".to_string());
    let changed = store.set_topic_configs("conf-configs", want.clone()).await.expect("set");
    assert_eq!(changed.configs, want, "configs are replaced, not merged");
    assert_eq!(store.topic("conf-configs").await.expect("get").map(|x| x.configs), Some(want));
    assert_eq!(changed.id, t.id);
    assert!(matches!(store.set_topic_configs("conf-nope", BTreeMap::new()).await, Err(MetaError::UnknownTopic { .. })));
    assert!(store.cluster_configs().await.expect("cluster").is_empty());
    let mut cluster = BTreeMap::new();
    cluster.insert("log.retention.ms".to_string(), "1000".to_string());
    cluster.insert("message.max.bytes".to_string(), "2000".to_string());
    store.set_cluster_configs(cluster.clone()).await.expect("set cluster");
    assert_eq!(store.cluster_configs().await.expect("cluster"), cluster);
    cluster.remove("message.max.bytes");
    store.set_cluster_configs(cluster.clone()).await.expect("set cluster");
    assert_eq!(store.cluster_configs().await.expect("cluster"), cluster);
}
