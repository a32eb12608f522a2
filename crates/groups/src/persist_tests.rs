//! Group state written to the metastore and loaded by another coordinator on the same store (a restart or a
//! coordinator move): members carry on without rejoining.

use super::*;
use crate::consumer::TopicInfo;
use crate::tests::{DROPPED, Harness, coordinator, join, params};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use weft_meta::{CommittedOffset, GroupStateRecord, Groups as _, LeaseFence};

async fn stable_group_of_one(c: &Harness) {
    join(c, params("", None), "m1").await;
    let joined = join(c, params("m1", None), "").await;
    assert_eq!((joined.error, joined.generation), (None, 1));
    let synced = c
        .sync("g", 1, "m1", None, None, None, vec![("m1".into(), Bytes::from_static(b"a1"))])
        .resolve(Err(DROPPED))
        .await;
    assert_eq!(synced.as_deref(), Ok(&b"a1"[..]));
}

#[tokio::test]
async fn a_stable_generation_survives_a_restart() {
    let c = coordinator().await;
    stable_group_of_one(&c).await;
    let stored = c.store.load_group_state("g").await.unwrap().expect("stored when sync completed");
    assert_eq!(
        (stored.kind.as_str(), stored.state.as_str(), stored.protocol_type.as_str()),
        ("classic", "Stable", "consumer")
    );

    let after = c.restart();
    assert_eq!(after.heartbeat("g", 1, "m1", None), Err(GroupError::UnknownMemberId), "not loaded yet");
    after.load("g").await.unwrap();
    assert_eq!(after.heartbeat("g", 1, "m1", None), Ok(()), "same member, same generation");
    assert_eq!(after.check_commit("g", 1, "m1", None), Ok(()));
    let summary = after.describe("g").unwrap();
    assert_eq!((summary.state, summary.protocol_name.as_str()), ("Stable", "range"));
    assert_eq!(summary.members[0].5, Bytes::from_static(b"a1"), "the assignment is kept");
    // A repeated SyncGroup of the generation answers the stored assignment.
    let synced = after.sync("g", 1, "m1", None, None, None, vec![]).resolve(Err(DROPPED)).await;
    assert_eq!(synced.as_deref(), Ok(&b"a1"[..]));
}

#[tokio::test]
async fn a_group_loaded_mid_rebalance_resumes_from_its_last_stable_generation() {
    let c = coordinator().await;
    stable_group_of_one(&c).await;
    // A second member starts a rebalance (never stored, as in Kafka).
    let m2 = join(&c, params("", None), "m2").await;
    assert_eq!(m2.error, Some(GroupError::MemberIdRequired));
    let _waiting = c.join(params("m2", None), String::new());
    assert_eq!(c.describe("g").unwrap().state, "PreparingRebalance");

    let after = c.restart();
    after.load("g").await.unwrap();
    let summary = after.describe("g").unwrap();
    assert_eq!((summary.state, summary.members.len()), ("Stable", 1));
    assert_eq!(after.heartbeat("g", 1, "m1", None), Ok(()));
    assert_eq!(after.heartbeat("g", 1, "m2", None), Err(GroupError::UnknownMemberId));
}

#[tokio::test]
async fn an_emptied_group_is_stored_empty_and_deleting_it_removes_the_state() {
    let c = coordinator().await;
    stable_group_of_one(&c).await;
    assert_eq!(c.leave("g", &[("m1".into(), None)]), vec![Ok(())]);
    let mut state = String::new();
    for _ in 0..100 {
        state = c.store.load_group_state("g").await.unwrap().map(|r| r.state).unwrap_or_default();
        if state == "Empty" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state, "Empty");
    let after = c.restart();
    after.load("g").await.unwrap();
    let summary = after.describe("g").unwrap();
    assert_eq!((summary.state, summary.protocol_type.as_str()), ("Empty", "consumer"));
    // The generation carries on from the stored one.
    join(&after, params("", None), "m3").await;
    assert_eq!(join(&after, params("m3", None), "").await.generation, 3);

    let fresh = c.restart();
    fresh.load("g").await.unwrap();
    assert_eq!(fresh.delete_group("g").await, Ok(true));
    assert_eq!(c.store.load_group_state("g").await.unwrap(), None, "deleted");
    assert_eq!(fresh.delete_group("g").await, Ok(false));
}

#[tokio::test]
async fn a_static_replacement_is_stored_before_it_is_answered() {
    let c = coordinator().await;
    join(&c, params("", Some("pod-0")), "pod-0-a").await;
    c.sync("g", 1, "pod-0-a", Some("pod-0"), None, None, vec![("pod-0-a".into(), Bytes::from_static(b"mine"))])
        .resolve(Err(DROPPED))
        .await
        .unwrap();
    let rejoined = join(&c, params("", Some("pod-0")), "pod-0-b").await;
    assert_eq!((rejoined.error, rejoined.generation), (None, 1));
    let after = c.restart();
    after.load("g").await.unwrap();
    assert_eq!(after.heartbeat("g", 1, "pod-0-b", Some("pod-0")), Ok(()));
    assert_eq!(after.heartbeat("g", 1, "pod-0-a", Some("pod-0")), Err(GroupError::FencedInstanceId));
}

fn topic() -> TopicInfo {
    TopicInfo { name: "t".into(), id: uuid::Uuid::from_u128(7), partitions: 3 }
}

fn beat(member_id: &str, epoch: i32, owned: Option<BTreeSet<consumer::Tp>>) -> HeartbeatParams {
    HeartbeatParams {
        group_id: "cg".into(),
        member_id: member_id.into(),
        member_epoch: epoch,
        instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        subscribed: (epoch == 0).then(|| vec!["t".to_string()]),
        regex: None,
        assignor: None,
        owned,
        session_timeout: None,
    }
}

#[tokio::test]
async fn a_consumer_group_member_keeps_its_epoch_across_a_restart() {
    let c = coordinator().await;
    let first =
        c.consumer_heartbeat(beat("", 0, Some(BTreeSet::new())), "c1".into(), vec![topic()], &|_| true).await.unwrap();
    let assigned = first.assignment.clone().unwrap();
    assert_eq!((first.member_id.as_str(), first.epoch, assigned.len()), ("c1", 1, 3));
    let stored = c.store.load_group_state("cg").await.unwrap().unwrap();
    assert_eq!((stored.kind.as_str(), stored.state.as_str()), ("consumer", "Stable"));

    let after = c.restart();
    after.load("cg").await.unwrap();
    let next = after
        .consumer_heartbeat(beat("c1", 1, Some(assigned.clone())), "unused".into(), vec![topic()], &|_| true)
        .await
        .unwrap();
    assert_eq!((next.epoch, next.assignment), (1, None), "same epoch, nothing to change");
    assert_eq!(after.check_commit("cg", 1, "c1", None), Ok(()));
    let snapshot = after.snapshot_consumer_group("cg").unwrap();
    assert_eq!(snapshot.members[0].target, assigned);
    // A stale epoch is still fenced.
    let stale = after.consumer_heartbeat(beat("c1", 5, None), "unused".into(), vec![topic()], &|_| true).await;
    assert_eq!(stale.unwrap_err(), GroupError::FencedMemberEpoch);
}

#[tokio::test]
async fn eviction_answers_waiters_and_writes_nothing() {
    let c = coordinator().await;
    stable_group_of_one(&c).await;
    let before = c.store.load_group_state("g").await.unwrap();
    let pending = c.join(params("", None), "m2".into());
    let waiting = c.join(params("m2", None), String::new());
    assert!(matches!(pending, Reply::Now(_)));
    assert_eq!(c.evict(|id| id == "g"), 1);
    let answer = waiting.resolve(JoinResult::error(GroupError::UnknownMemberId, "dropped")).await;
    assert_eq!(answer.error, Some(GroupError::NotCoordinator));
    assert!(c.describe("g").is_none());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(c.store.load_group_state("g").await.unwrap(), before, "nothing written");
    c.load("g").await.unwrap();
    assert_eq!(c.heartbeat("g", 1, "m1", None), Ok(()), "loaded again from the store");
}

/// A groups store that counts loads and can refuse writes.
struct Flaky {
    inner: Arc<weft_meta::SqlMetastore>,
    fail_writes: AtomicBool,
    loads: AtomicUsize,
}

#[async_trait::async_trait]
impl weft_meta::Groups for Flaky {
    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[CommittedOffset],
        fence: Option<&LeaseFence>,
    ) -> weft_meta::Result<bool> {
        self.inner.commit_offsets(group, offsets, fence).await
    }
    async fn committed_offsets(&self, g: &str, t: Option<&[String]>) -> weft_meta::Result<Vec<CommittedOffset>> {
        self.inner.committed_offsets(g, t).await
    }
    async fn groups_with_offsets(&self) -> weft_meta::Result<Vec<String>> {
        self.inner.groups_with_offsets().await
    }
    async fn delete_offsets(&self, group: &str, p: Option<&[(String, i32)]>) -> weft_meta::Result<u64> {
        self.inner.delete_offsets(group, p).await
    }
    async fn expire_offsets(&self, older_than_ms: i64, active: &[String]) -> weft_meta::Result<u64> {
        self.inner.expire_offsets(older_than_ms, active).await
    }
    async fn pending_txn_offsets(&self, group: &str) -> weft_meta::Result<Vec<(String, i32)>> {
        self.inner.pending_txn_offsets(group).await
    }
    async fn store_group_state(
        &self,
        record: &GroupStateRecord,
        fence: Option<&LeaseFence>,
    ) -> weft_meta::Result<bool> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(weft_meta::MetaError::Corrupt("injected write failure".into()));
        }
        self.inner.store_group_state(record, fence).await
    }
    async fn load_group_state(&self, group: &str) -> weft_meta::Result<Option<GroupStateRecord>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.inner.load_group_state(group).await
    }
    async fn delete_group_state(&self, group: &str) -> weft_meta::Result<bool> {
        self.inner.delete_group_state(group).await
    }
    async fn list_group_states(&self) -> weft_meta::Result<Vec<GroupStateRecord>> {
        self.inner.list_group_states().await
    }
}

#[tokio::test]
async fn a_failed_write_answers_a_retriable_error_and_the_group_rebalances() {
    let h = coordinator().await;
    let flaky = Arc::new(Flaky { inner: h.store.clone(), fail_writes: AtomicBool::new(true), loads: 0.into() });
    let c = Arc::new(Coordinator::new(
        GroupConfig { initial_rebalance_delay_ms: 0, ..GroupConfig::default() },
        flaky.clone(),
    ));
    join(&c, params("", None), "m1").await;
    join(&c, params("m1", None), "").await;
    let synced = c
        .sync("g", 1, "m1", None, None, None, vec![("m1".into(), Bytes::from_static(b"a1"))])
        .resolve(Err(DROPPED))
        .await;
    assert_eq!(synced, Err(GroupError::CoordinatorNotAvailable));
    assert_eq!(c.describe("g").unwrap().state, "PreparingRebalance");
    assert_eq!(h.store.load_group_state("g").await.unwrap(), None, "nothing stored");
    let heartbeat = c.consumer_heartbeat(beat("", 0, None), "c1".into(), vec![topic()], &|_| true).await;
    assert_eq!(heartbeat.unwrap_err(), GroupError::CoordinatorNotAvailable);
}

#[tokio::test]
async fn concurrent_requests_for_an_unloaded_group_share_one_load() {
    let h = coordinator().await;
    stable_group_of_one(&h).await;
    let flaky = Arc::new(Flaky { inner: h.store.clone(), fail_writes: AtomicBool::new(false), loads: 0.into() });
    let c = Arc::new(Coordinator::new(GroupConfig::default(), flaky.clone()));
    let loads: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.load("g").await })
        })
        .collect();
    for l in loads {
        l.await.unwrap().unwrap();
    }
    assert_eq!(flaky.loads.load(Ordering::SeqCst), 1);
    assert_eq!(c.heartbeat("g", 1, "m1", None), Ok(()));
}

#[tokio::test]
async fn a_group_that_never_had_members_is_not_stored() {
    let c = coordinator().await;
    let first = join(&c, params("", None), "m1").await;
    assert_eq!(first.error, Some(GroupError::MemberIdRequired));
    let refused = c.consumer_heartbeat(beat("ghost", 3, None), "x".into(), vec![topic()], &|_| true).await;
    assert_eq!(refused.unwrap_err(), GroupError::UnknownMemberId);
    c.tick();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(c.store.list_group_states().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_member_whose_answer_was_lost_may_return_with_its_previous_epoch() {
    let c = coordinator().await;
    let first =
        c.consumer_heartbeat(beat("", 0, Some(BTreeSet::new())), "c1".into(), vec![topic()], &|_| true).await.unwrap();
    let three = first.assignment.unwrap();
    let grown = TopicInfo { partitions: 4, ..topic() };
    let bumped =
        c.consumer_heartbeat(beat("c1", 1, Some(three.clone())), "x".into(), vec![grown.clone()], &|_| true).await;
    assert_eq!(bumped.unwrap().epoch, 2);
    // The epoch-2 answer never arrived: the member comes back with epoch 1 and what it owned then.
    let after = c.restart();
    after.load("cg").await.unwrap();
    let retried =
        after.consumer_heartbeat(beat("c1", 1, Some(three)), "x".into(), vec![grown.clone()], &|_| true).await.unwrap();
    assert_eq!((retried.epoch, retried.assignment.map(|a| a.len())), (2, Some(4)));
    let stranger: BTreeSet<consumer::Tp> = [(uuid::Uuid::from_u128(9), 0)].into();
    let fenced = after.consumer_heartbeat(beat("c1", 1, Some(stranger)), "x".into(), vec![grown], &|_| true).await;
    assert_eq!(fenced.unwrap_err(), GroupError::FencedMemberEpoch, "owning more than assigned is fenced");
}

#[tokio::test]
async fn a_static_replacement_that_cannot_be_stored_is_refused_and_reverted() {
    let h = coordinator().await;
    let flaky = Arc::new(Flaky { inner: h.store.clone(), fail_writes: AtomicBool::new(false), loads: 0.into() });
    let c = Arc::new(Coordinator::new(
        GroupConfig { initial_rebalance_delay_ms: 0, ..GroupConfig::default() },
        flaky.clone(),
    ));
    join(&c, params("", Some("pod-0")), "pod-0-a").await;
    let assignment = vec![("pod-0-a".into(), Bytes::from_static(b"mine"))];
    c.sync("g", 1, "pod-0-a", Some("pod-0"), None, None, assignment).resolve(Err(DROPPED)).await.unwrap();
    flaky.fail_writes.store(true, Ordering::SeqCst);
    let rejoined = join(&c, params("", Some("pod-0")), "pod-0-b").await;
    assert_eq!(rejoined.error, Some(GroupError::CoordinatorNotAvailable));
    assert_eq!(c.heartbeat("g", 1, "pod-0-a", Some("pod-0")), Ok(()), "the previous incarnation carries on");
    assert_eq!(c.heartbeat("g", 1, "pod-0-b", Some("pod-0")), Err(GroupError::FencedInstanceId));
}

/// With a lease fence, group state is stored only under the lease: a coordinator that lost the group's
/// shard (no fence, or a lease another agent took) answers NOT_COORDINATOR and stores nothing.
#[tokio::test]
async fn writes_are_fenced_by_the_coordinator_lease() {
    let h = coordinator().await;
    let c = Arc::new(Coordinator::new(
        GroupConfig { initial_rebalance_delay_ms: 0, ..GroupConfig::default() },
        h.store.clone(),
    ));
    let holder = Arc::new(std::sync::Mutex::new(Some("agent-a".to_string())));
    let source = holder.clone();
    c.set_fence(Arc::new(move |_group: &str| {
        let holder = source.lock().unwrap().clone()?;
        Some(LeaseFence { name: "coordinator-1".into(), holder, now_ms: 10 })
    }));
    use weft_meta::Leases as _;
    assert!(h.store.acquire_lease("coordinator-1", "agent-a", 0, 1_000).await.unwrap());
    join(&c, params("", None), "m1").await;
    join(&c, params("m1", None), "").await;
    let synced = c.sync("g", 1, "m1", None, None, None, vec![("m1".into(), Bytes::from_static(b"a1"))]);
    assert!(synced.resolve(Err(DROPPED)).await.is_ok(), "stored under its lease");
    assert_eq!(h.store.load_group_state("g").await.unwrap().map(|g| g.state), Some("Stable".into()));
    // Another agent takes the lease: this coordinator's next write is refused and stores nothing.
    assert!(h.store.acquire_lease("coordinator-1", "agent-b", 2_000, 1_000).await.unwrap());
    let heartbeat = c.consumer_heartbeat(beat("", 0, None), "c1".into(), vec![topic()], &|_| true).await;
    assert_eq!(heartbeat.unwrap_err(), GroupError::NotCoordinator);
    *holder.lock().unwrap() = None;
    let again = c.consumer_heartbeat(beat("", 0, None), "c2".into(), vec![topic()], &|_| true).await;
    assert_eq!(again.unwrap_err(), GroupError::NotCoordinator, "not held here: refused before writing");
    assert_eq!(h.store.load_group_state("g").await.unwrap().map(|g| g.state), Some("Stable".into()));
}

#[tokio::test]
async fn a_regex_subscribes_a_member_only_to_topics_it_may_describe_and_survives_a_restart() {
    let c = coordinator().await;
    let topics = vec![
        TopicInfo { name: "orders-eu".into(), id: uuid::Uuid::from_u128(1), partitions: 2 },
        TopicInfo { name: "orders-us".into(), id: uuid::Uuid::from_u128(2), partitions: 2 },
        TopicInfo { name: "payments".into(), id: uuid::Uuid::from_u128(3), partitions: 2 },
    ];
    let mut p = beat("", 0, Some(BTreeSet::new()));
    p.subscribed = Some(Vec::new());
    p.regex = Some("orders-.*".into());
    let may_describe = |t: &str| t != "orders-us";
    let first = c.consumer_heartbeat(p, "r1".into(), topics.clone(), &may_describe).await.unwrap();
    let assigned = first.assignment.unwrap();
    let ids: BTreeSet<_> = assigned.iter().map(|(t, _)| *t).collect();
    assert_eq!(ids, BTreeSet::from([uuid::Uuid::from_u128(1)]), "only the matching topic it may describe");
    let snapshot = c.snapshot_consumer_group("cg").unwrap();
    assert_eq!(snapshot.members[0].regex.as_deref(), Some("orders-.*"));

    // Another coordinator restores the resolved topics with the pattern.
    let after = c.restart();
    after.load("cg").await.unwrap();
    let next =
        after.consumer_heartbeat(beat("r1", 1, Some(assigned.clone())), "x".into(), topics.clone(), &may_describe);
    assert_eq!(next.await.unwrap().assignment, None, "nothing changes");

    // Once it may describe the other topic, its next heartbeat subscribes it.
    let grown = after.consumer_heartbeat(beat("r1", 1, Some(assigned)), "x".into(), topics.clone(), &|_| true);
    let grown = grown.await.unwrap();
    assert_eq!(grown.assignment.unwrap().len(), 4);

    let mut bad = beat("", 0, None);
    bad.regex = Some("orders-(".into());
    let refused = after.consumer_heartbeat(bad, "r2".into(), topics, &|_| true).await;
    assert_eq!(refused.unwrap_err(), GroupError::InvalidRegularExpression);
}

/// A KIP-848 group's own `consumer.session.timeout.ms` decides when its silent members expire.
#[tokio::test]
async fn a_groups_session_timeout_expires_its_members() {
    let c = coordinator().await;
    let mut short = beat("", 0, Some(BTreeSet::new()));
    short.session_timeout = Some(std::time::Duration::from_millis(200));
    c.consumer_heartbeat(short, "c1".into(), vec![topic()], &|_| true).await.unwrap();
    let mut other = beat("", 0, Some(BTreeSet::new()));
    other.group_id = "default-timeout".into();
    c.consumer_heartbeat(other, "d1".into(), vec![topic()], &|_| true).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    c.tick();
    assert!(c.snapshot_consumer_group("cg").is_none_or(|g| g.members.is_empty()), "expired after 200 ms");
    let kept = c.snapshot_consumer_group("default-timeout").expect("group kept");
    assert_eq!(kept.members.len(), 1, "the coordinator's default (45 s) still holds");
}
