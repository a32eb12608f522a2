//! Membership and coordinator shards over a real (SQLite) registry, with a manual clock: fencing of an
//! older incarnation, expiry of an agent that stops heartbeating, and leases that keep two agents whose
//! views disagree from coordinating the same shard.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_clock::ManualClock;
use weft_cluster::{Membership, MembershipConfig, SHARDS, ShardListener, Shards};
use weft_meta::{AgentEndpoint, Metastore};

struct Setup {
    /// The next agent's port (agents at one address are one agent restarted).
    port: std::sync::atomic::AtomicI32,
    _dir: tempfile::TempDir,
    store: Arc<dyn Metastore>,
    clock: Arc<ManualClock>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = weft_meta::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("store");
    Setup { port: 9092.into(), _dir: dir, store, clock: Arc::new(ManualClock(AtomicI64::new(1000))) }
}

fn config(node_id: Option<i32>, port: i32) -> MembershipConfig {
    MembershipConfig {
        node_id,
        host: "127.0.0.1".into(),
        port,
        listeners: vec![AgentEndpoint { listener: "PLAINTEXT".into(), host: "127.0.0.1".into(), port }],
        zone: "z".into(),
        kafka: true,
        roles: vec!["kafka".into(), "jobs".into()],
        heartbeat_interval: Duration::from_millis(100),
        session_timeout: Duration::from_millis(500),
        peer_endpoint: Some(format!("127.0.0.1:{}", port + 1000)),
    }
}

impl Setup {
    async fn join(&self, node_id: Option<i32>) -> Arc<Membership> {
        let port = self.port.fetch_add(1, Ordering::SeqCst);
        Membership::register(self.store.clone(), self.clock.clone(), config(node_id, port)).await.expect("register")
    }

    fn at(&self, ms: i64) {
        self.clock.0.store(ms, Ordering::SeqCst);
    }
}

fn endpoints(m: &Membership) -> Vec<Option<String>> {
    m.view().brokers.iter().map(|b| b.peer_endpoint.clone()).collect()
}

fn ids(m: &Membership) -> Vec<i32> {
    m.view().brokers.iter().map(|b| b.node_id).collect()
}

#[tokio::test]
async fn each_listener_sees_the_agents_that_have_it_at_their_endpoint() {
    let s = setup().await;
    let plain = s.join(Some(1)).await;
    let mut both = config(Some(2), 9300);
    both.listeners.push(AgentEndpoint { listener: "SSL".into(), host: "b.example".into(), port: 9393 });
    let both = Membership::register(s.store.clone(), s.clock.clone(), both).await.expect("register");
    plain.beat().await;
    both.beat().await;
    let view = plain.view();
    let on_ssl = view.on_listener("SSL");
    assert_eq!(on_ssl.brokers.len(), 1, "the agent without an SSL listener is left out");
    assert_eq!(
        (on_ssl.brokers[0].node_id, on_ssl.brokers[0].host.as_str(), on_ssl.brokers[0].port),
        (2, "b.example", 9393)
    );
    let on_plain = view.on_listener("PLAINTEXT");
    assert_eq!(on_plain.brokers.iter().map(|b| (b.node_id, b.port)).collect::<Vec<_>>(), vec![(1, 9092), (2, 9300)]);
    assert!(view.on_listener("INTERNAL").brokers.is_empty());
}

#[tokio::test]
async fn a_newer_incarnation_fences_the_older_one() {
    let s = setup().await;
    let old = s.join(Some(4)).await;
    let new = s.join(Some(4)).await;
    assert!(new.incarnation().generation > old.incarnation().generation);
    old.beat().await;
    assert!(old.is_fenced(), "the older incarnation's heartbeat is refused");
    new.beat().await;
    assert!(!new.is_fenced());
    assert_eq!(ids(&new), vec![4]);
}

#[tokio::test]
async fn an_agent_restarting_at_its_address_keeps_its_id() {
    let s = setup().await;
    let first = Membership::register(s.store.clone(), s.clock.clone(), config(None, 9500)).await.expect("register");
    let other = s.join(None).await;
    let again = Membership::register(s.store.clone(), s.clock.clone(), config(None, 9500)).await.expect("register");
    assert_eq!((first.node_id(), other.node_id(), again.node_id()), (0, 1, 0));
    first.beat().await;
    assert!(first.is_fenced());
    again.beat().await;
    let expected = vec![Some("127.0.0.1:10500".to_string()), Some("127.0.0.1:10092".to_string())];
    assert_eq!(endpoints(&again), expected, "peer endpoints come from the registry");
}

#[tokio::test]
async fn agents_that_stop_heartbeating_leave_the_view_after_the_session() {
    let s = setup().await;
    let a = s.join(None).await;
    let b = s.join(None).await;
    assert_eq!((a.node_id(), b.node_id()), (0, 1));
    a.beat().await;
    assert_eq!(ids(&a), vec![0, 1]);
    s.at(1400);
    a.beat().await;
    assert_eq!(ids(&a), vec![0, 1], "b's heartbeat at 1000 is within the 500 ms session");
    s.at(1501);
    a.beat().await;
    assert_eq!(ids(&a), vec![0], "b expired");
    b.beat().await;
    a.beat().await;
    assert_eq!(ids(&a), vec![0, 1], "b is back once it heartbeats again");
    b.deregister().await;
    a.beat().await;
    assert_eq!(ids(&a), vec![0], "a deregistered agent leaves at once");
}

/// Records shard changes.
#[derive(Default)]
struct Log(Mutex<Vec<(bool, u32)>>);

impl ShardListener for Log {
    fn shard_gained(&self, shard: u32) {
        self.0.lock().unwrap().push((true, shard));
    }
    fn shard_lost(&self, shard: u32) {
        self.0.lock().unwrap().push((false, shard));
    }
}

fn held(shards: &Shards) -> Vec<u32> {
    (0..SHARDS).filter(|s| shards.holds(*s)).collect()
}

#[tokio::test]
async fn leases_keep_disagreeing_views_from_sharing_a_shard() {
    let s = setup().await;
    let a = s.join(None).await;
    let log_a = Arc::new(Log::default());
    let shards_a = Shards::new(a.clone(), s.store.clone(), s.clock.clone(), log_a.clone());
    shards_a.renew().await;
    assert_eq!(held(&shards_a).len(), SHARDS as usize, "alone, a coordinates every shard");
    assert_eq!(log_a.0.lock().unwrap().len(), SHARDS as usize);

    // b joins and sees both agents; a has not yet seen b. b owns some shards by rendezvous but a holds
    // their leases, so b serves none of them.
    s.at(1100);
    let b = s.join(None).await;
    let shards_b = Shards::new(b.clone(), s.store.clone(), s.clock.clone(), Arc::new(()));
    b.beat().await;
    assert_eq!(ids(&b), vec![0, 1]);
    let owned_by_b: Vec<u32> = (0..SHARDS).filter(|sh| b.view().shard_owner(*sh) == Some(1)).collect();
    assert!(!owned_by_b.is_empty());
    shards_b.renew().await;
    assert!(held(&shards_b).is_empty(), "a's leases are unexpired");
    assert!(shards_a.holds(owned_by_b[0]));

    // a sees b and gives up b's shards at once; b takes them once a's leases have run out.
    a.beat().await;
    shards_a.renew().await;
    assert!(owned_by_b.iter().all(|sh| !shards_a.holds(*sh)));
    assert!(log_a.0.lock().unwrap().contains(&(false, owned_by_b[0])));
    s.at(1501);
    a.beat().await;
    b.beat().await;
    shards_a.renew().await;
    shards_b.renew().await;
    assert_eq!(held(&shards_b), owned_by_b);
    let mut both = held(&shards_a);
    both.extend(held(&shards_b));
    both.sort();
    assert_eq!(both, (0..SHARDS).collect::<Vec<_>>(), "every shard has exactly one coordinator");

    // a releases its shards at shutdown: b, alone, takes them without waiting for the leases to expire.
    shards_a.release_all().await;
    a.deregister().await;
    s.at(1600);
    b.beat().await;
    shards_b.renew().await;
    assert_eq!(held(&shards_b).len(), SHARDS as usize);
}
