//! The decision rules, case by case as Kafka's authorizer tests state them.

use super::*;
use crate::model::binding;
use AclOperation::*;
use PatternType::*;
use ResourceType::*;

const ALICE: &str = "User:alice";
const BOB: &str = "User:bob";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn local() -> IpAddr {
    ip("127.0.0.1")
}

fn policy(bindings: &[AclBinding]) -> Policy {
    Policy::new(bindings, Vec::new(), false)
}

fn allow(rt: ResourceType, name: &str, pattern: PatternType, principal: &str, op: AclOperation) -> AclBinding {
    binding(rt, name, pattern, principal, op, Permission::Allow)
}

fn deny(rt: ResourceType, name: &str, pattern: PatternType, principal: &str, op: AclOperation) -> AclBinding {
    binding(rt, name, pattern, principal, op, Permission::Deny)
}

#[test]
fn without_bindings_the_no_acl_rule_decides() {
    assert!(!policy(&[]).allows(ALICE, local(), Read, Topic, "t"));
    assert!(Policy::new(&[], Vec::new(), true).allows(ALICE, local(), Read, Topic, "t"));
}

#[test]
fn a_binding_for_someone_else_denies_even_with_the_no_acl_rule() {
    let p = Policy::new(&[allow(Topic, "t", Literal, BOB, Read)], Vec::new(), true);
    assert!(!p.allows(ALICE, local(), Read, Topic, "t"), "the resource has ACLs");
    assert!(p.allows(ALICE, local(), Read, Topic, "other"), "this one has none");
    assert!(p.allows(BOB, local(), Read, Topic, "t"));
}

#[test]
fn deny_wins_over_allow() {
    let p = policy(&[allow(Topic, "t", Literal, ALICE, Read), deny(Topic, "t", Literal, ALICE, Read)]);
    assert!(!p.allows(ALICE, local(), Read, Topic, "t"));
    let p = policy(&[allow(Topic, "t", Literal, ALICE, All), deny(Topic, "*", Literal, WILDCARD_PRINCIPAL, Write)]);
    assert!(p.allows(ALICE, local(), Read, Topic, "t"));
    assert!(!p.allows(ALICE, local(), Write, Topic, "t"), "a wildcard deny for everyone wins");
}

#[test]
fn the_wildcard_principal_and_resource_cover_everyone_and_everything() {
    let p = policy(&[allow(Topic, "*", Literal, WILDCARD_PRINCIPAL, Read)]);
    assert!(p.allows(ALICE, local(), Read, Topic, "any"));
    assert!(p.allows(BOB, local(), Read, Topic, "*"));
    assert!(!p.allows(ALICE, local(), Write, Topic, "any"));
    assert!(!p.allows(ALICE, local(), Read, Group, "any"), "only its resource type");
}

#[test]
fn prefixed_bindings_cover_names_that_start_with_them() {
    let p = policy(&[
        allow(Topic, "orders-", Prefixed, ALICE, Write),
        deny(Topic, "orders-secret", Prefixed, ALICE, Write),
    ]);
    assert!(p.allows(ALICE, local(), Write, Topic, "orders-eu"));
    assert!(p.allows(ALICE, local(), Write, Topic, "orders-"));
    assert!(!p.allows(ALICE, local(), Write, Topic, "orders"), "shorter than the prefix");
    assert!(!p.allows(ALICE, local(), Write, Topic, "orders-secret-1"), "a longer denied prefix wins");
    assert!(!p.allows(ALICE, local(), Write, Topic, "payments"));
    let literal = policy(&[allow(Topic, "orders-", Literal, ALICE, Write)]);
    assert!(!literal.allows(ALICE, local(), Write, Topic, "orders-eu"), "a literal name is not a prefix");
    let star = policy(&[allow(Topic, "*", Prefixed, ALICE, Write)]);
    assert!(!star.allows(ALICE, local(), Write, Topic, "orders"), "a prefixed * is the prefix \"*\"");
}

#[test]
fn prefixes_respect_character_boundaries() {
    let p = policy(&[allow(Topic, "é", Prefixed, ALICE, Read), allow(Topic, "x", Prefixed, ALICE, Read)]);
    assert!(p.allows(ALICE, local(), Read, Topic, "étoile"));
    assert!(!p.allows(ALICE, local(), Read, Topic, "ü"), "a one-byte prefix of a two-byte character");
}

#[test]
fn hosts_are_matched_by_address() {
    let mut b = allow(Topic, "t", Literal, ALICE, Read);
    b.host = "10.0.0.7".into();
    let mut v6 = allow(Topic, "t", Literal, BOB, Read);
    v6.host = "0:0:0:0:0:0:0:1".into();
    let mut name = allow(Topic, "t", Literal, BOB, Write);
    name.host = "localhost".into();
    let p = policy(&[b, v6, name]);
    assert!(p.allows(ALICE, ip("10.0.0.7"), Read, Topic, "t"));
    assert!(p.allows(ALICE, ip("::ffff:10.0.0.7"), Read, Topic, "t"), "an IPv4-mapped address is the IPv4 one");
    assert!(!p.allows(ALICE, ip("10.0.0.8"), Read, Topic, "t"));
    assert!(p.allows(BOB, ip("::1"), Read, Topic, "t"), "Java's long IPv6 form");
    assert!(!p.allows(BOB, local(), Write, Topic, "t"), "host names match no client");
}

#[test]
fn read_write_delete_and_alter_imply_describe() {
    for op in [Read, Write, Delete, Alter] {
        let p = policy(&[allow(Topic, "t", Literal, ALICE, op)]);
        assert!(p.allows(ALICE, local(), Describe, Topic, "t"), "{op}");
        assert!(!p.allows(ALICE, local(), DescribeConfigs, Topic, "t"), "{op}");
    }
    for op in [Create, ClusterAction, AlterConfigs, IdempotentWrite] {
        let p = policy(&[allow(Topic, "t", Literal, ALICE, op)]);
        assert!(!p.allows(ALICE, local(), Describe, Topic, "t"), "{op}");
    }
    let p = policy(&[allow(Topic, "t", Literal, ALICE, Read)]);
    assert!(!p.allows(ALICE, local(), Write, Topic, "t"), "READ does not imply WRITE");
}

#[test]
fn alter_configs_implies_describe_configs() {
    let p = policy(&[allow(Cluster, "kafka-cluster", Literal, ALICE, AlterConfigs)]);
    assert!(p.allows(ALICE, local(), DescribeConfigs, Cluster, "kafka-cluster"));
    assert!(!p.allows(ALICE, local(), Describe, Cluster, "kafka-cluster"));
}

#[test]
fn a_deny_does_not_extend_to_implied_operations() {
    let p = policy(&[allow(Topic, "t", Literal, ALICE, All), deny(Topic, "t", Literal, ALICE, Read)]);
    assert!(!p.allows(ALICE, local(), Read, Topic, "t"));
    assert!(p.allows(ALICE, local(), Describe, Topic, "t"), "DENY READ leaves DESCRIBE");
    let p = policy(&[allow(Topic, "t", Literal, ALICE, Read), deny(Topic, "t", Literal, ALICE, All)]);
    assert!(!p.allows(ALICE, local(), Describe, Topic, "t"), "DENY ALL denies everything");
}

#[test]
fn all_allows_every_operation() {
    let p = policy(&[allow(Group, "g", Literal, ALICE, All)]);
    for op in [Read, Write, Create, Delete, Alter, Describe, DescribeConfigs, AlterConfigs] {
        assert!(p.allows(ALICE, local(), op, Group, "g"), "{op}");
    }
}

#[test]
fn super_users_pass_every_check_and_deny() {
    let users = Policy::parse_super_users(" User:admin ; User:ops;;");
    assert_eq!(users, ["User:admin", "User:ops"]);
    let p = Policy::new(&[deny(Topic, "*", Literal, WILDCARD_PRINCIPAL, All)], users, false);
    assert!(p.allows("User:admin", local(), Write, Topic, "t"));
    assert!(p.allows("User:ops", local(), Alter, Cluster, "kafka-cluster"));
    assert!(!p.allows(ALICE, local(), Write, Topic, "t"));
    assert!(!p.allows("User:*", local(), Write, Topic, "t"));
}

#[test]
fn by_resource_type_an_allow_anywhere_suffices() {
    let p = policy(&[allow(Topic, "t", Literal, ALICE, Write)]);
    assert!(p.allows_any(ALICE, local(), Write, Topic));
    assert!(!p.allows_any(BOB, local(), Write, Topic));
    assert!(!p.allows_any(ALICE, local(), Read, Topic), "operations are not implied here");
    let all = policy(&[allow(Topic, "t-", Prefixed, ALICE, All)]);
    assert!(all.allows_any(ALICE, local(), Write, Topic));
}

#[test]
fn by_resource_type_denies_dominate() {
    let both = policy(&[allow(Topic, "t", Literal, ALICE, Write), deny(Topic, "t", Literal, ALICE, Write)]);
    assert!(!both.allows_any(ALICE, local(), Write, Topic), "same literal denied");
    let prefix = policy(&[allow(Topic, "team-a", Literal, ALICE, Write), deny(Topic, "team", Prefixed, ALICE, Write)]);
    assert!(!prefix.allows_any(ALICE, local(), Write, Topic), "a denied prefix of the name");
    let longer = policy(&[allow(Topic, "team", Prefixed, ALICE, Write), deny(Topic, "team-a", Prefixed, ALICE, Write)]);
    assert!(longer.allows_any(ALICE, local(), Write, Topic), "a longer denied prefix leaves the rest");
    let star =
        policy(&[allow(Topic, "t", Literal, ALICE, Write), deny(Topic, "*", Literal, WILDCARD_PRINCIPAL, Write)]);
    assert!(!star.allows_any(ALICE, local(), Write, Topic), "a wildcard deny");
    let wild =
        policy(&[allow(Topic, "*", Literal, WILDCARD_PRINCIPAL, Write), deny(Topic, "t", Literal, ALICE, Write)]);
    assert!(wild.allows_any(ALICE, local(), Write, Topic), "a wildcard allow");
}

#[test]
fn by_resource_type_honours_super_users_and_the_no_acl_rule() {
    let p = Policy::new(&[deny(Topic, "*", Literal, WILDCARD_PRINCIPAL, Write)], vec!["User:admin".into()], false);
    assert!(p.allows_any("User:admin", local(), Write, Topic));
    let open = Policy::new(&[allow(Topic, "t", Literal, BOB, Write)], Vec::new(), true);
    assert!(open.allows_any(ALICE, local(), Write, Topic), "no ACL on other topics");
    let other_host = {
        let mut b = allow(Topic, "t", Literal, ALICE, Write);
        b.host = "10.1.1.1".into();
        policy(&[b])
    };
    assert!(!other_host.allows_any(ALICE, local(), Write, Topic));
}
