//! Where the peer listener (object reads shared by the agents of a zone) listens: by default on the Kafka
//! listener's host with a free port, so agents started side by side share reads with no extra flag.

use crate::AgentConfig;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The `--peer-listen` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerListen {
    /// The Kafka listener's host (the first of `--listeners`, else `--listen`), a free port.
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
            PeerListen::Auto => Some(SocketAddr::new(self.kafka_listen_ip(), 0)),
            PeerListen::Off => None,
            PeerListen::At(addr) => Some(addr),
        }
    }

    /// The address the Kafka listener binds: the first of `--listeners` when given (every interface for an
    /// empty host; `--listen`'s address for a host name), else `--listen`'s.
    fn kafka_listen_ip(&self) -> IpAddr {
        let first = self.listeners.as_ref().and_then(|_| self.kafka_listeners().ok()?.into_iter().next());
        match first {
            Some(spec) if spec.host.is_empty() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(spec) => spec.host.trim_matches(['[', ']']).parse().unwrap_or(self.listen.ip()),
            None => self.listen.ip(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(listeners: Option<&str>) -> Option<SocketAddr> {
        let mut config = AgentConfig::with_data_dir("/tmp/unused");
        config.listeners = listeners.map(str::to_string);
        config.peer_listen_addr()
    }

    #[test]
    fn auto_follows_the_kafka_listeners_host() {
        assert_eq!(auto(None), Some("127.0.0.1:0".parse().unwrap()), "--listen's host");
        assert_eq!(auto(Some("SASL_SSL://10.1.2.3:9093")), Some("10.1.2.3:0".parse().unwrap()));
        assert_eq!(auto(Some("PLAINTEXT://:9092,SSL://:9093")), Some("0.0.0.0:0".parse().unwrap()));
        assert_eq!(auto(Some("PLAINTEXT://[::1]:9092")), Some("[::1]:0".parse().unwrap()));
        assert_eq!(auto(Some("PLAINTEXT://broker-1.example:9092")), Some("127.0.0.1:0".parse().unwrap()));
    }
}
