//! Log compaction against a model: random keys, values, tombstones and timings, produced as batches in
//! separate flush segments, cleaned, and read back from offset 0. Also retention by time and by size.

mod common;

use common::{Rec, fixture, produce, read_all, topic};
use proptest::prelude::*;
use std::collections::HashMap;
use weft_maintenance::cleaner::{CleanLimits, CleanPolicy, clean_partition};
use weft_maintenance::retention::{self, RetentionPolicy};

const NOW: i64 = 1_000_000;

fn policy(delete_retention_ms: i64, min_lag_ms: i64) -> CleanPolicy {
    CleanPolicy { delete_retention_ms, min_lag_ms, max_lag_ms: i64::MAX, min_dirty_ratio: 0.0 }
}

/// What Kafka's cleaner leaves: within the cleanable prefix (batches entirely older than the lag, never the
/// newest batch), the latest record per key, tombstones only while younger than delete.retention.ms;
/// everything after the prefix untouched.
fn model(
    batches: &[Vec<Rec>],
    delete_retention_ms: i64,
    min_lag_ms: i64,
) -> Vec<(i64, Option<String>, Option<String>)> {
    let mut prefix = 0;
    for b in &batches[..batches.len().saturating_sub(1)] {
        if b.iter().map(|r| r.2).max().unwrap_or(0) > NOW - min_lag_ms {
            break;
        }
        prefix += 1;
    }
    let mut offset = 0i64;
    let mut all = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        for r in b {
            all.push((offset, i < prefix, r.clone()));
            offset += 1;
        }
    }
    let mut latest: HashMap<String, i64> = HashMap::new();
    for (o, cleanable, (k, _, _)) in &all {
        if let (true, Some(k)) = (cleanable, k) {
            latest.insert(k.clone(), *o);
        }
    }
    all.into_iter()
        .filter(|(o, cleanable, (k, v, ts))| {
            !cleanable
                || (k.as_ref().is_some_and(|k| latest.get(k) == Some(o))
                    && (v.is_some() || *ts >= NOW - delete_retention_ms))
        })
        .map(|(o, _, (k, v, _))| (o, k, v))
        .collect()
}

fn batches_strategy() -> impl Strategy<Value = Vec<Vec<Rec>>> {
    let record = (0..6u8, prop::option::weighted(0.8, 0..1000u32), 0..1000i64)
        .prop_map(|(k, v, age)| (Some(format!("key-{k}")), v.map(|v| format!("value-{v}")), age));
    prop::collection::vec(prop::collection::vec(record, 1..6), 1..12).prop_map(|mut batches| {
        // Timestamps grow with offsets, as with a live producer: each batch is older than the next.
        let n = batches.len() as i64;
        for (i, b) in batches.iter_mut().enumerate() {
            for r in b.iter_mut() {
                r.2 = NOW - (n - i as i64) * 1000 + r.2 % 1000;
            }
        }
        batches
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn compaction_matches_the_model(
        batches in batches_strategy(),
        delete_retention_ms in prop::sample::select(vec![0i64, 2500, 1_000_000]),
        min_lag_ms in prop::sample::select(vec![0i64, 3500, 1_000_000]),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let f = fixture().await;
            let t = topic(&f, "compacted", 1).await;
            for (i, b) in batches.iter().enumerate() {
                produce(&f, &t, 1000 + i as i64, i as u64, &[(0, b.clone())]).await;
            }
            let p = policy(delete_retention_ms, min_lag_ms);
            for (pass, force) in [(1u64, false), (2, true)] {
                let clean_offset = f.meta.partition_storage(t.id).await.expect("storage")[0].1.clean_offset;
                clean_partition(f.meta.as_ref(), &f.storage, t.id, 0, clean_offset, p, CleanLimits::default(), NOW, pass, force)
                    .await
                    .expect("clean");
                let got: Vec<(i64, Option<String>, Option<String>)> = read_all(&f, &t, 0)
                    .await
                    .into_iter()
                    .map(|(o, k, v)| {
                        let s = |b: Option<bytes::Bytes>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
                        (o, s(k), s(v))
                    })
                    .collect();
                assert_eq!(got, model(&batches, delete_retention_ms, min_lag_ms), "pass {pass}");
            }
            let end = f.meta.partition_offsets(t.id, 0).await.expect("offsets").expect("partition").next_offset;
            assert_eq!(end, batches.iter().map(|b| b.len() as i64).sum::<i64>(), "the log end never moves");
        });
    }
}

#[tokio::test]
async fn retention_by_time_and_size_moves_the_log_start() {
    let f = fixture().await;
    let t = topic(&f, "retained", 1).await;
    for i in 0..10i64 {
        let recs: Vec<Rec> = (0..3).map(|j| (None, Some(format!("v{i}-{j}")), 1000 * i)).collect();
        produce(&f, &t, 1000 * i, i as u64, &[(0, recs)]).await;
    }
    let by_time = RetentionPolicy { retention_ms: 4500, retention_bytes: -1 };
    let moved = retention::apply(f.meta.as_ref(), t.id, 1, by_time, 9000).await.expect("retention");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].1.log_start, 15, "batches with timestamps before 4500 are gone");
    assert_eq!(read_all(&f, &t, 0).await.first().map(|r| r.0), Some(15));
    let batch_bytes = f.meta.read_index(t.id, 0, 15, u64::MAX, 10).await.expect("index")[0].byte_len as i64;
    let by_size = RetentionPolicy { retention_ms: -1, retention_bytes: 2 * batch_bytes };
    let moved = retention::apply(f.meta.as_ref(), t.id, 1, by_size, 9000).await.expect("retention");
    assert_eq!(moved[0].1.log_start, 24, "the newest two batches are kept");
    let unchanged = retention::apply(f.meta.as_ref(), t.id, 1, by_size, 9000).await.expect("retention");
    assert!(unchanged.is_empty());
    let everything = RetentionPolicy { retention_ms: 0, retention_bytes: -1 };
    let moved = retention::apply(f.meta.as_ref(), t.id, 1, everything, 100_000).await.expect("retention");
    assert_eq!(moved[0].1.log_start, 30, "all data expired: the log start reaches the end");
    assert!(read_all(&f, &t, 0).await.is_empty());
}
