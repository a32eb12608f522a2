//! Connections to the cluster's brokers: the bootstrap connection, the metadata it returned, and one
//! connection per broker opened on first use (partition leaders for offsets and fetches, group coordinators).

use anyhow::{Result, bail};
use kafka_protocol::messages::{FindCoordinatorRequest, MetadataResponse};
use std::collections::HashMap;
use weft_admin::{ConnArgs, Wire, error_text, str_bytes};

/// Most broker connections held at once; a larger cluster reuses the bootstrap connection for the rest
/// (its requests then fail with NOT_LEADER and those partitions go unsampled).
const MAX_CONNECTIONS: usize = 64;

pub struct Brokers {
    bootstrap: Wire,
    pub metadata: MetadataResponse,
    conns: HashMap<i32, Wire>,
}

/// A topic partition and its leader, from the metadata.
#[derive(Debug, Clone)]
pub struct Placement {
    pub topic: String,
    pub partition: i32,
    pub leader: i32,
}

impl Brokers {
    pub async fn connect(conn: &ConnArgs) -> Result<Brokers> {
        let mut bootstrap = Wire::connect(conn).await?;
        let metadata = bootstrap.metadata(None).await?;
        Ok(Brokers { bootstrap, metadata, conns: HashMap::new() })
    }

    /// Every partition of the topics to observe: all non-internal topics, or `only` when given; at most
    /// `max_partitions` partitions in all (topics in name order).
    pub fn placements(&self, only: &[String], max_partitions: usize) -> Vec<Placement> {
        let mut topics: Vec<_> = self
            .metadata
            .topics
            .iter()
            .filter(|t| t.error_code == 0 && !t.is_internal)
            .filter_map(|t| t.name.as_ref().map(|n| (n.as_str().to_string(), t)))
            .filter(|(n, _)| if only.is_empty() { !n.starts_with("__") } else { only.contains(n) })
            .collect();
        topics.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (name, t) in topics {
            let mut ps: Vec<_> = t.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect();
            ps.sort_unstable();
            for (partition, leader) in ps {
                if out.len() >= max_partitions {
                    return out;
                }
                out.push(Placement { topic: name.clone(), partition, leader });
            }
        }
        out
    }

    pub fn broker_ids(&self) -> Vec<i32> {
        self.metadata.brokers.iter().map(|b| b.node_id.0).collect()
    }

    /// The connection to broker `node`, opened on first use; the bootstrap connection when the node is not in
    /// the metadata or too many are open.
    pub async fn node(&mut self, node: i32) -> Result<&mut Wire> {
        if !self.conns.contains_key(&node)
            && self.conns.len() < MAX_CONNECTIONS
            && let Some(w) = self.bootstrap.open_node(node, &self.metadata).await?
        {
            self.conns.insert(node, w);
        }
        Ok(match self.conns.get_mut(&node) {
            Some(w) => w,
            None => &mut self.bootstrap,
        })
    }

    /// The connection to `group`'s coordinator.
    pub async fn coordinator(&mut self, group: &str) -> Result<&mut Wire> {
        let req = FindCoordinatorRequest::default().with_key(str_bytes(group)).with_key_type(0);
        let (resp, _) = self.bootstrap.call(3, &req).await?;
        if let Some(e) = error_text(resp.error_code, resp.error_message.as_ref()) {
            bail!("cannot find the coordinator of group {group}: {e}");
        }
        self.node(resp.node_id.0).await
    }
}
