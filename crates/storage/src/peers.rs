//! Reading objects from the agents of this zone before the bucket: the narrow interface the read cache is
//! given ([`ObjectPeers`]: who owns an object, and how to read it from that owner) and the one attempt at a
//! peer read ([`read_from`]), which never fails a read: any failure is counted and the caller reads the store.
//!
//! Why here and not in the cluster crate: storage decides when a miss may go to a peer and what to do when
//! the peer fails, but must not know how agents find each other. The agent implements [`ObjectPeers`] from
//! its membership view (rendezvous over the live agents of its zone) and an HTTP client.

use async_trait::async_trait;
use bytes::Bytes;
use std::ops::Range;
use std::time::Duration;

/// An agent of this zone that reads an object from the store for the zone and serves it to the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    pub node_id: i32,
    /// Where it serves objects (`HOST:PORT`).
    pub endpoint: String,
}

/// Why a read through a peer was given up for the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerFailure {
    #[error("peer refused the connection or could not be reached: {0}")]
    Unreachable(String),
    #[error("peer read timed out")]
    Timeout,
    #[error("peer answered status {0}")]
    Status(u16),
    #[error("peer sent {got} bytes where {expected} were expected")]
    Length { expected: u64, got: u64 },
    #[error("peer recently failed; not asked")]
    CoolingDown,
    #[error("peer read failed: {0}")]
    Other(String),
}

impl PeerFailure {
    /// The metric label of this failure (a bounded set).
    pub fn reason(&self) -> &'static str {
        match self {
            PeerFailure::Unreachable(_) => "unreachable",
            PeerFailure::Timeout => "timeout",
            PeerFailure::Status(_) => "status",
            PeerFailure::Length { .. } => "length",
            PeerFailure::CoolingDown => "cooling_down",
            PeerFailure::Other(_) => "error",
        }
    }
}

/// Who reads each object from the store for this agent's zone, and how to read it from them.
#[async_trait]
pub trait ObjectPeers: Send + Sync + std::fmt::Debug {
    /// The agent that owns `key` when it is another agent; `None` when this agent owns it or no agent
    /// does (then this agent reads the store itself).
    fn owner(&self, key: &str) -> Option<Peer>;

    /// Reads `key` (all of it, or `range`) from `peer`, which answers from its cache or reads the store once.
    async fn read(&self, peer: &Peer, key: &str, range: Option<Range<u64>>) -> Result<Bytes, PeerFailure>;

    /// How long a peer read may take before the store is read instead.
    fn timeout(&self) -> Duration;
}

/// One read of `key` (or `range` of it) from `peer`, bounded by the peers' timeout and checked for length.
/// `None` on any failure (counted with its reason): the caller then reads the store.
pub(crate) async fn read_from(
    peers: &dyn ObjectPeers,
    peer: &Peer,
    key: &str,
    range: Option<&Range<u64>>,
) -> Option<Bytes> {
    let attempt = tokio::time::timeout(peers.timeout(), peers.read(peer, key, range.cloned())).await;
    let failure = match attempt {
        Ok(Ok(data)) => match range.map(|r| r.end.saturating_sub(r.start)) {
            Some(expected) if expected != data.len() as u64 => PeerFailure::Length { expected, got: data.len() as u64 },
            _ => {
                metrics::counter!("weft_peer_reads_total", "result" => "peer").increment(1);
                metrics::counter!("weft_peer_read_bytes_total").increment(data.len() as u64);
                return Some(data);
            }
        },
        Ok(Err(failure)) => failure,
        Err(_) => PeerFailure::Timeout,
    };
    metrics::counter!("weft_peer_reads_total", "result" => "fallback", "reason" => failure.reason()).increment(1);
    tracing::debug!(peer = peer.node_id, endpoint = %peer.endpoint, key, error = %failure, "peer read failed; reading the store");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SegmentCache;
    use crate::keys;
    use crate::read::ReadCache;
    use crate::testing::{Recorded, Scripted};
    use object_store::{ObjectStoreExt, PutPayload};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Weak};

    /// How the fake peer answers.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Answer {
        /// From the other agent's cache (over the same store).
        Serve,
        Fail,
        Hang,
        Truncate,
    }

    /// Agents "a" and "b" of one zone; the fake owns every key whose owner is set, and answers as told.
    #[derive(Debug)]
    struct FakePeers {
        owner: Mutex<Option<Peer>>,
        answer: Mutex<Answer>,
        /// The owner's cache, which serves the reads.
        remote: Mutex<Weak<ReadCache>>,
        asked: AtomicU32,
    }

    #[async_trait]
    impl ObjectPeers for FakePeers {
        fn owner(&self, _key: &str) -> Option<Peer> {
            self.owner.lock().unwrap().clone()
        }
        async fn read(&self, _peer: &Peer, key: &str, range: Option<Range<u64>>) -> Result<Bytes, PeerFailure> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let answer = *self.answer.lock().unwrap();
            let remote = self.remote.lock().unwrap().upgrade().expect("remote");
            match answer {
                Answer::Fail => Err(PeerFailure::Unreachable("connection refused".into())),
                Answer::Hang => std::future::pending().await,
                Answer::Serve => remote.get_local(key, range).await.map_err(|e| PeerFailure::Other(e.to_string())),
                Answer::Truncate => {
                    let data = remote.get_local(key, range).await.map_err(|e| PeerFailure::Other(e.to_string()))?;
                    Ok(data.slice(..data.len() - 1))
                }
            }
        }
        fn timeout(&self) -> Duration {
            Duration::from_millis(100)
        }
    }

    struct Zone {
        store: Arc<Scripted>,
        /// This agent, reading through the fake peer.
        local: Arc<ReadCache>,
        /// The owner, reading the store.
        remote: Arc<ReadCache>,
        peers: Arc<FakePeers>,
    }

    async fn zone(answer: Answer) -> Zone {
        let store = Arc::new(Scripted::default());
        store.put(&keys::to_path("k"), PutPayload::from_static(b"hello world")).await.unwrap();
        let peer = Peer { node_id: 2, endpoint: "10.0.0.2:9095".into() };
        let peers = Arc::new(FakePeers {
            owner: Mutex::new(Some(peer)),
            answer: Mutex::new(answer),
            remote: Mutex::new(Weak::new()),
            asked: AtomicU32::new(0),
        });
        let remote = Arc::new(ReadCache::new(store.clone(), Arc::new(SegmentCache::new(1 << 20))));
        *peers.remote.lock().unwrap() = Arc::downgrade(&remote);
        let local = ReadCache::new(store.clone(), Arc::new(SegmentCache::new(1 << 20)));
        let local = Arc::new(local.with_peers(Some(peers.clone() as Arc<dyn ObjectPeers>)));
        Zone { store, local, remote, peers }
    }

    impl Zone {
        fn gets(&self) -> u32 {
            self.store.gets.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_miss_the_owner_serves_reads_the_store_once_for_the_zone() {
        let z = zone(Answer::Serve).await;
        assert_eq!(&z.local.get_range("k", 6..11, true).await.unwrap()[..], b"world");
        assert_eq!(z.gets(), 1, "the owner read the store");
        assert!(z.remote.segments().get("k").is_some(), "and cached the whole object");
        assert_eq!(&z.local.get_range("k", 0..5, true).await.unwrap()[..], b"hello", "cached here too");
        assert_eq!(z.peers.asked.load(Ordering::SeqCst), 1);
        // A ranged read without the hint is one ranged GET at the owner, not cached.
        let other = zone(Answer::Serve).await;
        assert_eq!(&other.local.get_range("k", 2..4, false).await.unwrap()[..], b"ll");
        assert_eq!((other.gets(), other.local.segments().size_bytes()), (1, 0));
        assert!(other.remote.segments().get("k").is_none());
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_peer_read() {
        let z = zone(Answer::Serve).await;
        z.store.get_delay_ms.store(50, Ordering::SeqCst);
        let reads = (0..8).map(|_| z.local.get_range("k", 0..5, true));
        for result in futures::future::join_all(reads).await {
            assert_eq!(&result.unwrap()[..], b"hello");
        }
        assert_eq!((z.peers.asked.load(Ordering::SeqCst), z.gets()), (1, 1));
    }

    #[tokio::test]
    async fn no_owner_or_this_agent_owning_reads_the_store() {
        let z = zone(Answer::Serve).await;
        *z.peers.owner.lock().unwrap() = None;
        assert_eq!(&z.local.get("k").await.unwrap()[..], b"hello world");
        assert_eq!((z.peers.asked.load(Ordering::SeqCst), z.gets()), (0, 1));
    }

    #[tokio::test]
    async fn every_peer_failure_falls_back_to_the_store() {
        for answer in [Answer::Fail, Answer::Hang, Answer::Truncate] {
            let z = zone(answer).await;
            assert_eq!(&z.local.get_range("k", 6..11, false).await.unwrap()[..], b"world", "{answer:?}");
            assert_eq!(&z.local.get_range("k", 0..11, true).await.unwrap()[..], b"hello world", "{answer:?}");
            assert_eq!(z.peers.asked.load(Ordering::SeqCst), 2, "{answer:?}");
            assert!(z.local.segments().get("k").is_some(), "{answer:?}: what was read is cached");
        }
    }

    #[tokio::test]
    async fn reads_for_peers_never_go_to_a_peer() {
        // The views differ: this agent thinks the other owns the key, and is asked for it by the other.
        let z = zone(Answer::Fail).await;
        assert_eq!(&z.local.get_local("k", None).await.unwrap()[..], b"hello world");
        assert_eq!(&z.local.get_local("k", Some(0..5)).await.unwrap()[..], b"hello", "from the cached object");
        assert_eq!((z.peers.asked.load(Ordering::SeqCst), z.gets()), (0, 1));
        assert!(matches!(z.local.get_local("k", Some(5..40)).await, Err(crate::StorageError::BadRange { .. })));
    }

    #[test]
    fn peer_reads_are_counted_by_result_and_reason() {
        let recorded = Recorded::default();
        recorded.run(async {
            let z = zone(Answer::Serve).await;
            z.local.get("k").await.unwrap();
            let z = zone(Answer::Fail).await;
            z.local.get("k").await.unwrap();
        });
        assert_eq!(recorded.get("weft_peer_reads_total{result=peer}"), 1);
        assert_eq!(recorded.get("weft_peer_read_bytes_total{}"), 11);
        assert_eq!(recorded.get("weft_peer_reads_total{result=fallback,reason=unreachable}"), 1);
    }
}
