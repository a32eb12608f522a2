//! Runs the metastore conformance suite against SQLite (one test per case), and checks what only SQLite has:
//! durability across reopen, its files changing under the store, and its schema.

use std::sync::Arc;
use weft_meta::conformance::Fixture;
use weft_meta::prelude::*;
use weft_meta::{NewTopic, SqlMetastore};

/// An empty SQLite store in a temporary directory that lives as long as it.
async fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let store = SqlMetastore::open(&url).await.unwrap();
    Fixture::new(Arc::new(store), dir)
}

weft_meta::metastore_conformance!(sqlite_fixture().await);

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

fn topic(name: &str) -> NewTopic {
    NewTopic { name: name.into(), id: uuid::Uuid::new_v4(), partitions: 1, configs: Default::default(), created_ms: 0 }
}

/// A write-ahead log deleted under the running store: every write is refused from then on (so nothing more
/// is acknowledged), and what was committed before is checkpointed into the database file.
#[tokio::test]
async fn sqlite_refuses_writes_once_its_wal_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let url = format!("sqlite://{}", path.display());
    let store = SqlMetastore::open(&url).await.unwrap();
    store.create_topic(topic("before")).await.unwrap();
    store.write_probe(1).await.unwrap();
    let wal = dir.path().join("meta.db-wal");
    assert!(wal.exists());
    std::fs::remove_file(&wal).unwrap();
    let err = store.create_topic(topic("after")).await.unwrap_err();
    assert!(matches!(err, weft_meta::MetaError::FilesChanged { .. }), "{err}");
    assert!(err.to_string().contains("meta.db-wal was removed"), "{err}");
    assert!(store.write_probe(2).await.is_err(), "readiness sees it too");
    assert!(store.allocate_producer_id().await.is_err());
    // The salvage checkpoint copied the earlier commit into the database file itself.
    let pool =
        sqlx::sqlite::SqlitePool::connect(&format!("sqlite://{}?mode=ro&immutable=1", path.display())).await.unwrap();
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM topics").fetch_all(&pool).await.unwrap();
    assert_eq!(names, vec![("before".to_string(),)]);
}

/// A database file replaced under the running store is refused the same way.
#[tokio::test]
async fn sqlite_refuses_writes_once_its_database_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = SqlMetastore::open(&format!("sqlite://{}", path.display())).await.unwrap();
    std::fs::rename(&path, dir.path().join("moved.db")).unwrap();
    std::fs::write(&path, b"").unwrap();
    let err = store.create_topic(topic("t")).await.unwrap_err();
    assert!(err.to_string().contains("meta.db was replaced"), "{err}");
}

/// Pins the SQLite schema produced by the migrations: a change here must come with a new migration.
#[tokio::test]
async fn sqlite_schema_matches_golden() {
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let url = format!("sqlite://{}", path.display());
    drop(SqlMetastore::open(&url).await.unwrap());
    let pool = sqlx::sqlite::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let rows = sqlx::query("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut dump = String::new();
    for r in rows {
        let (kind, name, sql): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        dump.push_str(&format!("-- {kind} {name}\n{}\n", sql.trim()));
    }
    let versions: Vec<i64> = sqlx::query("SELECT version FROM weft_schema ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    dump.push_str(&format!("-- versions {versions:?}\n"));
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/schema-sqlite.sql");
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::write(golden_path, &dump).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path).expect("golden schema file (run with WEFT_BLESS=1 to create)");
    assert_eq!(dump, golden, "metadata schema changed: add a migration and bless the golden file");
}
