use super::*;
use uuid::Uuid;

fn topics() -> Vec<TopicInfo> {
    vec![TopicInfo { name: "t".into(), id: Uuid::from_u128(1), partitions: 2 }]
}

fn hb(member: &str, epoch: i32, subscribed: Option<&[&str]>, now_ms: i64) -> ShareHeartbeat {
    ShareHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rack: None,
        subscribed: subscribed.map(|s| s.iter().map(|n| n.to_string()).collect()),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 45_000,
        now_ms,
    }
}

#[test]
fn a_joining_member_keeps_its_id_and_gets_every_subscribed_partition() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    let beat = groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    assert_eq!(beat.member_id, "m1");
    assert_eq!(beat.epoch, 1);
    let all: BTreeSet<_> = [(Uuid::from_u128(1), 0), (Uuid::from_u128(1), 1)].into();
    assert_eq!(beat.assignment, Some(all.clone()));
    // A second member shares the partitions; the first sees the new epoch with its unchanged partitions.
    let second = groups.heartbeat(hb("m2", 0, Some(&["t"]), 10), &topics()).unwrap();
    assert_eq!((second.epoch, second.assignment), (2, Some(all.clone())));
    let again = groups.heartbeat(hb("m1", 1, None, 20), &topics()).unwrap();
    assert_eq!(again.epoch, 2);
    // A steady heartbeat at the current epoch carries no assignment.
    let steady = groups.heartbeat(hb("m1", 2, None, 30), &topics()).unwrap();
    assert_eq!((steady.epoch, steady.assignment), (2, None));
}

#[test]
fn epochs_are_checked_as_kafka_does() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    let err = groups.heartbeat(hb("x", 3, None, 0), &topics()).unwrap_err();
    assert_eq!(err.code(), 25);
    groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    groups.heartbeat(hb("m2", 0, Some(&["t"]), 0), &topics()).unwrap();
    groups.heartbeat(hb("m1", 1, None, 0), &topics()).unwrap();
    // m1 is at epoch 2 with previous 1: 1 is accepted (lost response), 3 and 0-without-rejoin are not.
    assert!(groups.heartbeat(hb("m1", 1, None, 0), &topics()).is_ok());
    assert_eq!(groups.heartbeat(hb("m1", 3, None, 0), &topics()).unwrap_err().code(), 110);
    // Epoch 0 with a known id rejoins and gets the whole assignment again.
    let rejoin = groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    assert!(rejoin.assignment.is_some());
}

#[test]
fn bad_requests_are_invalid_and_leaving_is_always_answered() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    assert_eq!(groups.heartbeat(hb("m1", 0, Some(&[]), 0), &topics()).unwrap_err().code(), 42);
    assert_eq!(groups.heartbeat(hb("", 0, Some(&["t"]), 0), &topics()).unwrap_err().code(), 42);
    assert_eq!(groups.heartbeat(hb("m1", -2, None, 0), &topics()).unwrap_err().code(), 42);
    groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    let left = groups.heartbeat(hb("m1", -1, None, 0), &topics()).unwrap();
    assert_eq!((left.member_id.as_str(), left.epoch), ("m1", -1));
    assert_eq!(groups.heartbeat(hb("m1", -1, None, 0), &topics()).unwrap().epoch, -1);
    assert_eq!(groups.list(), vec![("g".to_string(), "Empty")]);
    assert_eq!(groups.delete("g"), Ok(true));
}

#[test]
fn members_expire_after_their_session_and_a_group_with_members_is_not_deleted() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    assert_eq!(groups.delete("g").unwrap_err().code(), 68);
    assert!(groups.expire(44_999).is_empty());
    assert_eq!(groups.expire(45_000), vec![("g".to_string(), "m1".to_string())]);
    assert_eq!(groups.describe("g").unwrap().state, "Empty");
    assert_eq!(groups.heartbeat(hb("m1", 1, None, 45_001), &topics()).unwrap_err().code(), 25);
}

#[test]
fn a_new_partition_bumps_the_epoch_and_is_assigned() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    let more = vec![TopicInfo { name: "t".into(), id: Uuid::from_u128(1), partitions: 3 }];
    let beat = groups.heartbeat(hb("m1", 1, None, 0), &more).unwrap();
    assert_eq!(beat.epoch, 2);
    assert_eq!(beat.assignment.map(|a| a.len()), Some(3));
}

#[test]
fn the_member_limit_holds() {
    let groups = ShareGroups::new(ShareGroupLimits { max_members: 1, max_groups: 10 });
    groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    // GROUP_MAX_SIZE_REACHED is 81 (64 is INVALID_SESSION_TIMEOUT).
    assert_eq!(groups.heartbeat(hb("m2", 0, Some(&["t"]), 0), &topics()).unwrap_err().code(), 81);
}

#[test]
fn member_ids_longer_than_a_uuid_string_are_invalid() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    let uuid = "0123456789abcdef0123456789abcdef0123";
    assert!(groups.heartbeat(hb(uuid, 0, Some(&["t"]), 0), &topics()).is_ok());
    let long = "x".repeat(MAX_MEMBER_ID_LEN + 1);
    assert_eq!(groups.heartbeat(hb(&long, 0, Some(&["t"]), 0), &topics()).unwrap_err().code(), 42);
}

#[test]
fn offsets_change_only_in_an_empty_group_and_alter_creates_it() {
    let groups = ShareGroups::new(ShareGroupLimits::default());
    assert_eq!(groups.admit_offset_change("g", false), Ok(false));
    assert!(!groups.contains("g"));
    assert_eq!(groups.admit_offset_change("g", true), Ok(true));
    assert_eq!(groups.describe("g").map(|g| g.state), Some("Empty"));
    groups.heartbeat(hb("m1", 0, Some(&["t"]), 0), &topics()).unwrap();
    assert_eq!(groups.admit_offset_change("g", true).map_err(|e| e.code()), Err(68));
    groups.heartbeat(hb("m1", 1, None, 10), &topics()).unwrap();
    groups.heartbeat(hb("m1", -1, None, 20), &topics()).unwrap();
    assert_eq!(groups.admit_offset_change("g", false), Ok(true));
}
