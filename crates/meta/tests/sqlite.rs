//! Runs the metastore conformance suite against SQLite, and checks durability across reopen.

use weft_meta::{Metastore, NewTopic, SqlMetastore, conformance};

#[tokio::test]
async fn sqlite_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let store = SqlMetastore::open(&url).await.unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn sqlite_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sub/meta.db", dir.path().display());
    let id = {
        let store = SqlMetastore::open(&url).await.unwrap();
        store
            .create_topic(NewTopic {
                name: "t".into(),
                id: uuid::Uuid::new_v4(),
                partitions: 2,
                configs: Default::default(),
                created_ms: 0,
            })
            .await
            .unwrap();
        store.cluster_id().await.unwrap()
    };
    let store = SqlMetastore::open(&url).await.unwrap();
    assert_eq!(store.cluster_id().await.unwrap(), id);
    assert_eq!(store.topic("t").await.unwrap().unwrap().partitions, 2);
}
