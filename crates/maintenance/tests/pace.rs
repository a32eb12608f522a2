//! The service within its budget: a pass stops starting work once its byte allowance is spent, and the next
//! pass resumes with the partitions it did not reach, so every partition gets its turn; its byte rate and
//! its share of the metastore's time pace it.

mod common;

use common::{Fixture, fixture, produce, topic};
use std::sync::Arc;
use std::time::Duration;
use weft_clock::{Clock, ManualClock, SequentialIds};
use weft_maintenance::{BudgetLimits, Deps, Maintainer, Schedule};
use weft_meta::Topic;
use weft_storage::keys;

fn maintainer(f: &Fixture, budget: BudgetLimits) -> Maintainer {
    maintainer_on(f, budget, Arc::new(ManualClock(100_000.into())))
}

fn maintainer_on(f: &Fixture, budget: BudgetLimits, clock: Arc<dyn Clock>) -> Maintainer {
    let deps = Deps {
        meta: f.meta.clone(),
        storage: f.storage.clone(),
        topics: Arc::new(weft_topics::TopicCache::new(Duration::from_secs(60), 1 << 20)),
        partitions: Arc::new(weft_log::PartitionWatch::default()),
        clock,
        ids: Arc::new(SequentialIds::default()),
    };
    let schedule = Schedule {
        interval: Duration::from_secs(5),
        merge_target_bytes: 1 << 20,
        merge_min_age: Duration::ZERO,
        gc_grace: Duration::from_secs(60),
        orphan_grace: Duration::from_secs(600),
        budget,
    };
    Maintainer::new(deps, schedule)
}

/// Partitions whose batches all live in merged objects.
async fn merged(f: &Fixture, t: &Topic) -> Vec<bool> {
    let mut out = Vec::new();
    for p in 0..t.partitions {
        let rows = f.meta.read_index(t.id, p, 0, u64::MAX, 100).await.expect("index");
        out.push(rows.iter().all(|r| r.object_key.starts_with(keys::MERGED_DIR)));
    }
    out
}

async fn seed(f: &Fixture) -> Topic {
    let t = topic(f, "paced", 3).await;
    for i in 0..6i64 {
        let rec = |p: i32| (Some(format!("k{p}-{i}")), Some(format!("v{p}-{i}")), 1000 + i);
        produce(f, &t, 1000 + i, i as u64, &[(0, vec![rec(0)]), (1, vec![rec(1)]), (2, vec![rec(2)])]).await;
    }
    t
}

#[tokio::test]
async fn a_pass_stops_at_its_allowance_and_the_next_resumes_where_it_stopped() {
    let f = fixture().await;
    let t = seed(&f).await;
    // Any merge spends this allowance: one partition per pass.
    let m = maintainer(&f, BudgetLimits { bytes_per_pass: 1, ..BudgetLimits::UNLIMITED });
    m.run_one_pass().await;
    assert_eq!(merged(&f, &t).await, [true, false, false]);
    m.run_one_pass().await;
    assert_eq!(merged(&f, &t).await, [true, true, false]);
    m.run_one_pass().await;
    assert_eq!(merged(&f, &t).await, [true, true, true]);
}

#[tokio::test]
async fn an_unlimited_pass_does_all_its_work() {
    let f = fixture().await;
    let t = seed(&f).await;
    let m = maintainer(&f, BudgetLimits::UNLIMITED);
    m.run_one_pass().await;
    assert_eq!(merged(&f, &t).await, [true, true, true]);
}

#[tokio::test]
async fn the_byte_rate_paces_a_pass() {
    let f = fixture().await;
    let t = seed(&f).await;
    let stored: u64 = {
        let mut n = 0;
        for p in 0..t.partitions {
            let rows = f.meta.read_index(t.id, p, 0, u64::MAX, 100).await.expect("index");
            n += rows.iter().map(|r| u64::from(r.byte_len)).sum::<u64>();
        }
        n
    };
    // Read once and written once (plus each object's index): at `stored` bytes per second, the pass takes
    // about two seconds beyond the bucket's tenth of a second.
    let m = maintainer(&f, BudgetLimits { bytes_per_sec: stored, ..BudgetLimits::UNLIMITED });
    let started = std::time::Instant::now();
    m.run_one_pass().await;
    let took = started.elapsed();
    assert_eq!(merged(&f, &t).await, [true, true, true]);
    assert!(took >= Duration::from_millis(1_800), "{took:?}");
}

#[tokio::test]
async fn the_metastore_share_rests_after_every_index_rewrite() {
    let f = fixture().await;
    let t = seed(&f).await;
    // At 1% each of the three merges' index switches (a metastore transaction of at least a few round trips
    // and a commit, well over 100 us) is followed by a rest of 99 times its length.
    let m = maintainer(&f, BudgetLimits { metastore_percent: 1, ..BudgetLimits::UNLIMITED });
    let started = std::time::Instant::now();
    m.run_one_pass().await;
    let took = started.elapsed();
    assert_eq!(merged(&f, &t).await, [true, true, true]);
    assert!(took >= Duration::from_micros(3 * 99 * 100), "{took:?}");
}

/// A clock that moves 11 s every time it is read, so a pass outlives a third of its 30 s lease at once.
struct SteppingClock(std::sync::atomic::AtomicI64);

impl Clock for SteppingClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(11_000, std::sync::atomic::Ordering::SeqCst) + 11_000
    }
}

#[tokio::test]
async fn a_leased_pass_waits_for_the_lease_and_renews_it_as_it_goes() {
    let f = fixture().await;
    let t = seed(&f).await;
    assert!(f.meta.acquire_lease("maintenance", "b", 100_000, 30_000).await.expect("lease"));
    let clock = Arc::new(SteppingClock(100_000.into()));
    let m = maintainer_on(&f, BudgetLimits::UNLIMITED, clock);
    // Agent b holds the lease until 130 s: a's passes at 111 s and 122 s run nothing.
    assert!(!m.run_leased_pass("a").await);
    assert!(!m.run_leased_pass("a").await);
    assert_eq!(merged(&f, &t).await, [false, false, false]);
    // At 133 s b's lease is over: a takes it until 163 s, and renews it during the pass.
    assert!(m.run_leased_pass("a").await);
    assert_eq!(merged(&f, &t).await, [true, true, true]);
    let renewed = !f.meta.acquire_lease("maintenance", "b", 163_001, 30_000).await.expect("lease");
    assert!(renewed, "the pass renewed its lease past its first expiry");
}
