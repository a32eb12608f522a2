use super::*;
use crate::summary::parse_subscription;

/// What a test's sync resolves to if the coordinator dropped the waiter (no test expects it).
pub(crate) const DROPPED: GroupError = GroupError::NotCoordinator;

/// A coordinator on a fresh SQLite metastore in a temporary directory.
pub(crate) struct Harness {
    pub c: Arc<Coordinator>,
    pub store: Arc<weft_meta::SqlMetastore>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Another coordinator on the same store, as after a restart or a move.
    pub fn restart(&self) -> Arc<Coordinator> {
        Arc::new(Coordinator::new(config(), self.store.clone()))
    }
}

impl std::ops::Deref for Harness {
    type Target = Arc<Coordinator>;
    fn deref(&self) -> &Arc<Coordinator> {
        &self.c
    }
}

fn config() -> GroupConfig {
    GroupConfig { initial_rebalance_delay_ms: 0, ..GroupConfig::default() }
}

pub(crate) async fn coordinator() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let store = Arc::new(weft_meta::SqlMetastore::open(&url).await.unwrap());
    Harness { c: Arc::new(Coordinator::new(config(), store.clone())), store, _dir: dir }
}

pub(crate) fn params(member: &str, instance: Option<&str>) -> JoinParams {
    JoinParams {
        group_id: "g".into(),
        member_id: member.into(),
        instance_id: instance.map(String::from),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        require_known_member_id: true,
    }
}

pub(crate) async fn join(c: &Arc<Coordinator>, p: JoinParams, new_id: &str) -> JoinResult {
    c.join(p, new_id.into()).resolve(JoinResult::error(GroupError::UnknownMemberId, "dropped")).await
}

#[tokio::test]
async fn two_step_join_then_sync_makes_a_stable_group() {
    let c = coordinator().await;
    let first = join(&c, params("", None), "m1").await;
    assert_eq!(first.error, Some(GroupError::MemberIdRequired));
    assert_eq!(first.member_id, "m1");
    let joined = join(&c, params("m1", None), "unused").await;
    assert_eq!((joined.error, joined.generation, joined.leader.as_str()), (None, 1, "m1"));
    assert_eq!(joined.members.len(), 1, "the leader gets the member list");
    let synced = c
        .sync("g", 1, "m1", None, Some("consumer"), Some("range"), vec![("m1".into(), Bytes::from_static(b"a1"))])
        .resolve(Err(DROPPED))
        .await;
    assert_eq!(synced.as_deref(), Ok(&b"a1"[..]));
    assert_eq!(c.describe("g").map(|s| s.state), Some("Stable"));
    assert_eq!(c.heartbeat("g", 1, "m1", None), Ok(()));
    assert_eq!(c.heartbeat("g", 0, "m1", None), Err(GroupError::IllegalGeneration));
    assert_eq!(c.heartbeat("g", 1, "nobody", None), Err(GroupError::UnknownMemberId));
    assert_eq!(c.check_commit("g", 1, "m1", None), Ok(()));
    assert_eq!(c.check_commit("g", 7, "m1", None), Err(GroupError::IllegalGeneration));
}

#[tokio::test]
async fn a_second_member_triggers_a_rebalance_and_both_get_assignments() {
    let c = coordinator().await;
    join(&c, params("", None), "m1").await;
    join(&c, params("m1", None), "").await;
    assert!(c.sync("g", 1, "m1", None, None, None, vec![]).resolve(Err(DROPPED)).await.is_ok());
    join(&c, params("", None), "m2").await;
    let m2 = c.join(params("m2", None), String::new());
    assert_eq!(c.heartbeat("g", 1, "m1", None), Err(GroupError::RebalanceInProgress));
    let m1 = join(&c, params("m1", None), "").await;
    let m2 = m2.resolve(JoinResult::error(GroupError::UnknownMemberId, "")).await;
    assert_eq!((m1.generation, m2.generation), (2, 2));
    assert_eq!(m1.members.len() + m2.members.len(), 2, "only the leader gets the roster");
    let follower = c.sync("g", 2, "m2", None, None, None, vec![]);
    let leader = c
        .sync(
            "g",
            2,
            "m1",
            None,
            None,
            None,
            vec![("m1".into(), Bytes::from_static(b"p0")), ("m2".into(), Bytes::from_static(b"p1"))],
        )
        .resolve(Err(DROPPED))
        .await;
    let follower = follower.resolve(Err(DROPPED)).await;
    assert_eq!(leader.as_deref(), Ok(&b"p0"[..]));
    assert_eq!(follower.as_deref(), Ok(&b"p1"[..]));
    assert_eq!(c.leave("g", &[("m2".into(), None)]), vec![Ok(())]);
    assert_eq!(c.describe("g").map(|s| s.state), Some("PreparingRebalance"));
}

#[tokio::test]
async fn a_restarted_static_member_keeps_its_assignment_without_a_rebalance() {
    let c = coordinator().await;
    let joined = join(&c, params("", Some("pod-0")), "pod-0-a").await;
    assert_eq!((joined.error, joined.member_id.as_str()), (None, "pod-0-a"));
    let synced = c
        .sync("g", 1, "pod-0-a", Some("pod-0"), None, None, vec![("pod-0-a".into(), Bytes::from_static(b"mine"))])
        .resolve(Err(DROPPED))
        .await;
    assert_eq!(synced.as_deref(), Ok(&b"mine"[..]));
    let rejoined = join(&c, params("", Some("pod-0")), "pod-0-b").await;
    assert_eq!((rejoined.error, rejoined.generation, rejoined.member_id.as_str()), (None, 1, "pod-0-b"));
    let synced = c.sync("g", 1, "pod-0-b", Some("pod-0"), None, None, vec![]).resolve(Err(DROPPED)).await;
    assert_eq!(synced.as_deref(), Ok(&b"mine"[..]));
    assert_eq!(c.heartbeat("g", 1, "pod-0-a", Some("pod-0")), Err(GroupError::FencedInstanceId));
}

#[tokio::test]
async fn invalid_joins_are_refused() {
    let c = coordinator().await;
    let mut p = params("", None);
    p.session_timeout_ms = 10;
    assert_eq!(join(&c, p, "x").await.error, Some(GroupError::InvalidSessionTimeout));
    let mut p = params("", None);
    p.group_id = String::new();
    assert_eq!(join(&c, p, "x").await.error, Some(GroupError::InvalidGroupId));
    assert_eq!(join(&c, params("ghost", None), "x").await.error, Some(GroupError::UnknownMemberId));
    join(&c, params("", None), "m1").await;
    join(&c, params("m1", None), "").await;
    let mut p = params("", None);
    p.protocol_type = "connect".into();
    assert_eq!(join(&c, p, "x").await.error, Some(GroupError::InconsistentGroupProtocol));
}

#[test]
fn subscriptions_are_read_from_consumer_protocol_metadata() {
    // version 0, topics ["a", "bc"], no user data
    let md = [0u8, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c', 0xff, 0xff, 0xff, 0xff];
    assert_eq!(parse_subscription(&md), vec!["a".to_string(), "bc".to_string()]);
    assert!(parse_subscription(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_empty(), "a lying count reads nothing");
    assert!(parse_subscription(&[]).is_empty());
}

#[tokio::test]
async fn deleting_a_group_refuses_members_and_forgets_an_empty_group_with_its_pending_ids() {
    let c = coordinator().await;
    assert_eq!(c.delete_group("g").await, Ok(false), "an unknown group");
    join(&c, params("", None), "m1").await;
    join(&c, params("m1", None), "").await;
    assert_eq!(c.delete_group("g").await, Err(GroupError::NonEmptyGroup));
    assert_eq!(c.leave("g", &[("m1".into(), None)]), vec![Ok(())]);
    // A member id handed out but never used keeps the group known (and listed) until it expires.
    join(&c, params("", None), "m2").await;
    assert_eq!(c.describe("g").map(|s| s.state), Some("Empty"));
    assert_eq!(c.delete_group("g").await, Ok(true));
    assert!(c.describe("g").is_none() && c.list().is_empty(), "the group is gone");
    let rejoin = join(&c, params("m2", None), "m3").await;
    assert_eq!(rejoin.error, Some(GroupError::UnknownMemberId), "the pending id was forgotten with the group");
}
