//! Which agent of this zone owns an object, from this agent's membership view, and the read from it: the
//! read cache's [`ObjectPeers`].

use crate::client::PeerClient;
use async_trait::async_trait;
use bytes::Bytes;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use weft_cluster::Membership;
use weft_storage::{ObjectPeers, Peer, PeerFailure, keys};

/// The live agents of this agent's zone that serve peers, as its membership view lists them.
pub struct ZonePeers {
    membership: Arc<Membership>,
    client: PeerClient,
}

impl std::fmt::Debug for ZonePeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let zone = &self.membership.config().zone;
        f.debug_struct("ZonePeers").field("node_id", &self.membership.node_id()).field("zone", zone).finish()
    }
}

impl ZonePeers {
    pub fn new(membership: Arc<Membership>, client: PeerClient) -> Self {
        ZonePeers { membership, client }
    }
}

#[async_trait]
impl ObjectPeers for ZonePeers {
    /// Rendezvous over the zone's live agents with a peer endpoint; `None` for this agent, for a zone with no
    /// such agent, and for keys that are not data objects (only those are served).
    fn owner(&self, key: &str) -> Option<Peer> {
        if !keys::is_data_key(key) {
            return None;
        }
        let view = self.membership.view();
        let owner = view.object_owner(&self.membership.config().zone, key)?;
        if owner.node_id == self.membership.node_id() {
            return None;
        }
        Some(Peer { node_id: owner.node_id, endpoint: owner.peer_endpoint.clone()? })
    }

    async fn read(&self, peer: &Peer, key: &str, range: Option<Range<u64>>) -> Result<Bytes, PeerFailure> {
        self.client.read(peer, key, range).await
    }

    fn timeout(&self) -> Duration {
        self.client.timeout()
    }
}
