//! Runs the metastore conformance suite against PostgreSQL (one test per case), and checks what only a
//! shared store has: several agents (independent store handles, each with its own pool) writing at once,
//! starting at once, and its schema.
//!
//! The server is the one `WEFT_TEST_POSTGRES_URL` names, else a private one per test (see `weft-pgtest`);
//! every test works in a fresh database.

use std::collections::BTreeSet;
use std::sync::Arc;
use weft_meta::conformance::Fixture;
use weft_meta::prelude::*;
use weft_meta::{AppendOutcome, BatchAppend, BatchKind, NewTopic, SegmentCommit, SqlMetastore};
use weft_pgtest::{PgServer, TestDatabase};

/// A server and a fresh database on it (dropped in that order: database first).
fn database() -> (TestDatabase, PgServer) {
    let server = PgServer::start().unwrap();
    (server.database().unwrap(), server)
}

/// A store on `db` with a small pool, as one agent would open it.
async fn agent(db: &TestDatabase) -> Arc<SqlMetastore> {
    Arc::new(SqlMetastore::open(&format!("{}?pool_size=4", db.url())).await.unwrap())
}

async fn postgres_fixture() -> Fixture {
    let (db, server) = database();
    let store = agent(&db).await;
    Fixture::new(store, (db, server))
}

weft_meta::metastore_conformance!(postgres_fixture().await);

fn new_topic(name: &str, partitions: i32) -> NewTopic {
    NewTopic { name: name.into(), id: uuid::Uuid::new_v4(), partitions, configs: Default::default(), created_ms: 0 }
}

fn plain(topic_id: uuid::Uuid, partition: i32, byte_start: u64, span: i64, set: u32) -> BatchAppend {
    BatchAppend {
        topic_id,
        partition,
        byte_start,
        byte_len: 10,
        offset_span: span,
        record_count: span as i32,
        max_timestamp: 0,
        producer: None,
        kind: BatchKind::Plain,
        record_set: set,
    }
}

/// Two agents commit segments to the same partitions at once, touching them in opposite orders: every
/// batch gets its own offsets and each partition's index is dense from 0 to its end.
#[tokio::test]
async fn concurrent_commits_from_two_agents_give_dense_unique_offsets() {
    let (db, _server) = database();
    let agents = [agent(&db).await, agent(&db).await];
    let topic = agents[0].create_topic(new_topic("t", 4)).await.unwrap().id;
    let mut tasks = Vec::new();
    for writer in 0..8u32 {
        let store = agents[writer as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for round in 0..10u32 {
                let mut partitions: Vec<i32> = (0..4).collect();
                if writer % 2 == 1 {
                    partitions.reverse();
                }
                let batches: Vec<BatchAppend> = partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| plain(topic, *p, i as u64 * 10, 1 + i64::from((writer + round) % 3), i as u32))
                    .collect();
                let key = format!("w{writer}-r{round}");
                let commit =
                    SegmentCommit { object_key: key, object_size: 40, created_ms: 1, batches: batches.clone() };
                let done = store.commit_segment(commit).await.unwrap();
                for (b, o) in batches.iter().zip(done.outcomes) {
                    let AppendOutcome::Appended { base_offset, .. } = o else { panic!("{o:?}") };
                    got.push((b.partition, base_offset, b.offset_span));
                }
            }
            got
        }));
    }
    let mut assigned = Vec::new();
    for t in tasks {
        assigned.extend(t.await.unwrap());
    }
    for p in 0..4 {
        let mut spans: Vec<(i64, i64)> =
            assigned.iter().filter(|a| a.0 == p).map(|&(_, base, span)| (base, span)).collect();
        spans.sort_unstable();
        let mut next = 0;
        for (base, span) in &spans {
            assert_eq!(*base, next, "partition {p}: offsets assigned twice or skipped: {spans:?}");
            next += span;
        }
        let end = agents[1].partition_offsets(topic, p).await.unwrap().unwrap().next_offset;
        assert_eq!(end, next, "partition {p}");
        let index = agents[1].read_index(topic, p, 0, u64::MAX, 10_000).await.unwrap();
        let bases: Vec<i64> = index.iter().map(|b| b.base_offset).collect();
        assert_eq!(bases, spans.iter().map(|s| s.0).collect::<Vec<_>>(), "partition {p}");
    }
}

/// Producer ids allocated by two agents at once are all different.
#[tokio::test]
async fn concurrent_producer_ids_are_unique() {
    let (db, _server) = database();
    let agents = [agent(&db).await, agent(&db).await];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = agents[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..25 {
                ids.push(store.allocate_producer_id().await.unwrap());
            }
            ids
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(all.insert(id), "producer id {id} allocated twice");
        }
    }
    assert_eq!(all.len(), 200);
}

/// Of many agents asking for one free lease at once, exactly one gets it.
#[tokio::test]
async fn one_lease_holder_among_racing_agents() {
    let (db, _server) = database();
    let agents = [agent(&db).await, agent(&db).await];
    for round in 0..5i64 {
        let name = format!("job{round}");
        let racers = (0..8).map(|i| {
            let store = agents[i % 2].clone();
            let name = name.clone();
            async move { store.acquire_lease(&name, &format!("agent-{i}"), 1000, 500).await.unwrap() }
        });
        let won = futures::future::join_all(racers).await;
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "round {round}: {won:?}");
    }
}

/// Two agents updating one new transactional id at once take turns: no update is lost.
#[tokio::test]
async fn concurrent_updates_of_a_new_transactional_id_take_turns() {
    use weft_meta::{TransactionMeta, TxnState, TxnWrite};
    let (db, _server) = database();
    let agents = [agent(&db).await, agent(&db).await];
    let bump = |current: Option<TransactionMeta>| {
        let mut meta = current.unwrap_or(TransactionMeta {
            transactional_id: "tx".into(),
            producer_id: 7,
            producer_epoch: -1,
            last_producer_epoch: -1,
            state: TxnState::Empty,
            timeout_ms: 1000,
            start_ms: -1,
            updated_ms: 0,
            partitions: Vec::new(),
            groups: Vec::new(),
            pending_offsets: Vec::new(),
        });
        meta.producer_epoch += 1;
        Ok(TxnWrite { meta, publish_offsets: Vec::new() })
    };
    let updates = (0..10).map(|i| {
        let store = agents[i % 2].clone();
        async move { store.update_transaction("tx", Box::new(bump)).await.unwrap().unwrap() }
    });
    futures::future::join_all(updates).await;
    let meta = agents[0].transaction("tx").await.unwrap().unwrap();
    assert_eq!(meta.producer_epoch, 9, "every update applied once");
    assert_eq!(agents[1].list_transactions(None).await.unwrap().len(), 1);
}

/// Agents starting together on an empty database all open it (one migrates, the others wait and find it
/// done) and see one cluster id.
#[tokio::test]
async fn concurrent_migrations_at_start_do_not_fail() {
    let (db, _server) = database();
    let url = format!("{}?pool_size=2", db.url());
    let opens = (0..6).map(|_| SqlMetastore::open(&url));
    let stores: Vec<SqlMetastore> = futures::future::join_all(opens).await.into_iter().map(Result::unwrap).collect();
    let mut ids = BTreeSet::new();
    for s in &stores {
        ids.insert(s.cluster_id().await.unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// Two agents creating one topic at once: one creates it, the other is told it exists.
#[tokio::test]
async fn concurrent_topic_creation_has_one_winner() {
    let (db, _server) = database();
    let agents = [agent(&db).await, agent(&db).await];
    let creates = (0..6).map(|i| {
        let store = agents[i % 2].clone();
        async move { store.create_topic(new_topic("same", 3)).await }
    });
    let results = futures::future::join_all(creates).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, weft_meta::MetaError::TopicExists { .. }), "{r}");
    }
}

/// A store written by a newer build is refused.
#[tokio::test]
async fn newer_schema_is_refused() {
    let (db, _server) = database();
    drop(agent(&db).await);
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    sqlx::query("INSERT INTO weft_schema (version) VALUES (999)").execute(&pool).await.unwrap();
    pool.close().await;
    let err = SqlMetastore::open(db.url()).await.err().unwrap();
    assert!(matches!(err, weft_meta::MetaError::SchemaTooNew { found: 999, .. }), "{err}");
}

/// The password of a url never appears in an error.
#[tokio::test]
async fn bad_urls_do_not_show_passwords() {
    let err = SqlMetastore::open("mysql://u:hunter2@h/db").await.err().unwrap().to_string();
    assert!(!err.contains("hunter2") && err.contains("postgres://"), "{err}");
}

/// Pins the PostgreSQL schema produced by the migrations: a change here must come with a new migration.
#[tokio::test]
async fn postgres_schema_matches_golden() {
    use sqlx::Row;
    let (db, _server) = database();
    drop(agent(&db).await);
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
         COALESCE(column_default, '')::text FROM information_schema.columns WHERE table_schema = 'public' \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut dump = String::new();
    let mut table = String::new();
    for r in columns {
        let (t, c, ty, null, default): (String, String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if t != table {
            dump.push_str(&format!("-- table {t}\n"));
            table = t;
        }
        let null = if null == "NO" { " NOT NULL" } else { "" };
        let default = if default.is_empty() { String::new() } else { format!(" DEFAULT {default}") };
        dump.push_str(&format!("    {c} {ty}{null}{default}\n"));
    }
    let indexes = sqlx::query(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for r in indexes {
        let (name, def): (String, String) = (r.get(0), r.get(1));
        dump.push_str(&format!("-- index {name}\n{def}\n"));
    }
    let constraints = sqlx::query(
        "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE connamespace = 'public'::regnamespace AND contype = 'c' ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for r in constraints {
        let (t, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        dump.push_str(&format!("-- check {t}.{name}\n{def}\n"));
    }
    let versions: Vec<i64> = sqlx::query("SELECT version FROM weft_schema ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    dump.push_str(&format!("-- versions {versions:?}\n"));
    pool.close().await;
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/schema-postgres.sql");
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::write(golden_path, &dump).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path).expect("golden schema file (run with WEFT_BLESS=1 to create)");
    assert_eq!(dump, golden, "metadata schema changed: add a migration and bless the golden file");
}

/// Connections killed under running commits (the server terminates every session of the database again
/// and again): every commit reported done is in the index at the offsets it reported, every commit reported
/// failed (other than "outcome unknown") left nothing, and each partition's offsets stay dense.
#[tokio::test]
async fn commits_survive_killed_connections_without_double_or_phantom_offsets() {
    use std::collections::HashMap;
    let (db, _server) = database();
    let agents = [agent(&db).await, agent(&db).await];
    let topic = agents[0].create_topic(new_topic("t", 2)).await.unwrap().id;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (url, stop) = (db.url().to_string(), stop.clone());
        tokio::spawn(async move {
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            let mut kills = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let done = sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_all(&admin)
                .await
                .unwrap();
                kills += done.len() as u64;
                tokio::time::sleep(std::time::Duration::from_millis(40)).await;
            }
            kills
        })
    };
    let mut tasks = Vec::new();
    for writer in 0..4u32 {
        let store = agents[writer as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for round in 0..30u32 {
                let key = format!("w{writer}-r{round}");
                let batches = vec![plain(topic, 0, 0, 2, 0), plain(topic, 1, 10, 3, 1)];
                let commit = SegmentCommit { object_key: key.clone(), object_size: 20, created_ms: 1, batches };
                results.push((key, store.commit_segment(commit).await));
            }
            results
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let kills = killer.await.unwrap();
    let check = agent(&db).await;
    let mut index: HashMap<(i32, i64), String> = HashMap::new();
    for p in 0..2 {
        let rows = check.read_index(topic, p, 0, u64::MAX, 10_000).await.unwrap();
        let mut next = 0;
        for r in rows {
            assert_eq!(r.base_offset, next, "partition {p} is not dense");
            next = r.last_offset + 1;
            index.insert((p, r.base_offset), r.object_key);
        }
        assert_eq!(check.partition_offsets(topic, p).await.unwrap().unwrap().next_offset, next);
    }
    let (mut ok, mut failed) = (0, 0);
    for (key, result) in results {
        match result {
            Ok(done) => {
                ok += 1;
                for (p, o) in [0, 1].into_iter().zip(done.outcomes) {
                    let AppendOutcome::Appended { base_offset, .. } = o else { panic!("{o:?}") };
                    assert_eq!(index.get(&(p, base_offset)), Some(&key), "acknowledged {key} is not where reported");
                }
            }
            Err(weft_meta::MetaError::CommitUnknown { .. }) => failed += 1,
            Err(e) => {
                failed += 1;
                assert!(!index.values().any(|k| *k == key), "{key} failed ({e}) yet is in the index");
            }
        }
    }
    println!("{ok} commits acknowledged, {failed} failed, {kills} sessions killed");
    assert!(ok > 0 && kills > 0, "{ok} acknowledged, {kills} killed");
}

/// One agent hears of another agent's commits through the change feed, and of a lost feed connection as a
/// `Resync` before the feed goes on.
#[tokio::test]
async fn the_change_feed_carries_other_agents_commits_and_resyncs_after_a_loss() {
    use std::time::Duration;
    use weft_meta::Change;
    let (db, _server) = database();
    let (a, b) = (agent(&db).await, agent(&db).await);
    let topic = b.create_topic(new_topic("t", 2)).await.unwrap().id;
    let mut feed = a.changes().await.unwrap().expect("postgres has a feed");
    async fn next(feed: &mut tokio::sync::mpsc::Receiver<Change>) -> Change {
        let f = tokio::time::timeout(Duration::from_secs(20), feed.recv());
        f.await.expect("a change within 20 s").expect("feed open")
    }
    assert_eq!(next(&mut feed).await, Change::Resync);
    let commit = |key: &str| SegmentCommit {
        object_key: key.into(),
        object_size: 10,
        created_ms: 1,
        batches: vec![plain(topic, 1, 0, 5, 0)],
    };
    let done = b.commit_segment(commit("one")).await.unwrap();
    let Change::Offsets { topic_id, partition, offsets } = next(&mut feed).await else { panic!("offsets expected") };
    assert_eq!((topic_id, partition, offsets), done.partitions[0]);
    assert_eq!(offsets.next_offset, 5);

    let admin = sqlx::PgPool::connect(db.url()).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(next(&mut feed).await, Change::Resync, "a lost connection is reported");
    b.commit_segment(commit("two")).await.unwrap();
    let Change::Offsets { offsets, .. } = next(&mut feed).await else { panic!("offsets expected") };
    assert_eq!(offsets.next_offset, 10);
}

/// SQLite has no other writers to hear from.
#[tokio::test]
async fn sqlite_has_no_change_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlMetastore::open(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap();
    assert!(store.changes().await.unwrap().is_none());
}
