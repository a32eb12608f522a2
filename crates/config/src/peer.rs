//! Where the peer listener (object reads shared by the agents of a zone) listens: by default on the Kafka
//! listener's host with a free port, so agents started side by side share reads with no extra flag.

use crate::AgentConfig;
use std::net::SocketAddr;

/// The `--peer-listen` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerListen {
    /// The host of `--listen`, a free port.
    #[default]
    Auto,
    /// No peer listener: this agent owns no objects (it still reads from the agents that do).
    Off,
    At(SocketAddr),
}

impl AgentConfig {
    /// The address the peer listener binds, `None` when it is off.
    pub fn peer_listen_addr(&self) -> Option<SocketAddr> {
        match self.peer_listen {
            PeerListen::Auto => Some(SocketAddr::new(self.listen.ip(), 0)),
            PeerListen::Off => None,
            PeerListen::At(addr) => Some(addr),
        }
    }
}
