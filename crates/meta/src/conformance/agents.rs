//! Conformance of [`crate::Agents`]: registration with increasing generations, fencing of older
//! incarnations, liveness by TTL, deregistration, allocation of free node ids, and peer read endpoints. Each case runs at later
//! times than the one before, so they also pass in sequence on one store.

use crate::{AgentEndpoint, AgentIncarnation, AgentRegistration, Metastore};

fn agent(node_id: Option<i32>, zone: &str) -> AgentRegistration {
    at(node_id, zone, 9092)
}

fn at(node_id: Option<i32>, zone: &str, port: i32) -> AgentRegistration {
    AgentRegistration {
        node_id,
        host: "10.0.0.1".into(),
        port,
        zone: zone.into(),
        roles: vec!["jobs".into(), "kafka".into()],
        listeners: vec![
            AgentEndpoint { listener: "PLAINTEXT".into(), host: "10.0.0.1".into(), port },
            AgentEndpoint { listener: "SSL".into(), host: "broker-1.example".into(), port: port + 1 },
        ],
        started_ms: 100,
        peer_endpoint: None,
    }
}

fn ids(records: &[crate::AgentRecord]) -> Vec<i32> {
    records.iter().map(|r| r.node_id).collect()
}

/// Each start of a node id gets a greater generation, and only the newest incarnation may heartbeat.
pub async fn generations_fence_older_incarnations(store: &dyn Metastore) {
    let first = store.register_agent(&agent(Some(7), "a"), 1000, 500).await.expect("register");
    assert_eq!(first.node_id, 7);
    assert!(store.heartbeat_agent(first, 1100).await.expect("heartbeat"), "current incarnation heartbeats");
    let second = store.register_agent(&agent(Some(7), "b"), 1200, 500).await.expect("register");
    assert!(second.generation > first.generation, "{second:?} after {first:?}");
    assert!(!store.heartbeat_agent(first, 1300).await.expect("heartbeat"), "older incarnation is fenced");
    assert!(!store.deregister_agent(first, 1300).await.expect("deregister"), "fenced cannot deregister");
    let live = store.live_agents(1300, 500).await.expect("live");
    assert_eq!(live.len(), 1);
    let rec = &live[0];
    assert_eq!((rec.node_id, rec.generation, rec.zone.as_str()), (7, second.generation, "b"));
    assert_eq!((rec.host.as_str(), rec.port, rec.started_ms, rec.heartbeat_ms), ("10.0.0.1", 9092, 100, 1200));
    assert_eq!(rec.roles, vec!["jobs".to_string(), "kafka".to_string()]);
    assert_eq!(rec.listeners, agent(Some(7), "b").listeners, "every listener's endpoint is kept");
    // A stopped node that starts again still gets a newer generation, so the stopped one stays fenced.
    assert!(store.deregister_agent(second, 1400).await.expect("deregister"));
    let third = store.register_agent(&agent(Some(7), "b"), 1500, 500).await.expect("register");
    assert!(third.generation > second.generation);
    assert!(!store.heartbeat_agent(second, 1500).await.expect("heartbeat"));
    assert!(!store.heartbeat_agent(AgentIncarnation { node_id: 99, generation: 1 }, 1500).await.expect("hb"));
}

/// An agent is live while its last heartbeat is within the TTL and it has not deregistered.
pub async fn liveness_follows_heartbeats(store: &dyn Metastore) {
    let a = store.register_agent(&agent(Some(1), "a"), 5000, 500).await.expect("register");
    let b = store.register_agent(&agent(Some(2), "a"), 5000, 500).await.expect("register");
    assert_eq!(ids(&store.live_agents(5500, 500).await.expect("live")), vec![1, 2], "heartbeat at the edge");
    assert!(store.heartbeat_agent(b, 5400).await.expect("heartbeat"));
    assert_eq!(ids(&store.live_agents(5600, 500).await.expect("live")), vec![2], "1 expired");
    assert!(store.heartbeat_agent(a, 5700).await.expect("an expired agent may heartbeat again"));
    assert_eq!(ids(&store.live_agents(5700, 500).await.expect("live")), vec![1, 2]);
    assert!(store.deregister_agent(a, 5750).await.expect("deregister"));
    assert!(!store.heartbeat_agent(a, 5760).await.expect("heartbeat"), "stopped agents do not come back");
    assert_eq!(ids(&store.live_agents(5760, 500).await.expect("live")), vec![2]);
}

/// Node ids asked for are the smallest no live agent holds; ids of stopped or expired agents are reused
/// with a newer generation; an agent restarting at a registered address keeps that address's id.
pub async fn free_node_ids_are_allocated(store: &dyn Metastore) {
    let n0 = store.register_agent(&at(None, "a", 1), 10000, 500).await.expect("register");
    let n1 = store.register_agent(&at(None, "a", 2), 10000, 500).await.expect("register");
    let explicit = store.register_agent(&at(Some(2), "a", 3), 10000, 500).await.expect("register");
    let n3 = store.register_agent(&at(None, "a", 4), 10000, 500).await.expect("register");
    assert_eq!((n0.node_id, n1.node_id, explicit.node_id, n3.node_id), (0, 1, 2, 3));
    assert!(store.deregister_agent(n1, 10100).await.expect("deregister"));
    let again = store.register_agent(&at(None, "a", 5), 10100, 500).await.expect("register");
    assert_eq!(again.node_id, 1, "a stopped agent's id is reused");
    assert!(again.generation > n1.generation);
    for node in [again, explicit, n3] {
        assert!(store.heartbeat_agent(node, 10400).await.expect("heartbeat"));
    }
    // Agent 0 expired (last heartbeat 10000, TTL 500): its id is free at 10600.
    let reused = store.register_agent(&at(None, "a", 6), 10600, 500).await.expect("register");
    assert_eq!(reused.node_id, 0);
    assert!(!store.heartbeat_agent(n0, 10600).await.expect("heartbeat"), "the expired incarnation is fenced");
    assert_eq!(ids(&store.live_agents(10600, 500).await.expect("live")), vec![0, 1, 2, 3]);
    // An agent restarting at the address of a registered one keeps that id, live or not, and fences it.
    let restarted = store.register_agent(&at(None, "a", 4), 10700, 500).await.expect("register");
    assert_eq!(restarted.node_id, 3);
    assert!(restarted.generation > n3.generation);
    assert!(!store.heartbeat_agent(n3, 10700).await.expect("heartbeat"), "the previous incarnation is fenced");
}

/// The peer read endpoint is listed as the live incarnation registered it: set, replaced, or absent (an agent
/// that serves no peers, or an older build).
pub async fn peer_endpoints_follow_registrations(store: &dyn Metastore) {
    let endpoint = |node: i32| async move {
        let live = store.live_agents(20100, 500).await.expect("live");
        live.into_iter().find(|r| r.node_id == node).expect("listed").peer_endpoint
    };
    let with = AgentRegistration { peer_endpoint: Some("10.0.0.1:9095".into()), ..agent(Some(40), "a") };
    store.register_agent(&with, 20000, 500).await.expect("register");
    store.register_agent(&agent(Some(41), "a"), 20000, 500).await.expect("register");
    assert_eq!(endpoint(40).await.as_deref(), Some("10.0.0.1:9095"));
    assert_eq!(endpoint(41).await, None, "an agent without a peer listener has no endpoint");
    let moved = AgentRegistration { peer_endpoint: Some("10.0.0.9:9096".into()), ..with.clone() };
    store.register_agent(&moved, 20050, 500).await.expect("register");
    assert_eq!(endpoint(40).await.as_deref(), Some("10.0.0.9:9096"), "a restart replaces the endpoint");
    store.register_agent(&agent(Some(40), "a"), 20100, 500).await.expect("register");
    assert_eq!(endpoint(40).await, None, "a restart without a listener clears it");
}
